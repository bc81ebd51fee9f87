"""The prepared device check runs end to end at toy sizes on CPU, so that it
cannot rot between GPU loans (``benchmarks/gpu_check.py --smoke``)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
gpu_check = pytest.importorskip("gpu_check")


def test_smoke_run_passes_every_check_and_timing(tmp_path, capsys):
    out = str(tmp_path / "check.json")
    assert gpu_check.main(["--smoke", "--device", "cpu", "--out", out]) == 0
    report = json.load(open(out))
    names = [r["name"] for r in report["checks"] + report["speed"]]
    for part in ("scatter / segment / spmm", "GCNConv / SAGEConv / GATConv", "torch engine",
                 "LightGCN and UltraGCN", "LA-GNN", "bfloat16 autocast", "resumes on CPU",
                 "data-parallel", "PyG scatter", "k-hop sampling", "LightGCN epoch",
                 "UltraGCN epoch", "LargeGT training step"):
        assert any(part in n for n in names), part
    assert all(r["ok"] for r in report["checks"] + report["speed"])
    assert report["smoke"] and report["seconds"] < 60
    assert "15 passed, 0 failed" in capsys.readouterr().out


def test_a_failing_check_is_a_row_not_the_end(monkeypatch, tmp_path):
    def broken(device, size):
        raise AssertionError("wrong on this device")
    monkeypatch.setattr(gpu_check, "CHECKS", [("broken", broken)] + gpu_check.CHECKS[:1])
    monkeypatch.setattr(gpu_check, "SPEEDS", [])
    report = gpu_check.run_all("cpu", gpu_check.SMOKE)
    assert [r["ok"] for r in report["checks"]] == [False, True]
    assert report["checks"][0]["error"] == "AssertionError: wrong on this device"
