"""scripts/ogb_example.py: the run-time stand-in for torch_sparse's ``coo()`` and the
message when OGB's example is not in place."""
import importlib.util
import json
import pathlib
import sys

import pytest
import torch

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "ogb_example.py"
spec = importlib.util.spec_from_file_location("ogb_example", SCRIPT)
ogb_example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ogb_example)


def test_coo_of_a_sparse_csr_tensor_lists_its_entries_row_by_row():
    dense = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
    row, col, value = ogb_example._coo(dense.to_sparse_csr())
    assert value is None
    assert row.tolist() == [0, 1, 1, 2] and col.tolist() == [1, 0, 2, 1]


def test_a_missing_example_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(ogb_example, "EXAMPLES", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["ogb_example.py", "--root", str(tmp_path)])
    with pytest.raises(SystemExit, match="gnn.py: place OGB's example there"):
        ogb_example.main()


# two evaluations as OGB's gnn.py prints them (Hits@10, @20, @30 after each)
LOG = """Hits@10
Run: 01, Epoch: 05, Loss: 0.5682, Train: 9.00%, Valid: 8.00%, Test: 4.00%
Hits@20
Run: 01, Epoch: 05, Loss: 0.5682, Train: 14.18%, Valid: 12.65%, Test: 6.83%
Hits@30
Run: 01, Epoch: 05, Loss: 0.5682, Train: 19.00%, Valid: 18.00%, Test: 9.00%
---
Hits@20
Run: 01, Epoch: 10, Loss: 0.3946, Train: 28.57%, Valid: 25.27%, Test: 14.96%
"""


def test_the_example_log_beside_a_glt_report(tmp_path, capsys):
    from glt.recipes.report import RunRecord, RunReport
    log = tmp_path / "log.txt"
    log.write_text(LOG)
    assert ogb_example.example_curve(str(log), "hits@20") == {5: 12.65, 10: 25.27}
    runs = [RunRecord(0, 10, 10, 0.3, 0.2, 1.0, curve=[(5, 0.10), (10, 0.30)]),
            RunRecord(1, 5, 10, 0.3, 0.2, 1.0, curve=[(5, 0.20), (10, 0.24)])]
    report = tmp_path / "r.json"
    report.write_text(json.dumps(
        RunReport("link-sage", "ogbl-ddi", "hits@20", runs, {}).to_dict()))
    ogb_example.compare(str(log), str(report))
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == ["5 | 12.65 | 10.00-20.00 | yes", "10 | 25.27 | 24.00-30.00 | yes"]
    assert out[3].endswith("OGB's example 25.27; glt 24.00-30.00 (mean 27.00, seeds [0, 1])")
    with pytest.raises(SystemExit, match="no 'Hits@50'"):
        ogb_example.example_curve(str(log), "hits@50")
