"""Training checkpoints: weights, optimiser, random streams and loop state in one
file, written atomically, refused when they belong to another run.

A run's identity (:func:`run_identity`) is the model class, a fingerprint of
the data actually trained and evaluated on (:func:`data_fingerprint`) and every
setting that changes the computation. The settings in :data:`RESUMABLE` may
change between a run and its resumption: they say how long to train and how
often to look, where to run and where to write, not what is computed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any, Callable, Iterator, Mapping, Optional

import torch
from torch import Tensor, nn

from glt._unpickle import load_weights

log = logging.getLogger(__name__)

RESUMABLE = frozenset({"epochs", "eval_every", "eval_every_after", "patience", "eval_chunk",
                       "eval_batch_size", "runs", "device", "out", "quiet", "checkpoint",
                       "progress"})
"""Settings a resumed run may change: more epochs, another evaluation cadence or
patience, another device, output or checkpoint path."""

ADDED: dict[str, Any] = {"symmetric": False}
"""Settings added after checkpoints were written without them, with the value
that computes what those runs computed: a checkpoint that lacks one was run
with that value."""


_BLOCK = 1 << 24
"""Elements of a sparse matrix densified at a time for its fingerprint."""


def _dense_blocks(a: Tensor) -> Iterator[Tensor]:
    """A sparse tensor (COO or CSR) as dense blocks, in row-major order: a matrix
    ``[N, F]`` in blocks of rows, so that its dense form is never whole."""
    if a.dim() != 2:
        yield a.to_dense()
        return
    csr = a if a.layout == torch.sparse_csr else a.to_sparse_csr()
    crow, col, val = csr.crow_indices(), csr.col_indices(), csr.values()
    rows = max(1, _BLOCK // max(1, a.size(1)))
    for start in range(0, a.size(0), rows):
        end = min(start + rows, a.size(0))
        lo, hi = int(crow[start]), int(crow[end])
        row = torch.repeat_interleave(torch.arange(end - start), crow[start:end + 1].diff())
        block = torch.zeros(end - start, a.size(1), dtype=a.dtype)
        yield block.index_put_((row, col[lo:hi]), val[lo:hi], accumulate=True)


def data_fingerprint(*arrays: Tensor) -> str:
    """SHA-256 over the shapes, dtypes and values of ``arrays`` (in order): the
    same only for the same data (e.g. a split's index arrays). A sparse tensor
    counts as its dense form: features kept sparse on one device and dense on
    another (as the recipes keep bag-of-words features) are the same data."""
    digest = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu()
        digest.update(f"{a.dtype}{list(a.shape)};".encode())
        for block in _dense_blocks(a) if a.layout != torch.strided else (a.contiguous(),):
            digest.update(block.view(-1).view(torch.uint8).numpy().tobytes()
                          if block.numel() else b"")
    return digest.hexdigest()


def run_identity(model: nn.Module, data: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: ``model``'s class and its
    parameter shapes, the ``data`` fingerprint and ``settings`` less
    :data:`RESUMABLE` (as JSON would store them)."""
    kept = {k: v for k, v in settings.items() if k not in RESUMABLE}
    return {"model": type(model).__name__, "data": data,
            "shapes": {k: list(v.shape) for k, v in model.state_dict().items()},
            "settings": json.loads(json.dumps(kept, sort_keys=True, default=str))}


def _difference(saved: Any, current: dict[str, Any]) -> str:
    """The first field in which a checkpoint's identity differs from this run's."""
    if not isinstance(saved, dict):
        return "it records no identity"
    for field in sorted(set(saved) | set(current)):
        if field == "settings" and isinstance(saved.get(field), dict):
            ours, theirs = current.get(field, {}), saved[field]
            for key in sorted(set(ours) | set(theirs)):
                here, there = (s.get(key, ADDED.get(key)) for s in (ours, theirs))
                if here != there:
                    return f"setting {key!r} is {there!r} there and {here!r} here"
        elif saved.get(field) != current.get(field):
            what = {"data": "it was trained on other data (the data fingerprint differs)",
                    "shapes": "its parameters have other shapes"}.get(field)
            return what or f"{field!r} is {saved.get(field)!r} there and " \
                f"{current.get(field)!r} here"
    return ""


def save_checkpoint(path: str, identity: dict[str, Any], model: nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator,
                    state: dict[str, Any],
                    best_model: Optional[Mapping[str, Tensor]] = None) -> None:
    """Write ``model``'s and ``optimizer``'s state, ``generator``'s and the global
    random streams (CPU, and CUDA when in use: dropout resumes exactly), the
    JSON-able loop ``state``, the run's ``identity`` and, when given, the state
    dict of the selected epoch's weights (``best_model``) to ``path``, through a
    temporary file renamed into place (a kill never leaves half a checkpoint)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    tmp = path + ".tmp"
    payload = {"identity": identity, "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
               "rng": rng, "state": json.dumps(state)}
    if best_model is not None:
        payload["best_model"] = dict(best_model)
    torch.save({**payload, "digest": _digest(payload)}, tmp)
    os.replace(tmp, path)


def _digest(obj: Any) -> str:
    """SHA-256 of a checkpoint's contents (tensors by dtype, shape and bytes)."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, Tensor):
            digest.update(data_fingerprint(value).encode())
        elif isinstance(value, Mapping):
            digest.update(b"{")
            for key in sorted(value, key=repr):
                digest.update(repr(key).encode())
                feed(value[key])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(b"[")
            for item in value:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(repr(value).encode())
    feed(obj)
    return digest.hexdigest()


def read_checkpoint(path: str) -> dict[str, Any]:
    """What :func:`save_checkpoint` wrote to ``path``, its digest checked: the run's
    ``identity``, the ``model`` and ``optimizer`` state dicts, the random streams,
    the loop ``state`` (JSON text) and, once the run has selected an epoch, its
    weights (``best_model``); e.g. to score a run's weights without resuming it.
    Raises ``ValueError`` for a damaged file or one glt did not write."""
    ckpt = load_weights(path, "checkpoint", hint="delete it to start afresh")
    if not isinstance(ckpt, dict) or "digest" not in ckpt or \
            ckpt["digest"] != _digest({k: v for k, v in ckpt.items() if k != "digest"}):
        raise ValueError(f"checkpoint {path} is damaged or was not written by glt (its "
                         "contents do not match their digest); delete it to start afresh")
    return ckpt


def load_checkpoint(path: str, identity: dict[str, Any], model: nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator
                    ) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote to ``path`` into ``model``,
    ``optimizer``, ``generator`` and the global random streams; return the loop
    state. Raises ``ValueError`` when the checkpoint's identity (model, data set,
    sizes) is not ``identity``, naming the first field that differs, before
    anything is changed."""
    return resume_checkpoint(path, identity, model, optimizer, generator)[0]


def resume_checkpoint(path: str, identity: dict[str, Any], model: nn.Module,
                      optimizer: torch.optim.Optimizer, generator: torch.Generator
                      ) -> tuple[dict[str, Any], Optional[dict[str, Tensor]]]:
    """:func:`load_checkpoint`, and the selected epoch's weights the checkpoint
    keeps (``best_model`` of :func:`save_checkpoint`; ``None`` when it has none)."""
    ckpt = read_checkpoint(path)
    why = _difference(ckpt.get("identity"), identity)
    if why:
        raise ValueError(f"checkpoint {path} belongs to another run: {why}. Use another "
                         f"checkpoint path, or run with the checkpoint's settings (only "
                         f"{', '.join(sorted(RESUMABLE))} may change on resume).")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    generator.set_state(ckpt["generator"])
    rng = ckpt.get("rng", {})
    if "cpu" in rng:
        torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state = json.loads(ckpt["state"])
    log.info("resuming from %s (epoch %s done)", path, state.get("epoch"))
    return state, ckpt.get("best_model")


def restore_model(path: str, data: str,
                  makers: Mapping[str, Callable[[dict[str, Any]], Optional[nn.Module]]],
                  weights: str = "best", checkpoint: Optional[dict[str, Any]] = None
                  ) -> nn.Module:
    """The model that the checkpoint at ``path`` trained, in eval mode, with the weights of its
    selected evaluation (``weights="best"``: those of the run's reported
    figures) or of its last finished epoch (``"last"``). ``makers`` maps each
    model class read to a constructor from the run's recorded settings (``None``
    or a missing key: too few recorded); ``data`` is the fingerprint of the data
    to score (:func:`data_fingerprint`), which must be the run's. Raises
    ``ValueError`` for a damaged file, another class of model, other data, too
    few settings to rebuild the model, or no selected weights yet. ``checkpoint``:
    what :func:`read_checkpoint` gave for ``path``, where the caller read it already."""
    if weights not in ("best", "last"):
        raise ValueError(f"expected weights 'best' or 'last', got {weights!r}")
    ckpt = read_checkpoint(path) if checkpoint is None else checkpoint
    identity = ckpt.get("identity")
    name = identity.get("model") if isinstance(identity, dict) else None
    if name not in makers:
        raise ValueError(f"checkpoint {path} holds a {name!r} model; this reads "
                         f"{', '.join(makers)} checkpoints")
    if identity.get("data") != data:
        raise ValueError(f"checkpoint {path} was trained on other data than the data given "
                         "(the data fingerprint differs)")
    state = ckpt["model"] if weights == "last" else ckpt.get("best_model")
    if state is None:
        raise ValueError(f"checkpoint {path} keeps no best weights (the run has not been "
                         "evaluated yet, or an older glt wrote it); weights='last' gives "
                         "its last epoch's")
    try:
        model = makers[name](dict(identity.get("settings", {})))
    except KeyError:
        model = None
    if model is None or \
            {k: list(v.shape) for k, v in model.state_dict().items()} != identity.get("shapes"):
        raise ValueError(f"checkpoint {path} records too few settings to rebuild its model "
                         "(a library run given no settings=): load its state dict, "
                         "read_checkpoint(path)['best_model'], into the model you built")
    model.load_state_dict(state)
    return model.eval()


def copy_weights(model: nn.Module) -> dict[str, Tensor]:
    """A detached copy of ``model``'s state dict (the selected epoch's weights)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
