import pytest
import torch

from glt.ops import _csr

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture(params=["kernels", "portable"])
def code_path(request, monkeypatch) -> str:
    """Run a test on glt's fast CPU kernels and on the portable torch path
    (the one CUDA and other dtypes take)."""
    if request.param == "portable":
        monkeypatch.setattr(_csr, "USE_SPARSE_KERNELS", False)
        monkeypatch.setattr(_csr, "USE_NUMBA", False)
    return request.param


def pytest_collection_modifyitems(config, items):
    """Mark CUDA-parametrised tests so ``-m 'not cuda'`` can skip them."""
    for item in items:
        if "cuda" in item.name:
            item.add_marker(pytest.mark.cuda)
