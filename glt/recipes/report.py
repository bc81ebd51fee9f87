"""One run report for every recipe: the same top-level fields whatever the
model, written as JSON and read back by ``glt reproduce``."""
from __future__ import annotations

import datetime
import json
import platform
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Optional, Sequence

import torch

from glt.train.metrics import mean_std
from glt.train.output import hardware, write_json


@dataclass
class RunRecord:
    """One run (one seed): its figures at the selected epoch and its curve."""

    seed: int
    best_epoch: int
    epochs: int
    valid: Optional[float]  # None where the protocol has no validation split
    test: float
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)  # every figure at best_epoch
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, selection figure)

    def first_reaching(self, target: float) -> Optional[int]:
        """The first evaluated epoch whose selection figure is at or above
        ``target``; None when the curve never gets there."""
        return next((int(epoch) for epoch, value in self.curve if value >= target), None)


@dataclass
class RunReport:
    """What ``glt train`` writes: the model, data and metric, mean ± unbiased std
    of the runs' validation and test figures, each run, the settings, the time,
    where it ran and the command. ``extra`` holds what only one recipe measures
    (e.g. token preparation time, the generator file, a backbone's report)."""

    model: str
    dataset: str
    metric: str
    runs: list[RunRecord]
    settings: dict[str, Any]
    preset: Optional[str] = None
    seconds: float = 0.0
    device: str = "cpu"
    hardware: str = ""
    world_size: int = 1
    versions: dict[str, str] = field(default_factory=dict)
    command: str = ""
    date: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def test_mean(self) -> float:
        return _mean_std([r.test for r in self.runs])[0]

    @property
    def test_std(self) -> float:
        return _mean_std([r.test for r in self.runs])[1]

    @property
    def valid_mean(self) -> Optional[float]:
        return _mean_std([r.valid for r in self.runs])[0]

    @property
    def valid_std(self) -> Optional[float]:
        return _mean_std([r.valid for r in self.runs])[1]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        runs = out.pop("runs")
        head = {k: out.pop(k) for k in ("model", "dataset", "metric", "preset")}
        return {**head, "valid_mean": self.valid_mean, "valid_std": self.valid_std,
                "test_mean": self.test_mean, "test_std": self.test_std,
                "num_runs": len(runs), **out, "runs": runs}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunReport:
        """The report of :meth:`to_dict`'s output (the means are recomputed)."""
        names = {f.name for f in fields(cls)}
        missing = {"model", "dataset", "metric", "runs", "settings"} - set(d)
        if missing:
            raise ValueError(f"not a glt run report: no {', '.join(sorted(missing))}")
        kept = {k: v for k, v in d.items() if k in names and k != "runs"}
        runs = [RunRecord(**{**r, "curve": [tuple(p) for p in r.get("curve", [])]})
                for r in d["runs"]]
        return cls(runs=runs, **kept)

    def summary(self) -> str:
        """One line: model, data, test (and validation) mean ± std, runs, time."""
        def fmt(value: Optional[float]) -> str:
            return format_metric(self.metric, value)
        line = (f"{self.model} on {self.dataset}: test {self.metric} {fmt(self.test_mean)} ± "
                f"{fmt(self.test_std)}")
        if self.valid_mean is not None:
            line += f", valid {fmt(self.valid_mean)} ± {fmt(self.valid_std)}"
        n = len(self.runs)
        return line + f" over {n} run{'s' if n != 1 else ''}, {self.seconds:.1f} s"


def percent_metric(metric: str) -> bool:
    """Accuracy, Hits@K and ROC-AUC read as percentages (as the README's rows);
    ranking metrics (recall, ndcg) as fractions."""
    return metric.startswith(("acc", "hits", "rocauc"))


def format_metric(metric: str, value: Optional[float]) -> str:
    """``value`` of ``metric`` as the README's rows and OGB's leaderboards write it:
    a percentage with two decimals (:func:`percent_metric`), else a fraction with four."""
    if value is None:
        return "—"
    return f"{100 * value:.2f}" if percent_metric(metric) else f"{value:.4f}"


def metric_label(metric: str) -> str:
    """``metric``'s name as OGB's leaderboards and the curves' panels write it."""
    return {"acc": "accuracy", "rocauc": "ROC-AUC", "mrr": "MRR"}.get(
        metric, metric.replace("hits", "Hits"))


def _mean_std(values: Sequence[Optional[float]]) -> tuple[Optional[float], Optional[float]]:
    if not values or any(v is None for v in values):
        return None, None
    return mean_std(list(values))  # type: ignore[arg-type]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def environment(device: str) -> dict[str, Any]:
    """``hardware``, ``versions`` and ``date`` fields of a report for ``device``."""
    versions = {"glt": _version("glt-graph"), "torch": torch.__version__,
                "python": platform.python_version()}
    if _version("ogb") != "not installed":
        versions["ogb"] = _version("ogb")
    return {"hardware": hardware(device), "versions": versions,
            "date": datetime.date.today().isoformat()}


def command_line(name: str, argv: Sequence[str]) -> str:
    """``glt train NAME ARGS``: the command that reproduces a run."""
    return " ".join(["glt", "train", name, *argv])


def write_report(path: Optional[str], report: RunReport) -> None:
    """Write ``report`` as JSON to ``path`` (nothing when ``path`` is None),
    through a temporary file renamed into place."""
    write_json(path, report.to_dict())


def read_report(path: str) -> RunReport:
    """The :class:`RunReport` in JSON file ``path``."""
    with open(path) as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not JSON: {err}") from err
    if not isinstance(d, dict):
        raise ValueError(f"{path} is not a glt run report")
    try:
        return RunReport.from_dict(d)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from err
