import pytest
import torch

from glt.ops import _csr

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture(params=["numba", "torch_sparse", "portable"])
def code_path(request, monkeypatch) -> str:
    """Run a test on each implementation behind the ops: glt's Numba CPU
    kernels, torch.sparse CSR products (the CUDA sum path) and the portable
    gather/scatter path (other dtypes and devices)."""
    if request.param != "numba":
        monkeypatch.setattr(_csr, "USE_NUMBA", False)
    if request.param == "portable":
        monkeypatch.setattr(_csr, "USE_SPARSE_KERNELS", False)
    return request.param


def pytest_collection_modifyitems(config, items):
    """Mark CUDA-parametrised tests so ``-m 'not cuda'`` can skip them."""
    for item in items:
        if "cuda" in item.name:
            item.add_marker(pytest.mark.cuda)


@pytest.fixture(scope="session")
def shared_data() -> str:
    """The shared folder of real data sets (``$GLT_SHARED_DATA`` or ``../shared/data``
    beside the repository); tests that need it skip where it is absent."""
    import os
    path = os.environ.get("GLT_SHARED_DATA") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
    if not os.path.isdir(path):
        pytest.skip(f"no shared data folder at {path}")
    return path


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """A small Planetoid-format set (520 + 12 nodes, raw binary features), written
    and read back by glt's Planetoid reader."""
    from glt.datasets.planetoid import read_planetoid
    from glt.datasets.testing import write_planetoid
    raw = str(tmp_path_factory.mktemp("planetoid"))
    write_planetoid(raw, "toy", num_allx=520, num_test=12)
    return read_planetoid(raw, "toy")
