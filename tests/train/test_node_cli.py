import json

from glt.train.node_cli import PRESETS, main


def test_writes_json_result(tmp_path, capsys):
    out = tmp_path / "res" / "gcn.json"
    result = main(["--model", "gcn", "--runs", "2", "--epochs", "10", "--quiet",
                   "--out", str(out)])
    saved = json.loads(out.read_text())
    for field in ("model", "dataset", "test_acc", "test_acc_std", "val_acc", "val_acc_std",
                  "epochs", "seconds", "runs"):
        assert field in saved
    assert saved["model"] == "gcn" and saved["dataset"] == "Cora" and saved["runs"] == 2
    assert saved["settings"]["hidden"] == PRESETS["gcn"]["hidden"] and saved["epochs"] == 10
    assert result["test_acc"] == saved["test_acc"]
    assert "gcn on Cora: test acc" in capsys.readouterr().out


def test_gat_preset_is_the_paper_setting(tmp_path):
    result = main(["--model", "gat", "--runs", "1", "--epochs", "3", "--quiet"])
    assert result["settings"] == {**PRESETS["gat"], "epochs": 3}
    assert PRESETS["gat"]["heads"] == 8 and PRESETS["gat"]["lr"] == 0.005
