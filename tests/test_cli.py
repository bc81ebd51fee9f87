"""The ``glt`` command: dispatch to the training scripts, benchmarks and reproduce."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from glt import cli
from glt.recipes.recommendation import ULTRAGCN_PRESETS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_help_lists_commands(capsys):
    assert cli.main(["--help"]) == 0
    assert "train MODEL" in capsys.readouterr().out


def test_train_help_lists_models_and_presets(capsys):
    assert cli.main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for model in ("gcn", "gat", "sage", "lightgcn", "ultragcn", "lagnn", "largegt", "link"):
        assert f"\n  {model} " in out
    for preset in list(ULTRAGCN_PRESETS) + ["ogbn-products", "ogbn-papers100M", "ogbl-ddi"]:
        assert preset in out


def test_train_runs_the_script_code(tmp_path):
    out = str(tmp_path / "gcn.json")
    assert cli.main(["train", "gcn", "--runs", "1", "--epochs", "3", "--quiet",
                     "--out", out]) == 0
    result = json.load(open(out))
    assert result["model"] == "gcn" and result["num_runs"] == 1
    assert result["runs"][0]["epochs"] == 3


def test_model_help_is_the_scripts(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "ultragcn", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: glt train ultragcn") and "--checkpoint" in out
    # every preset value is a flag, and the presets' values are listed
    assert "--negative-weight" in out and "--lambda" in out and "--runs" in out
    assert "  gowalla: num_neighbours=10 epochs=2000" in out


def test_data_errors_are_one_line(tmp_path, monkeypatch, capsys):
    """A set that cannot be fetched or read ends in ``glt: error: ...``, exit code 2."""
    monkeypatch.setenv("GLT_DOWNLOAD_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    assert cli.main(["train", "lightgcn", "--dataset", "gowalla", "--root", str(tmp_path),
                     "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "glt: error: could not download http://127.0.0.1:9/raw.githubusercontent.com/")
    (tmp_path / "sparse").mkdir()
    (tmp_path / "sparse" / "train.txt").write_text("0 1\n1 5000000\n")
    (tmp_path / "sparse" / "test.txt").write_text("0 2\n")
    assert cli.main(["train", "ultragcn", "--dataset", str(tmp_path / "sparse"), "--quiet"]) == 2
    assert "item ids go up to 5000000 but only 3 distinct" in capsys.readouterr().err


def test_a_diverged_run_is_one_line(capsys):
    assert cli.main(["train", "lightgcn", "--lr", "1e19", "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "glt: error: training diverged: the mean loss of epoch 1 is nan")


def test_unknown_names_are_refused():
    with pytest.raises(SystemExit, match="unknown model 'lightgc'.*lightgcn"):
        cli.main(["train", "lightgc"])
    with pytest.raises(SystemExit, match="unknown benchmark 'sampling'.*sampler"):
        cli.main(["bench", "sampling"])
    with pytest.raises(SystemExit, match="unknown command 'fit'"):
        cli.main(["fit"])


def test_every_benchmark_is_found_from_the_checkout(tmp_path, monkeypatch):
    for name in cli.BENCHMARKS:
        path = cli.benchmark_path(name, os.path.join(REPO, "glt", "datasets"))  # any subfolder
        assert path == os.path.join(REPO, "benchmarks", f"bench_{name}.py")
    with pytest.raises(SystemExit, match="set GLT_BENCHMARKS"):
        cli.benchmark_path("ops", str(tmp_path))  # outside a checkout: said, not guessed
    monkeypatch.setenv("GLT_BENCHMARKS", os.path.join(REPO, "benchmarks"))
    assert os.path.exists(cli.benchmark_path("ops", str(tmp_path)))


def test_console_entry_point_and_module():
    glt_bin = shutil.which("glt")
    assert glt_bin is not None, "the glt console script is not installed (pip install -e .)"
    done = subprocess.run([glt_bin, "bench", "ops", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage" in done.stdout
    done = subprocess.run([sys.executable, "-m", "glt", "train", "--help"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "lightgcn" in done.stdout


@pytest.mark.parametrize("argv,message", [
    (["sampler", "--scale", "0"], "argument --scale: expected a finite number > 0, got 0"),
    (["sampler", "--fanouts", "10", "0"], "argument --fanouts: expected a fanout >= 1 or -1"),
    (["ops", "--reps", "0"], "argument --reps: expected an integer >= 1, got 0"),
    # the scripts that import glt after parsing (their workers choose their imports)
    (["datasets", "--scale", "-1"], "argument --scale: expected a finite number > 0"),
    (["lagnn_eval", "--reps", "0"], "argument --reps: expected an integer >= 1, got 0"),
    (["largegt", "--scale", "nan"], "argument --scale: expected a finite number > 0, got nan"),
    (["largegt", "--chunk-mb", "-1"], "argument --chunk-mb: expected a finite number >= 0"),
    (["recsys", "--batches", "-2"], "argument --batches: expected an integer >= 1, got -2"),
    (["authors", "--lagnn-epochs", "0"], "argument --lagnn-epochs: expected an integer >= 1"),
    (["recsys", "--device", "tpu"], "argument --device: unknown device 'tpu'"),
    (["node", "--device", "tpu"], "argument --device: unknown device 'tpu'"),
    (["datasets", "--data-dir", "README.md"], "argument --data-dir: README.md is a file"),
    (["link", "--root", "no-such-folder"], "error: ogbl-ddi is not in no-such-folder"),
    (["node", "--root", "README.md"], "error: README.md is not a folder")])
def test_benchmark_arguments_are_checked(argv, message):
    """A size of 0 crashed a benchmark (an empty graph's IndexError, a worker's
    traceback); now one error naming the flag, before any worker starts."""
    done = subprocess.run([sys.executable, "-m", "glt", "bench", *argv], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_failed_benchmark_worker_is_one_line_naming_its_case():
    """A worker's error reached the user as the parent's CalledProcessError traceback."""
    done = subprocess.run([sys.executable, "-m", "glt", "bench", "recsys", "--dataset", "nope",
                           "--cases", "lightgcn-glt"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("bench_recsys.py: error: the lightgcn-glt case failed: "
                                  "ValueError: unknown dataset 'nope'"), done.stderr
