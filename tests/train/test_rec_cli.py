import json
import os
import subprocess
import sys

import pytest

from glt.datasets.testing import write_lightgcn
from glt.train import rec_cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def folder(tmp_path) -> str:
    path = str(tmp_path / "toy")
    write_lightgcn(path, num_users=25, num_items=30, per_user=6)
    return path


@pytest.mark.parametrize("main, preset", [(rec_cli.main_lightgcn, "gowalla"),
                                          (rec_cli.main_ultragcn, "ml-1m")])
def test_runs_and_writes_json(folder, tmp_path, main, preset):
    out = str(tmp_path / "result.json")
    result = main(["--dataset", folder, "--preset", preset, "--epochs", "2", "--eval-every", "1",
                   "--quiet", "--out", out])
    with open(out) as f:
        written = json.load(f)
    for key in ("model", "dataset", "epoch", "best_epoch", "recall@20", "ndcg@20",
                "seconds_per_epoch", "seconds_total"):
        assert key in written
    assert written["epoch"] == 2 and written["dataset"] == "toy"
    assert 0 <= written["recall@20"] <= 1 and written["recall@20"] == result["recall@20"]
    assert len(written["history"]) == 2


def test_resume_from_checkpoint(folder, tmp_path):
    ckpt, out = str(tmp_path / "ckpt.pt"), str(tmp_path / "r.json")
    args = ["--dataset", folder, "--preset", "gowalla", "--eval-every", "1", "--quiet",
            "--checkpoint", ckpt, "--out", out]
    rec_cli.main_lightgcn(args + ["--epochs", "1"])
    result = rec_cli.main_lightgcn(args + ["--epochs", "3"])
    assert result["epoch"] == 3 and [h["epoch"] for h in result["history"]] == [1, 2, 3]
    with pytest.raises(ValueError, match="belongs to another run"):
        rec_cli.main_ultragcn(["--dataset", folder, "--preset", "ml-1m", "--epochs", "2",
                               "--quiet", "--checkpoint", ckpt])


def test_unknown_preset(folder):
    with pytest.raises(ValueError, match="unknown preset 'netflix' for ultragcn; expected one "
                                         "of \\['amazon-book', 'gowalla', 'ml-1m', 'yelp2018'\\]"):
        rec_cli.main_ultragcn(["--dataset", folder, "--preset", "netflix"])


def test_scripts_run(folder, tmp_path):
    for script in ("train_lightgcn.py", "train_ultragcn.py"):
        out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", script), "--dataset",
                              folder, "--preset", "ml-1m", "--epochs", "1", "--quiet"],
                             capture_output=True, text=True, check=True)
        assert "best recall@20" in out.stdout


def test_eval_every_after_flag(folder):
    result = rec_cli.main_ultragcn(["--dataset", folder, "--preset", "ml-1m", "--epochs", "4",
                                    "--eval-every", "3", "--eval-every-after", "1", "--quiet"])
    assert result["settings"]["eval_every_after"] == 1
    assert [h["epoch"] for h in result["history"] if "recall@20" in h] == [2, 3, 4]
