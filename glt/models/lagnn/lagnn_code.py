"""Generators in the file format of the LA-GNN code (Liu et al.'s repository,
SongtaoLiu0823/LAGNN), which saves its whole ``cvae_models.VAE`` module with
``torch.save`` (its shipped ``Citation/model/cora.pkl``, ``OGB/model/arxiv.pkl``):
read them into glt's :class:`~glt.models.lagnn.CVAE`, and write glt's generators
so that the LA-GNN code loads them.

Reading never runs code from the file: torch's weights-only unpickler takes
the file, with the code's three classes replaced by empty modules and only
torch's linear, batch-norm, activation and container layers allowed besides.
"""
from __future__ import annotations

import os
import pickle
import sys
import types
from collections import OrderedDict

import torch
from torch import nn

from glt.models.lagnn.cvae import CVAE

_MODULE = "cvae_models"
_CLASSES = ("VAE", "Encoder", "Decoder")
# glt's layer names -> the LA-GNN code's, per variant (the OGB model adds batch norms)
_NAMES = {
    "planetoid": {"encoder.0": "encoder.MLP.L0", "to_mu": "encoder.linear_means",
                  "to_logvar": "encoder.linear_log_var", "decoder.0.0": "decoder.MLP.L0",
                  "decoder.1": "decoder.MLP.L1"},
}
_NAMES["ogb"] = dict(_NAMES["planetoid"], **{"encoder.1": "encoder.MLP.B0",
                                             "decoder.0.1": "decoder.MLP.B0",
                                             "decoder.2": "decoder.MLP.B1"})


def _classes() -> dict[str, type]:
    """Empty ``nn.Module`` classes standing for ``cvae_models.VAE`` and its parts."""
    return {name: type(name, (nn.Module,), {"__module__": _MODULE, "__qualname__": name})
            for name in _CLASSES}


def _their_key(key: str, variant: str) -> str:
    """The LA-GNN code's state-dict key of glt's ``key`` (``decoder.1.weight`` ->
    ``decoder.MLP.L1.weight``)."""
    layer, leaf = key.rsplit(".", 1)
    return f"{_NAMES[variant][layer]}.{leaf}"


def read_lagnn_code_generator(path: str, map_location: str = "cpu") -> CVAE:
    """The generator in ``path``, saved by the LA-GNN code, as glt's :class:`CVAE`
    (its Planetoid or OGB variant, sizes read from the weights)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no generator file at {path}")
    classes = _classes()
    allowed = [(cls, f"{_MODULE}.{name}") for name, cls in classes.items()]
    allowed += [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Sequential]
    try:
        with torch.serialization.safe_globals(allowed):
            module = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(f"{path} is not a generator saved by the LA-GNN code (its whole "
                         f"{_MODULE}.VAE module): {err}") from err
    if not isinstance(module, classes["VAE"]):
        raise ValueError(f"{path} holds a {type(module).__name__}, not the LA-GNN code's "
                         f"{_MODULE}.VAE")
    state = module.state_dict()
    variant = "ogb" if "encoder.MLP.B0.weight" in state else "planetoid"
    try:
        num_features = state["decoder.MLP.L1.weight"].size(0)
        hidden, width = state["encoder.MLP.L0.weight"].shape
        latent = state["encoder.linear_means.weight"].size(0)
    except KeyError as err:
        raise ValueError(f"{path}: the VAE lacks the LA-GNN code's layer {err}") from err
    if width != 2 * num_features:
        raise ValueError(f"{path}: the encoder takes {width} inputs, not 2 x {num_features} "
                         "(a neighbour and its centre): not a conditional VAE")
    cvae = CVAE(num_features, hidden, latent, variant)
    keys = {key: _their_key(key, variant) for key in cvae.state_dict()}
    if set(keys.values()) != set(state):
        raise ValueError(f"{path}: the VAE's layers differ from the LA-GNN code's {variant} "
                         f"generator: missing {sorted(set(keys.values()) - set(state))}, "
                         f"unexpected {sorted(set(state) - set(keys.values()))}")
    cvae.load_state_dict({key: state[theirs] for key, theirs in keys.items()})
    return cvae


def write_lagnn_code_generator(cvae: CVAE, path: str) -> None:
    """Save ``cvae`` as the LA-GNN code saves its generators (a whole
    ``cvae_models.VAE``), for its scripts' ``torch.load`` (atomically)."""
    classes = _classes()
    ogb = cvae.variant == "ogb"
    f, hidden, latent = cvae.num_features, cvae.hidden, cvae.latent

    def part(kind: str, layers: list[tuple[str, nn.Module]]) -> nn.Module:
        module = classes[kind]()
        module.conditional = True
        module.MLP = nn.Sequential(OrderedDict(layers))
        return module

    def norm(name: str, size: int) -> list[tuple[str, nn.Module]]:
        return [(name, nn.BatchNorm1d(size))] if ogb else []
    encoder = part("Encoder", [("L0", nn.Linear(2 * f, hidden)), *norm("B0", hidden),
                               ("A0", nn.ReLU())])
    encoder.linear_means = nn.Linear(hidden, latent)
    encoder.linear_log_var = nn.Linear(hidden, latent)
    last = ("tanh", nn.Tanh()) if ogb else ("sigmoid", nn.Sigmoid())
    decoder = part("Decoder", [("L0", nn.Linear(latent + f, hidden)), *norm("B0", hidden),
                               ("A0", nn.ReLU()), ("L1", nn.Linear(hidden, f)),
                               *norm("B1", f), last])
    vae = classes["VAE"]()
    vae.latent_size, vae.encoder, vae.decoder = latent, encoder, decoder
    vae.load_state_dict({_their_key(k, cvae.variant): v for k, v in cvae.state_dict().items()})
    vae.train(cvae.training)
    home = types.ModuleType(_MODULE)  # pickle records classes by a module it can import
    for name, cls in classes.items():
        setattr(home, name, cls)
    before = sys.modules.get(_MODULE)
    sys.modules[_MODULE] = home
    try:
        tmp = path + ".tmp"
        torch.save(vae, tmp)
        os.replace(tmp, path)
    finally:
        if before is None:
            del sys.modules[_MODULE]
        else:
            sys.modules[_MODULE] = before
