"""Generators in the file format of the LA-GNN code (Liu et al.'s repository,
SongtaoLiu0823/LAGNN), which saves its whole ``cvae_models.VAE`` module with
``torch.save`` (its shipped ``Citation/model/cora.pkl``, ``OGB/model/arxiv.pkl``):
read them into glt's :class:`~glt.models.lagnn.CVAE`, and write glt's generators
so that the LA-GNN code loads them.

Reading never runs code from the file: glt's safe reader takes it, with the
code's three classes and torch's linear, batch-norm, activation and container
layers read as records of their state, and tensors built by glt.
"""
from __future__ import annotations

import os
import sys
import types
from collections import OrderedDict

import torch
from torch import nn

from glt._unpickle import CONTAINERS, TORCH_TENSORS, Record, read_torch_file, records
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


_LAYERS = ("torch.nn.modules.linear.Linear", "torch.nn.modules.batchnorm.BatchNorm1d",
           "torch.nn.modules.activation.ReLU", "torch.nn.modules.activation.Sigmoid",
           "torch.nn.modules.activation.Tanh", "torch.nn.modules.container.Sequential")
_FILE_TYPES = {**TORCH_TENSORS, **CONTAINERS,
               **records(*(f"{_MODULE}.{c}" for c in _CLASSES), *_LAYERS)}


def _module_state(module: Record, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict of a pickled ``nn.Module`` read as a record: its parameters
    and persistent buffers, then its children's, under dotted names."""
    attrs = module.state if isinstance(module.state, dict) else {}
    skip = attrs.get("_non_persistent_buffers_set") or set()
    state = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (attrs.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
            state[prefix + name] = value.detach()
    for name, child in (attrs.get("_modules") or {}).items():
        if not isinstance(child, Record):
            raise TypeError(f"{prefix}{name} is a {type(child).__name__}, not a layer")
        state.update(_module_state(child, f"{prefix}{name}."))
    return state


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
    try:
        module = read_torch_file(path, _FILE_TYPES)
    except ValueError as err:
        raise ValueError(f"{path} is not a generator saved by the LA-GNN code (its whole "
                         f"{_MODULE}.VAE module): {err}") from err
    if not (isinstance(module, Record) and module.cls == f"{_MODULE}.VAE"):
        found = module.cls if isinstance(module, Record) else type(module).__name__
        raise ValueError(f"{path} holds a {found}, not the LA-GNN code's {_MODULE}.VAE")
    try:
        state = {k: v.to(map_location) for k, v in _module_state(module).items()}
    except (RecursionError, TypeError) as err:
        raise ValueError(f"{path}: the VAE's modules are not nested layers ({err})") from err
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
