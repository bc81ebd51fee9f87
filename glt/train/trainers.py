"""The training commands by model name: what ``glt train MODEL`` and
``glt reproduce`` run."""
from __future__ import annotations

from typing import Any, Callable

from glt.train import lagnn_cli, largegt_cli, link_cli, node_cli, rec_cli


def trainers() -> dict[str, tuple[Callable[[list[str]], Any], list[str], str]]:
    """model -> (main, leading arguments, presets line): what ``glt train MODEL``
    and ``glt reproduce`` run."""
    node = ", ".join(sorted(node_cli.PRESETS))
    la = "; ".join(f"{m}: {', '.join(d)}" for m, d in lagnn_cli.PRESETS.items())
    out: dict[str, tuple[Callable[[list[str]], Any], list[str], str]] = {
        name: (node_cli.main, ["--model", name], f"node classification on Planetoid (cora, "
               f"citeseer, pubmed), the {name.upper()} paper's settings")
        for name in sorted(node_cli.PRESETS)}
    out["node"] = (node_cli.main, [], f"--model one of {node}")
    for name, main in (("lightgcn", rec_cli.main_lightgcn), ("ultragcn", rec_cli.main_ultragcn)):
        out[name] = (main, [], f"presets: {', '.join(rec_cli.PRESETS[name])}")
    out["lagnn"] = (lagnn_cli.main, [], f"--model and --dataset presets: {la}")
    out["largegt"] = (largegt_cli.main, [], f"presets: {', '.join(largegt_cli.PRESETS)}")
    out["link"] = (link_cli.main, [], f"OGB link prediction, --model gcn or sage; presets: "
                   f"{', '.join(link_cli.PRESETS)}")
    return out
