"""Generators in the LA-GNN code's file format: a whole ``cvae_models.VAE`` module
saved with ``torch.save``. The tests build that module the way the code does
(its layer names, ``conditional`` flags and ``latent_size``) in a stand-in
``cvae_models`` with the code's ``inference``."""
import sys
import types

import pytest
import torch
from torch import nn

from glt.models.lagnn import CVAE, read_lagnn_code_generator, write_lagnn_code_generator


def code_module() -> types.ModuleType:
    """A stand-in for the LA-GNN code's ``cvae_models``: ``VAE(F, latent, hidden,
    ogb)`` with its encoder and decoder MLPs and ``inference(z, c)``."""
    home = types.ModuleType("cvae_models")

    class Encoder(nn.Module):
        def __init__(self, f, latent, hidden, ogb):
            super().__init__()
            self.conditional = True
            self.MLP = nn.Sequential()
            self.MLP.add_module("L0", nn.Linear(2 * f, hidden))
            if ogb:
                self.MLP.add_module("B0", nn.BatchNorm1d(hidden))
            self.MLP.add_module("A0", nn.ReLU())
            self.linear_means = nn.Linear(hidden, latent)
            self.linear_log_var = nn.Linear(hidden, latent)

    class Decoder(nn.Module):
        def __init__(self, f, latent, hidden, ogb):
            super().__init__()
            self.conditional = True
            self.MLP = nn.Sequential()
            self.MLP.add_module("L0", nn.Linear(latent + f, hidden))
            if ogb:
                self.MLP.add_module("B0", nn.BatchNorm1d(hidden))
            self.MLP.add_module("A0", nn.ReLU())
            self.MLP.add_module("L1", nn.Linear(hidden, f))
            if ogb:
                self.MLP.add_module("B1", nn.BatchNorm1d(f))
            self.MLP.add_module("tanh" if ogb else "sigmoid", nn.Tanh() if ogb else nn.Sigmoid())

        def forward(self, z, c):
            return self.MLP(torch.cat((z, c), dim=-1) if self.conditional else z)

    class VAE(nn.Module):
        def __init__(self, f, latent=10, hidden=256, ogb=False):
            super().__init__()
            self.latent_size = latent
            self.encoder = Encoder(f, latent, hidden, ogb)
            self.decoder = Decoder(f, latent, hidden, ogb)

        def inference(self, z, c=None):
            return self.decoder(z, c)

    for cls in (Encoder, Decoder, VAE):
        cls.__module__, cls.__qualname__ = "cvae_models", cls.__name__
        setattr(home, cls.__name__, cls)
    return home


@pytest.fixture
def code(monkeypatch) -> types.ModuleType:
    home = code_module()
    monkeypatch.setitem(sys.modules, "cvae_models", home)
    return home


def randomise_norms(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm1d):
            layer.running_mean.uniform_(-1, 1)
            layer.running_var.uniform_(0.5, 2)


@pytest.mark.parametrize("ogb", [False, True])
def test_reads_the_codes_generator(tmp_path, code, ogb):
    torch.manual_seed(0)
    theirs = code.VAE(6, latent=3, hidden=8, ogb=ogb).eval()
    randomise_norms(theirs)
    path = str(tmp_path / "cora.pkl")
    torch.save(theirs, path)
    ours = read_lagnn_code_generator(path)
    assert (ours.variant, ours.num_features, ours.hidden, ours.latent) == \
        ("ogb" if ogb else "planetoid", 6, 8, 3)
    z, c = torch.randn(5, 3), torch.rand(5, 6)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval().decode(z, c), theirs.inference(z, c))


@pytest.mark.parametrize("variant", ["planetoid", "ogb"])
def test_written_generators_load_in_the_code_and_back(tmp_path, code, variant):
    torch.manual_seed(1)
    ours = CVAE(6, hidden=8, latent=3, variant=variant).eval()
    randomise_norms(ours)
    path = str(tmp_path / "gen.pkl")
    write_lagnn_code_generator(ours, path)
    assert sys.modules["cvae_models"] is code  # the caller's module is left in place
    theirs = torch.load(path, weights_only=False)  # as the code loads it, with its classes
    assert isinstance(theirs, code.VAE) and theirs.latent_size == 3
    z, c = torch.randn(5, 3), torch.rand(5, 6)
    with torch.no_grad():
        torch.testing.assert_close(theirs.inference(z, c), ours.decode(z, c))
    back = read_lagnn_code_generator(path)
    for (key, a), b in zip(ours.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), key


def test_writing_leaves_no_module_behind(tmp_path):
    assert "cvae_models" not in sys.modules
    write_lagnn_code_generator(CVAE(4, hidden=4, latent=2), str(tmp_path / "g.pkl"))
    assert "cvae_models" not in sys.modules


def test_other_files_are_named(tmp_path, code):
    with pytest.raises(FileNotFoundError, match="no generator file"):
        read_lagnn_code_generator(str(tmp_path / "missing.pkl"))
    glt_file = str(tmp_path / "glt.pt")
    CVAE(4, hidden=4, latent=2).save(glt_file)
    with pytest.raises(ValueError, match="holds a dict, not the LA-GNN code's cvae_models.VAE"):
        read_lagnn_code_generator(glt_file)
    other = str(tmp_path / "other.pkl")
    torch.save(nn.Sequential(nn.Linear(2, 2), nn.Dropout()), other)
    with pytest.raises(ValueError, match="not a generator saved by the LA-GNN code"):
        read_lagnn_code_generator(other)
    plain = code.VAE(4, latent=2, hidden=4)
    plain.encoder.MLP.L0 = nn.Linear(4, 4)  # an unconditional encoder
    path = str(tmp_path / "plain.pkl")
    torch.save(plain, path)
    with pytest.raises(ValueError, match="not a conditional VAE"):
        read_lagnn_code_generator(path)
    extra = code.VAE(4, latent=2, hidden=4)
    extra.decoder.MLP.add_module("L2", nn.Linear(4, 4))
    torch.save(extra, path)
    with pytest.raises(ValueError, match=r"unexpected \['decoder.MLP.L2.bias'"):
        read_lagnn_code_generator(path)
