"""The README's library example must run as written."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "CSRGraph.from_edge_index" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["h"].shape == (2708, 16)
    assert namespace["torch"].allclose(namespace["agg"], namespace["same"])


def test_readme_minibatch_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "NeighborLoader(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["loss"].item() > 0


def test_readme_datasets_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "load_ogb(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["acc"] == 1.0 and namespace["users"] == 30


def test_readme_own_dataset_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "NodeDataset(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    run = namespace["run"]
    assert 0.0 <= run.test_acc <= 1.0 and len(run.curve) == 20


def test_readme_commands_name_real_models_and_benchmarks():
    from glt import cli
    from glt.recipes import RECIPES
    text = README.read_text()
    for model in re.findall(r"glt train ([a-z]\w*)", text):
        assert model in RECIPES, model
    for name in re.findall(r"glt bench ([a-z]\w*)", text):
        assert name in cli.BENCHMARKS, name


def test_readme_models_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "la_backbone(" in b)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert namespace["state"].epoch == 2 and 0.0 <= namespace["metrics"]["recall@20"] <= 1.0
    assert namespace["logits"].shape == (8, 7) and namespace["la_run"].epochs == 5
