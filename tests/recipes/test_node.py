import json

from glt.recipes import RECIPES
from glt.recipes.node import PRESETS


def test_writes_the_run_report(tmp_path, capsys):
    out = tmp_path / "res" / "gcn.json"
    report = RECIPES["gcn"].main(["--runs", "2", "--epochs", "10", "--quiet", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["model"] == "gcn" and saved["dataset"] == "Cora" and saved["metric"] == "acc"
    assert saved["num_runs"] == 2 and [r["seed"] for r in saved["runs"]] == [0, 1]
    assert saved["settings"] == {**PRESETS["gcn"], "epochs": 10}
    assert saved["test_mean"] == report.test_mean and saved["command"].startswith(
        "glt train gcn --runs 2")
    assert all(r["epochs"] == 10 and len(r["curve"]) == 10 for r in saved["runs"])
    assert "gcn on Cora: test acc" in capsys.readouterr().out


def test_gat_preset_is_the_paper_setting():
    report = RECIPES["node"].main(["--model", "gat", "--runs", "1", "--epochs", "3", "--quiet"])
    assert report.settings == {**PRESETS["gat"], "epochs": 3} and report.preset == "gat"
    assert PRESETS["gat"]["heads"] == 8 and PRESETS["gat"]["lr"] == 0.005


def test_patience_none_turns_early_stopping_off():
    fast = ["--runs", "1", "--lr", "0.5", "--quiet"]
    report = RECIPES["gat"].main(fast + ["--epochs", "100", "--patience", "1"])
    assert report.settings["patience"] == 1 and report.runs[0].epochs < 100
    stopped = report.runs[0].epochs
    report = RECIPES["gat"].main(fast + ["--epochs", str(stopped + 1), "--patience", "none"])
    assert report.settings["patience"] is None and report.runs[0].epochs == stopped + 1


def test_checkpoint_resumes_exactly(tmp_path):
    args = ["--runs", "2", "--quiet", "--checkpoint", str(tmp_path)]
    cut = RECIPES["gcn"].main(args + ["--epochs", "6"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0.pt", "seed1.pt"]
    resumed = RECIPES["gcn"].main(args + ["--epochs", "12"])
    whole = RECIPES["gcn"].main(["--runs", "2", "--quiet", "--epochs", "12"])
    assert [r.curve for r in resumed.runs] == [r.curve for r in whole.runs]
    assert [r.curve[:6] for r in whole.runs] == [r.curve for r in cut.runs]
