"""What every recipe shares: the common flags, presets whose every value is a
flag, start-up (memory, logging, data-parallel group), seeding and the run
report. A recipe adds its own flags and one ``run`` function."""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch

from glt.memory import keep_freed_memory
from glt.recipes.report import RunRecord, RunReport, command_line, environment, write_report
from glt.samplers.shard import Shard
from glt.train import distributed
from glt.train.args import NONE, Parser, add_output, add_runs, preset_flag
from glt.train.selection import RunResult


@dataclass
class Context:
    """A started run: the parsed flags, the preset's settings with the flags
    applied, and where it runs."""

    args: argparse.Namespace
    preset: str
    settings: dict[str, Any]
    shard: Shard
    device: torch.device
    command: str = ""

    @property
    def progress(self) -> bool:
        return not self.args.quiet and self.shard.is_main

    @property
    def seeds(self) -> range:
        return range(self.args.seed, self.args.seed + self.args.runs)

    def report(self, model: str, dataset: str, metric: str, runs: list[RunRecord],
               seconds: Optional[float] = None, **extra: Any) -> RunReport:
        """A :class:`RunReport` of ``runs`` with this run's settings and environment."""
        env = environment(str(self.device))
        total = sum(r.seconds for r in runs) if seconds is None else seconds
        return RunReport(model, dataset, metric, runs, dict(self.settings), self.preset, total,
                         str(self.device), env["hardware"], self.shard.world_size,
                         env["versions"], self.command, env["date"], extra)


def record(result: RunResult, metric: str) -> RunRecord:
    """A node-classification run (:class:`~glt.train.node.RunResult`) as a report's run."""
    return RunRecord(result.seed, result.best_epoch, result.epochs, result.val_acc,
                     result.test_acc, result.seconds, {metric: result.test_acc},
                     list(result.curve))


class Recipe:
    """One ``glt train NAME`` command.

    Subclasses set ``name``, ``description``, ``presets`` (preset name ->
    settings; every key becomes a ``--key`` flag typed from the presets' values),
    ``runs`` (the default of ``--runs``) and ``seed``, and implement
    :meth:`run`; :meth:`add_arguments` adds their own flags and
    :meth:`preset_name` picks a preset from the flags.
    """

    name = ""
    description = ""
    presets: dict[str, dict[str, Any]] = {}
    default_preset: Optional[str] = None  # used for a dataset without its own preset
    runs = 10
    seed = 0
    amp = False  # whether --amp (bfloat16 autocast) applies
    lead: tuple[str, ...] = ()  # arguments put before the user's (e.g. --model gcn)
    made: tuple[str, ...] = ()  # path flags read if present, else made and written (Parser)
    folders: tuple[str, ...] = ()  # path flags that are folders, besides --checkpoint

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The recipe's own flags, --dataset first."""

    def preset_name(self, args: argparse.Namespace) -> str:
        """``--preset``, else the dataset's own preset, else :attr:`default_preset`."""
        if args.preset is not None:
            return args.preset
        dataset = getattr(args, "dataset", None)
        if dataset in self.presets:
            return dataset
        if self.default_preset is None:
            raise ValueError(f"no {self.name} preset for {dataset!r}; pass --preset, one of "
                             f"{', '.join(self.presets)}")
        return self.default_preset

    def run(self, ctx: Context) -> RunReport:
        raise NotImplementedError

    def parser(self) -> Parser:
        """The flags: the recipe's, then --preset, every preset value, --runs/--seed,
        --checkpoint, --amp, --device/--out/--quiet; the presets in ``--help``."""
        p = Parser(prog=f"glt train {self.name}", description=self.description, made=self.made,
                   folders=("checkpoint", *self.folders),
                   epilog=presets_help(self.presets),
                   formatter_class=argparse.RawDescriptionHelpFormatter)
        self.add_arguments(p)
        p.add_argument("--preset", default=None, choices=list(self.presets),
                       metavar="NAME", help="settings by name (default: the dataset's"
                       + (f", else {self.default_preset}" if self.default_preset else "")
                       + "); listed below")
        taken = {a.dest for a in p._actions}
        group = p.add_argument_group("preset values (default: the preset's)")
        for key, examples in preset_keys(self.presets).items():
            if key not in taken:
                preset_flag(group, key, examples)
        add_runs(p, self.runs, self.seed)
        p.add_argument("--checkpoint", default=None, metavar="FOLDER", help="per-run "
                       "checkpoints (seed<N>.pt, written every epoch): a run started "
                       "again resumes exactly, a finished one is read back")
        if self.amp:
            p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision "
                           "(autocast) for the forward passes")
        add_output(p)
        return p

    def settings(self, preset: str, args: argparse.Namespace) -> dict[str, Any]:
        """Preset ``preset`` with every flag given on the command line applied."""
        if preset not in self.presets:
            raise ValueError(f"unknown {self.name} preset {preset!r}; expected one of "
                             f"{', '.join(self.presets)}")
        settings = dict(self.presets[preset])
        for key in preset_keys(self.presets):
            value = getattr(args, key, _UNSET)
            if value is not _UNSET and value is not None:
                settings[key] = None if value == NONE else value
        return settings

    def main(self, argv: Optional[Sequence[str]] = None, **options: Any) -> RunReport:
        """Parse ``argv`` (default: the command line), apply ``options`` (flag
        destinations to values, as ``glt reproduce`` composes them), start,
        :meth:`run`, print the summary and write the report."""
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = self.parser()
        args = parser.parse_checked([*self.lead, *argv])
        for key, value in options.items():
            if not hasattr(args, key):
                raise ValueError(f"glt train {self.name} has no option {key!r}")
            setattr(args, key, value)
        if options:
            parser.check(args)
        preset = self.preset_name(args)
        settings = self.settings(preset, args)
        keep_freed_memory()
        logging.basicConfig(format="%(message)s")
        shard, device = distributed.init(args.device)
        ctx = Context(args, preset, settings, shard, device,
                      command_line(self.name, [*argv, *as_flags(options)]))
        if ctx.progress:
            print(f"{self.name}, preset {preset}: {settings}", flush=True)
        # glt's own lines (downloads, first-load processing) only where progress shows
        log, level = logging.getLogger("glt"), logging.getLogger("glt").level
        log.setLevel(logging.INFO if ctx.progress else logging.WARNING)
        try:
            report = self.run(ctx)
        finally:
            log.setLevel(level)
        if shard.is_main:  # written before the group is torn down (its teardown can hang)
            print(report.summary(), flush=True)
            write_report(args.out, report)
        distributed.finish(shard)
        return report


def as_flags(options: dict[str, Any]) -> list[str]:
    """``options`` as command-line flags: ``--key value``, lists as several values,
    booleans as ``--key`` / ``--no-key``, None as ``none``."""
    out: list[str] = []
    for key, value in options.items():
        flag = f"--{key.rstrip('_').replace('_', '-')}"
        if isinstance(value, bool):
            out.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (list, tuple)):
            out += [flag, *map(str, value)]
        else:
            out += [flag, NONE if value is None else str(value)]
    return out


_UNSET = object()


def preset_keys(presets: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """Every key of any preset with the values the presets give it."""
    keys: dict[str, list[Any]] = {}
    for settings in presets.values():
        for key, value in settings.items():
            keys.setdefault(key, []).append(value)
    return keys


def presets_help(presets: dict[str, dict[str, Any]]) -> str:
    """The presets and their values, for ``--help``."""
    lines = ["presets:"]
    for name, settings in presets.items():
        values = " ".join(f"{k}={v}" for k, v in settings.items())
        lines.append(f"  {name}: {values}")
    return "\n".join(lines)
