"""Command-line arguments shared by every ``glt train`` model, checked at parse
time before any data is loaded: typed values (counts ``>= 1``, finite positive
rates, dropout in ``[0, 1)``, fanouts), a writable ``--out`` and ``--checkpoint``
folder, and an available ``--device``. Errors are one line, ``glt: error: ...``,
with exit code 2."""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from typing import Any, Callable, NoReturn, Optional, Sequence

import torch


class Parser(argparse.ArgumentParser):
    """``argparse`` with glt's errors: one line on stderr, exit code 2, no usage dump.
    ``folders`` names the path flags that are folders (the others are files);
    ``made`` the path flags read when they exist, else made and written there
    (checked writable only when absent; a file where a folder is meant, or the
    reverse, is refused)."""

    def __init__(self, *args: Any, folders: Sequence[str] = ("checkpoint",),
                 made: Sequence[str] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.folders, self.made = tuple(folders), tuple(made)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"glt: error: {message}\n")
        sys.exit(2)

    def parse_checked(self, argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
        """``parse_args``, then the checks that need the file system or torch:
        ``--out`` and ``--checkpoint`` are writable (their folders are created) and
        ``--device`` exists."""
        args = self.parse_args(argv)
        self.check(args)
        return args

    def check(self, args: argparse.Namespace) -> None:
        """The checks of :meth:`parse_checked` on ``args`` (e.g. after values were
        set in code)."""
        out, checkpoint = getattr(args, "out", None), getattr(args, "checkpoint", None)
        if out is not None and checkpoint is not None and \
                os.path.realpath(out) == os.path.realpath(checkpoint):
            self.error(f"argument --out: {out} is also the --checkpoint path")
        for name in ("out", "checkpoint", "device", *self.made):
            value = getattr(args, name, None)
            if name in self.made and value is not None and os.path.exists(value) and \
                    os.path.isdir(value) == (name in self.folders):
                continue  # read, not written
            check = check_device if name == "device" else \
                check_folder if name in self.folders else check_writable
            if value is not None:
                try:
                    check(value)
                except ValueError as err:
                    self.error(f"argument --{name.replace('_', '-')}: {err}")


def _number(text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}"
                                         f", got {text!r}") from None
    return value


def count(text: str) -> int:
    """An integer ``>= 1`` (epochs, runs, hidden sizes, batch sizes, ...)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer ``>= 0`` (seeds, epoch numbers)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def rate(text: str) -> float:
    """A finite number ``> 0`` (learning rates)."""
    value = _number(text, float)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def non_negative(text: str) -> float:
    """A finite number ``>= 0`` (weight decay, loss weights)."""
    value = _number(text, float)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def dropout(text: str) -> float:
    """A probability in ``[0, 1)``."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a dropout rate in [0, 1), got {text}")
    return value


def fanout(text: str) -> int:
    """Neighbours sampled per hop: an integer ``>= 1``, or ``-1`` for all."""
    value = _number(text, int)
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"expected a fanout >= 1 or -1 (all), got {value}")
    return value


TYPES: dict[str, Callable[[str], Any]] = {
    "epochs": count, "runs": count, "hidden": count, "heads": count, "batch_size": count,
    "eval_every": count, "eval_every_after": non_negative_int, "patience": count,
    "num_layers": count, "num_tokens": count, "eval_samples": count, "dim": count,
    "lr": rate, "weight_decay": non_negative, "dropout": dropout, "seed": non_negative_int,
    "fanouts": fanout, "eval_after": non_negative_int, "attn_dropout": dropout,
    "input_dropout": dropout, "local_dropout": dropout, "temperature": rate, "cvae_lr": rate,
    "init_std": rate, "clip": rate,
}
"""The check of each setting name used by the presets (others keep their preset's type)."""

CHOICES: dict[str, tuple[str, ...]] = {
    "evaluate": ("full", "sampled"), "optimizer": ("adam", "adamw"),
    "negatives": ("exclude", "uniform", "per_source"), "token_encoder": ("mlp", "per_hop"),
    "mode": ("full", "mini"), "combine": ("concat", "mean"), "init": ("glorot", "lagnn"),
}
"""The values a text setting may take."""


NONE = "none"
"""The command-line spelling of a preset value None (e.g. ``--patience none``)."""


def check_parsed(parser: argparse.ArgumentParser, args: argparse.Namespace,
                 kinds: dict[str, Callable[[str], Any]]) -> None:
    """Flags parsed as plain ``int`` / ``float`` / ``str`` (by a script that imports
    glt only after parsing, so that its subprocesses choose their own imports)
    checked with glt's ``kinds`` (e.g. ``{"batches": count, "device":
    check_device}``); a bad value ends in ``parser.error`` naming its flag."""
    for name, kind in kinds.items():
        value = getattr(args, name)
        try:
            kind(value if isinstance(value, str) else repr(value))
        except (argparse.ArgumentTypeError, ValueError) as err:
            parser.error(f"argument --{name.replace('_', '-')}: {err}")


def existing_file(text: str) -> str:
    """The path of a file to read (a positional encoding, a generator)."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected a file")
    return text


def data_folder(text: str) -> str:
    """A data folder (``--root``): read where it exists, else made when a set is
    downloaded there; a file there, or on the way there, is refused."""
    from glt.datasets._layout import check_root
    try:
        return check_root(text)
    except NotADirectoryError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _kind(sample: Any) -> Callable[[str], Any]:
    if isinstance(sample, int) and not isinstance(sample, bool):
        return count
    if isinstance(sample, float):
        return non_negative
    return str


def _or_none(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return NONE if text.lower() == NONE else kind(text)
    return parse


def preset_flag(parser: Any, key: str, examples: Sequence[Any]) -> None:
    """``--key`` (dashes for underscores, default None) overriding preset value
    ``key``, typed by :data:`TYPES` or by the presets' values ``examples``:
    booleans as ``--key/--no-key``, lists as several values, text as one of
    :data:`CHOICES`, and ``none`` accepted where a preset has None."""
    flag = f"--{key.rstrip('_').replace('_', '-')}"
    given = [v for v in examples if v is not None]
    sample = given[0] if given else None
    if isinstance(sample, bool):
        parser.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None)
    elif isinstance(sample, (list, tuple)):
        inner = TYPES.get(key) or _kind(sample[0] if sample else 1)
        parser.add_argument(flag, dest=key, type=inner, nargs="+", default=None)
    else:
        kind = TYPES.get(key) or _kind(sample)
        nullable = any(v is None for v in examples)
        choices = CHOICES.get(key)
        if choices is not None and nullable:
            choices = (*choices, NONE)
        parser.add_argument(flag, dest=key, type=_or_none(kind) if nullable else kind,
                            default=None, choices=choices)


def add_runs(parser: argparse.ArgumentParser, runs: int, seed: int = 0) -> None:
    """``--runs`` (default ``runs``) and ``--seed`` (default ``seed``): seeds
    ``seed..seed+runs-1``."""
    parser.add_argument("--runs", type=count, default=runs, help=f"seeds seed..seed+runs-1 "
                        f"(default {runs})")
    parser.add_argument("--seed", type=non_negative_int, default=seed, help=f"the first "
                        f"run's seed (default {seed})")


def add_output(parser: argparse.ArgumentParser, out_help: str = "write the JSON result here"
               ) -> None:
    """``--device`` (checked to exist), ``--out`` (checked writable) and ``--quiet``."""
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda, cuda:1 (under "
                        "torchrun, cuda means each rank's own GPU)")
    parser.add_argument("--out", default=None, help=out_help)
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def check_writable(path: str) -> None:
    """Create ``path``'s folder and check a file can be written there (before training)."""
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; expected a file path")
    _check_write(os.path.dirname(os.path.abspath(path)), path)


def check_folder(path: str) -> None:
    """Create folder ``path`` and check a file can be written in it (before training)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{path} is a file; expected a folder")
    _check_write(path, path)


def _check_write(folder: str, named: str) -> None:
    parent = folder
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise ValueError(f"cannot write to {named}: {parent} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".glt-write-check-"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write to {named}: {err.strerror or err}") from err


def check_device(name: str) -> None:
    """Check that torch device ``name`` exists on this machine."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: {err}") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} asked for; this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        try:
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as err:
            why = str(err).strip().split(". ")[0][:200] or type(err).__name__  # its first
            raise ValueError(f"device {name!r} is not available here ({why})") from err
