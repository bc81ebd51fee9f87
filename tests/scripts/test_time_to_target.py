"""scripts/time_to_target.py: the first epoch at a target figure and the training
time to it, for glt's run reports and for the UltraGCN authors' logs."""
import importlib.util
import json
import pathlib
import sys

import pytest

from glt.recipes.report import RunRecord, RunReport

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "time_to_target.py"
spec = importlib.util.spec_from_file_location("time_to_target", SCRIPT)
ttt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ttt)

# three evaluations as the UltraGCN authors' main.py prints them (their ml-1m log)
AUTHORS_LOG = """Total training batches = 778
The time for epoch 0 is: train time = 00: 00: 51, test time = 00: 00: 03
Loss = 20.85748, F1-score: 0.092476 \t Precision: 0.07704\t Recall: 0.11564\tNDCG: 0.11646
The time for epoch 5 is: train time = 00: 00: 41, test time = 00: 00: 03
Loss = 17.42431, F1-score: 0.091260 \t Precision: 0.07614\t Recall: 0.11388\tNDCG: 0.11565
The time for epoch 10 is: train time = 00: 00: 35, test time = 00: 00: 03
Loss = 17.75606, F1-score: 0.090910 \t Precision: 0.07566\t Recall: 0.11385\tNDCG: 0.11437
The time for epoch 15 is: train time = 01: 00: 32, test time = 00: 00: 02
Loss = 17.32856, F1-score: 0.130713 \t Precision: 0.10886\t Recall: 0.16355\tNDCG: 0.17062
"""


def test_authors_log_is_summed_per_epoch(tmp_path):
    log = tmp_path / "log.md"
    log.write_text(AUTHORS_LOG)
    # the log's epoch N is N + 1 epochs trained: epoch 0 once, then each logged time
    # for the 5 epochs up to it
    assert ttt.authors_curve(str(log)) == [(1, 0.11564, 51.0), (6, 0.11388, 256.0),
                                           (11, 0.11385, 431.0),
                                           (16, 0.16355, 431.0 + 5 * 3632)]


def test_a_file_without_the_log_lines_is_refused(tmp_path):
    log = tmp_path / "log.md"
    log.write_text("Recall@20 = 0.18\n")
    with pytest.raises(SystemExit, match="no 'The time for epoch'"):
        ttt.authors_curve(str(log))


def test_first_reaching():
    run = RunRecord(0, 10, 10, None, 0.3, 100.0, curve=[(5, 0.2), (10, 0.3), (15, 0.31)])
    assert run.first_reaching(0.3) == 10 and run.first_reaching(0.2) == 5
    assert run.first_reaching(0.4) is None


def test_report_with_and_without_a_history(tmp_path, capsys, monkeypatch):
    runs = [RunRecord(0, 10, 10, None, 0.3, 100.0, curve=[(5, 0.2), (10, 0.3)]),
            RunRecord(1, 10, 20, None, 0.25, 200.0, curve=[(5, 0.1), (10, 0.25)])]
    # epoch 3 holds a 1,000 s pause: the sum counts it, the median-based figure does not
    history = [[{"epoch": e, "seconds": 1007.0 if e == 3 else 7.0} for e in range(1, 11)], None]
    report = RunReport("ultragcn", "ml-1m", "recall@20", runs, {}, hardware="cpu",
                       extra={"histories": history})
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report.to_dict()))
    monkeypatch.setattr(sys, "argv", ["t", str(path), "--target", "0.25"])
    ttt.main()
    out = capsys.readouterr().out
    assert "seed 0: epoch 10, 1070 s of training (median epoch 7.0 s x 10 = 70 s)" in out
    assert "seed 1: epoch 10, about 100 s of training (prorated)" in out


def test_both_sides_count_epochs_trained(tmp_path, capsys, monkeypatch):
    """The log's ``epoch 15`` (numbered from 0) is reported as 16 epochs trained, the
    way glt's epochs are numbered (from 1)."""
    log = tmp_path / "log.md"
    log.write_text(AUTHORS_LOG)
    runs = [RunRecord(0, 11, 11, None, 0.12, 100.0, curve=[(6, 0.1), (11, 0.12)])]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RunReport("ultragcn", "ml-1m", "recall@20", runs, {},
                                         hardware="cpu").to_dict()))
    monkeypatch.setattr(sys, "argv", ["t", str(path), "--target", "0.12",
                                      "--authors-log", str(log)])
    ttt.main()
    out = capsys.readouterr().out
    assert "glt seed 0: epoch 11, about 100 s of training (prorated)" in out
    assert "authors' log: epoch 16, 18591 s of training" in out


def test_curves_side_by_side(tmp_path, capsys, monkeypatch):
    log = tmp_path / "log.md"
    log.write_text(AUTHORS_LOG)
    runs = [RunRecord(0, 10, 10, None, 0.3, 100.0, curve=[(1, 0.1), (5, 0.2), (11, 0.3)])]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RunReport("ultragcn", "ml-1m", "recall@20", runs, {},
                                         hardware="cpu").to_dict()))
    monkeypatch.setattr(sys, "argv", ["t", str(path), "--target", "0.25", "--authors-log",
                                      str(log), "--curve", "3"])
    ttt.main()
    out = capsys.readouterr().out
    assert "authors' log: not reached (best 0.1636 at epoch 16)" in out
    lines = out.splitlines()[-3:]
    # the log's epoch N is N + 1 epochs trained; glt's nearest evaluation is marked
    assert lines == ["  1 | 0.11564 | 0.10000", "  6 | 0.11388 | 0.20000 (epoch 5)",
                     "  11 | 0.11385 | 0.30000"]
