"""Training checkpoints: weights, optimiser, random streams and loop state in one
file, written atomically, refused when they belong to another run."""
from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import nn


def save_checkpoint(path: str, identity: dict[str, Any], model: nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator,
                    state: dict[str, Any]) -> None:
    """Write ``model``'s and ``optimizer``'s state, ``generator``'s and the global
    random streams (CPU, and CUDA when in use: dropout resumes exactly), the
    JSON-able loop ``state`` and the run's ``identity`` to ``path``, through a
    temporary file renamed into place (a kill never leaves half a checkpoint)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    tmp = path + ".tmp"
    torch.save({"identity": identity, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                "rng": rng, "state": json.dumps(state)}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str, identity: dict[str, Any], model: nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator
                    ) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote to ``path`` into ``model``,
    ``optimizer``, ``generator`` and the global random streams; return the loop
    state. Raises ``ValueError`` when the checkpoint's identity (model, data set,
    sizes) is not ``identity``, before anything is changed."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"checkpoint {path} is unreadable ({err}); delete it to start "
                         "afresh") from err
    if ckpt.get("identity") != identity:
        raise ValueError(f"checkpoint {path} belongs to another run: {ckpt.get('identity')}; "
                         f"this run is {identity}. Use another checkpoint path.")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    generator.set_state(ckpt["generator"])
    rng = ckpt.get("rng", {})
    if "cpu" in rng:
        torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return json.loads(ckpt["state"])
