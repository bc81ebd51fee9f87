"""Recipes: one module per paper or task, each with its presets and one run
function behind ``glt train NAME`` and ``scripts/train_NAME.py``."""
from __future__ import annotations

from glt.recipes.base import Context, Recipe
from glt.recipes.lagnn import LAGNNRecipe
from glt.recipes.largegt import LargeGTRecipe
from glt.recipes.link import LinkRecipe
from glt.recipes.node import NodeRecipe
from glt.recipes.recommendation import LIGHTGCN, ULTRAGCN
from glt.recipes.report import RunRecord, RunReport, read_report

RECIPES: dict[str, Recipe] = {
    "gcn": NodeRecipe("gcn"), "gat": NodeRecipe("gat"), "sage": NodeRecipe("sage"),
    "node": NodeRecipe(), "lightgcn": LIGHTGCN, "ultragcn": ULTRAGCN,
    "lagnn": LAGNNRecipe(), "largegt": LargeGTRecipe(), "link": LinkRecipe(),
}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a ``ValueError`` listing the names otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(RECIPES)}")
    return RECIPES[name]


__all__ = ["Context", "Recipe", "RECIPES", "RunRecord", "RunReport", "read_report", "recipe"]
