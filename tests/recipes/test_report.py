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


@pytest.mark.parametrize("metric, value, text, label", [
    ("acc", 0.8139, "81.39", "accuracy"), ("hits@20", 0.5390, "53.90", "Hits@20"),
    ("rocauc", 0.7251, "72.51", "ROC-AUC"), ("mrr", 0.84741, "0.8474", "MRR"),
    ("recall@20", 0.1823, "0.1823", "recall@20"), ("ndcg@20", None, "—", "ndcg@20")])
def test_figures_are_written_as_the_leaderboards_write_them(metric, value, text, label):
    """OGB's leaderboards: accuracy, Hits@K and ROC-AUC in percent, MRR a fraction
    (0.8474 ± 0.0021 for citation2's GCN); the papers' recall / ndcg fractions."""
    from glt.recipes.report import format_metric, metric_label
    assert format_metric(metric, value) == text and metric_label(metric) == label
