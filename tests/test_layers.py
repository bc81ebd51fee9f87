"""glt's layers point one way: ops < graph < norm, datasets, samplers < layers <
models < train < recipes < cli. No module imports a higher layer, not even
lazily inside a function (imports under ``if TYPE_CHECKING:`` are types only)."""
import ast
import pathlib

import glt

ROOT = pathlib.Path(glt.__file__).parent
LAYERS = {"ops": 1, "graph": 2, "norm": 3, "datasets": 3, "samplers": 3, "propagate": 3,
          "layers": 4, "models": 5, "train": 6, "recipes": 7, "cli": 8, "__main__": 8}


def layer(module: str) -> int:
    """Private helpers at the top (``glt._checks``, ``glt.memory``, ...) are layer 0;
    the package itself re-exports the graph, normalisation and ops (layer 3)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 3
    return LAYERS.get(parts[1], 0)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports(path: pathlib.Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("glt")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "glt":
            names = ([f"glt.{a.name}" for a in node.names] if node.module == "glt"
                     else [node.module])
            out += [(n, node.lineno) for n in names]
    return out


def test_no_module_imports_a_higher_layer():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(("glt",) + path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for target, line in imports(path):
            if layer(target) > layer(module):
                wrong.append(f"{module}:{line} imports {target}")
    assert wrong == []


def test_the_check_sees_lazy_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from glt.train.link import train_link\n")
    assert imports(probe) == [("glt.train.link", 2)]
    assert layer("glt.train.link") > layer("glt.models.link")
