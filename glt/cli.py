"""The ``glt`` command: the training scripts, the benchmarks and the reproduction
table behind one entry point.

    glt train lightgcn --dataset gowalla --device cuda
    glt train gcn --runs 10               # gcn / gat / sage: node classification
    glt bench sampler --scale 0.1
    glt reproduce --quick
    glt data verify ~/.cache/glt          # full checksums of caches and downloads

``glt train --help`` lists the models and their presets; ``glt train MODEL
--help`` shows that model's options (the same as its script's).
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional

COMMANDS = ("train MODEL [options] | bench NAME [options] | reproduce [options] | "
            "data verify ROOT")
BENCHMARKS = ("ops", "sampler", "datasets", "recsys", "node", "lagnn", "lagnn_eval", "largegt",
              "link", "authors", "matfile")


def _train_help() -> str:
    from glt.recipes import RECIPES
    lines = ["usage: glt train MODEL [options]   (glt train MODEL --help for the options and "
             "each preset's values)", "", "models:"]
    lines += [f"  {name:<9} presets: {', '.join(r.presets)}" for name, r in RECIPES.items()]
    lines += ["", "Data-parallel on several GPUs: torchrun --nproc_per_node N $(which glt) "
              "train lightgcn --device cuda ..."]
    return "\n".join(lines)


def benchmark_path(name: str, start: Optional[str] = None) -> str:
    """``benchmarks/bench_<name>.py`` of the glt checkout holding ``start`` (default:
    the current folder) or one of its parents, or under ``$GLT_BENCHMARKS``. The
    benchmarks ship with the source repository, not with the installed package."""
    folder = os.environ.get("GLT_BENCHMARKS")
    if folder:
        candidates = [os.path.join(folder, f"bench_{name}.py")]
    else:
        here, candidates = os.path.abspath(start or os.getcwd()), []
        while True:
            candidates.append(os.path.join(here, "benchmarks", f"bench_{name}.py"))
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
    for path in candidates:
        if os.path.exists(path):
            return path
    raise SystemExit(f"glt bench: bench_{name}.py not found in benchmarks/ of this folder or "
                     "its parents; run glt bench inside a clone of the glt repository, or set "
                     "GLT_BENCHMARKS to its benchmarks folder")


def data_command(argv: list[str]) -> int:
    """``glt data verify ROOT``: check every glt cache under ``ROOT`` in full
    (shapes, dtypes, SHA-256 of each array) and every downloaded file of a
    registered release against its registered size and SHA-256 (or git blob id);
    exit 1 when any is damaged."""
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: glt data verify ROOT", file=sys.stderr)
        return 2
    from glt.datasets._cache import find_caches, verify_cache
    from glt.datasets._download import describe_record, file_matches
    from glt.datasets.registry import registered_files
    root = argv[1]
    if not os.path.isdir(root):
        message = (f"{root} is a file; expected a folder" if os.path.exists(root)
                   else f"no such folder: {root}")
        print(f"glt: error: {message}", file=sys.stderr)
        return 2
    caches = find_caches(root)
    damaged = 0
    for cache in caches:
        problems = verify_cache(cache)
        damaged += bool(problems)
        for problem in problems or ["intact"]:
            print(f"{os.path.relpath(cache, root)}: {problem}")
    files = registered_files(root)
    altered = 0
    for path, dataset, record in files:
        same, found = file_matches(path, record)
        altered += not same
        print(f"{os.path.relpath(path, root)}: " + (f"{dataset}'s registered file" if same else
              f"{found}; {dataset}'s registered file has {describe_record(record)}"))
    if damaged or altered:
        print(f"{damaged} of {len(caches)} cache(s) damaged, {altered} of {len(files)} "
              "registered file(s) altered; the next load rebuilds a damaged cache whose shapes "
              "or small arrays differ; delete the other caches and altered files to fetch and "
              "rebuild them")
        return 1
    print(f"{len(caches)} cache(s) and {len(files)} registered file(s) intact under {root}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() + f"\n\nusage: glt {COMMANDS}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "train":
        if not rest or rest[0] in ("-h", "--help"):
            print(_train_help())
            return 0
        from glt.datasets._download import DownloadError
        from glt.recipes import RECIPES
        if rest[0] not in RECIPES:
            raise SystemExit(f"glt train: unknown model {rest[0]!r}; expected one of "
                             f"{', '.join(RECIPES)}")
        try:
            RECIPES[rest[0]].main(rest[1:])
        except (ValueError, FloatingPointError, FileNotFoundError, NotADirectoryError,
                DownloadError) as err:
            if os.environ.get("GLT_DEBUG"):
                raise
            print(f"glt: error: {err}", file=sys.stderr)  # GLT_DEBUG=1 shows the traceback
            return 2
        return 0
    if command == "bench":
        if not rest or rest[0] in ("-h", "--help"):
            print(f"usage: glt bench NAME [options], NAME one of {', '.join(BENCHMARKS)}; "
                  "glt bench NAME --help for its options")
            return 0
        if rest[0] not in BENCHMARKS:
            raise SystemExit(f"glt bench: unknown benchmark {rest[0]!r}; expected one of "
                             f"{', '.join(BENCHMARKS)}")
        return subprocess.call([sys.executable, benchmark_path(rest[0]), *rest[1:]])
    if command == "data":
        return data_command(rest)
    if command == "reproduce":
        from glt.recipes.reproduce import main as reproduce
        reproduce(rest)
        return 0
    raise SystemExit(f"glt: unknown command {command!r}; usage: glt {COMMANDS}")


if __name__ == "__main__":
    sys.exit(main())
