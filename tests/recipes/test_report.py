"""The run report: every recorded result under results/ reads back, and files
that are not reports are refused with their name."""
import json
import pathlib

import pytest

from glt.recipes.report import RunRecord, RunReport, read_report

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "results"


def test_every_recorded_result_reads_back():
    paths = [p for p in sorted(RESULTS.rglob("*.json")) if "reproduce" not in p.name]
    assert len(paths) >= 30
    for path in paths:
        report = read_report(str(path))
        saved = json.loads(path.read_text())
        assert report.test_mean == pytest.approx(saved["test_mean"]), path
        assert len(report.runs) == saved["num_runs"], path


def test_round_trip_and_one_run_std():
    report = RunReport("gcn", "Cora", "acc", [RunRecord(0, 5, 10, 0.7, 0.8, 1.0)], {})
    again = RunReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report and again.test_std == 0.0 and again.valid_mean == 0.7


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not JSON"),
    ("[1, 2]", "is not a glt run report"),
    ('{"model": "gcn"}', "not a glt run report: no dataset, metric, runs, settings"),
    ('{"model": "gcn", "dataset": "d", "metric": "acc", "settings": {}, "runs": [{"seed": 0}]}',
     "r.json"),
])
def test_files_that_are_not_reports_are_named(tmp_path, text, message):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_report(str(path))
