"""scripts/ogb_example.py: the run-time stand-in for torch_sparse's ``coo()`` and the
message when OGB's example is not in place."""
import importlib.util
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
