"""The README's and the guide's examples must run as written; the README stays
a front door."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide.md"


def _blocks() -> list[str]:
    return [b for doc in (README, GUIDE)
            for b in re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)]


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    assert all(len(line) <= 300 for line in lines)
    table = [line for line in lines if line.startswith("| ") and (
        " | acc | " in line or " | recall@20 | " in line or " | Hits@20 | " in line)]
    assert len(table) >= 10
    for row in table:  # one number per cell: glt's figure has no history in brackets
        glt_cell = row.split("|")[3]
        assert "(" not in glt_cell, row


def test_readme_python_examples_run():
    blocks = _blocks()
    example = next(b for b in blocks if "CSRGraph.from_edge_index" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["h"].shape == (2708, 16)
    assert namespace["torch"].allclose(namespace["agg"], namespace["same"])


def test_readme_minibatch_example_runs():
    blocks = _blocks()
    example = next(b for b in blocks if "NeighborLoader(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["loss"].item() > 0


def test_readme_datasets_example_runs():
    blocks = _blocks()
    example = next(b for b in blocks if "load_ogb(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["acc"] == 1.0 and namespace["users"] == 30


def test_readme_own_dataset_example_runs():
    blocks = _blocks()
    example = next(b for b in blocks if "NodeDataset(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    run = namespace["run"]
    assert 0.0 <= run.test_acc <= 1.0 and len(run.curve) == 20
    clicks = namespace["clicks"]
    assert (clicks.num_users, clicks.num_items) == (50, 80) and clicks.train.num_edges <= 500


def test_readme_commands_name_real_models_and_benchmarks():
    from glt import cli
    from glt.recipes import RECIPES
    text = README.read_text() + GUIDE.read_text()
    for model in re.findall(r"glt train ([a-z]\w*)", text):
        assert model in RECIPES, model
    for name in re.findall(r"glt bench ([a-z]\w*)", text):
        assert name in cli.BENCHMARKS, name


def test_readme_models_example_runs():
    blocks = _blocks()
    example = next(b for b in blocks if "la_backbone(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["state"].epoch == 2 and 0.0 <= namespace["metrics"]["recall@20"] <= 1.0
    assert namespace["logits"].shape == (8, 7) and namespace["la_run"].epochs == 5
    assert namespace["items"].shape == (2, 10) and bool((namespace["items"] >= 0).all())
