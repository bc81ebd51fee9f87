import pytest
import torch

from glt.ops import get_backend, has_torch_scatter, scatter, set_backend, use_backend
from glt.ops import backend as backend_module


def test_default_is_torch_and_unknown_name_is_rejected():
    assert get_backend() == "torch"
    with pytest.raises(ValueError, match="expected backend to be one of"):
        set_backend("cupy")


def test_missing_torch_scatter_gives_install_hint(monkeypatch):
    def fail(name):
        raise ImportError(name)
    monkeypatch.setattr(backend_module.importlib, "import_module", fail)
    assert not has_torch_scatter()
    with pytest.raises(ImportError, match="pip install --no-build-isolation torch-scatter"):
        set_backend("torch_scatter")
    assert get_backend() == "torch"


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_backends_agree_with_gradients(reduce):
    pytest.importorskip("torch_scatter")
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(80, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    index = torch.randint(0, 15, (80,), generator=gen)
    ours = scatter(src, index, 20, reduce)
    (g1,) = torch.autograd.grad(ours.pow(2).sum(), src)
    with use_backend("torch_scatter"):
        assert get_backend() == "torch_scatter"
        theirs = scatter(src, index, 20, reduce)
        (g2,) = torch.autograd.grad(theirs.pow(2).sum(), src)
    assert get_backend() == "torch"
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(g1, g2)
