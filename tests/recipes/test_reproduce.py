"""The reproduction table: entries found by their data, quick runs, table, PNG."""
import json
import os

import pytest

from glt.datasets.testing import write_lightgcn
from glt.recipes import RECIPES, reproduce


def test_every_entry_composes_options_its_recipe_has():
    for entry in reproduce.ENTRIES:
        recipe = RECIPES[entry.run]
        args = recipe.parser().parse_args([*recipe.lead])
        for key in {**entry.options, **(entry.quick or {})}:
            assert hasattr(args, key), (entry.model, entry.dataset, key)
        if entry.run not in ("lightgcn", "ultragcn"):  # a folder picks its own preset
            for key, value in entry.options.items():
                setattr(args, key, value)
            assert recipe.preset_name(args) in recipe.presets


def test_data_root_finds_what_is_on_disk(tmp_path):
    by_name = {(e.model, e.dataset): e for e in reproduce.ENTRIES}
    cora, lightgcn = by_name[("GCN", "cora")], by_name[("LightGCN", "ml-1m")]
    arxiv = by_name[("LA-GCN", "ogbn-arxiv")]
    assert reproduce.data_root(cora, None) == ""  # bundled
    assert reproduce.data_root(lightgcn, None) is None
    assert reproduce.data_root(lightgcn, str(tmp_path)) is None
    write_lightgcn(str(tmp_path / "rec" / "ml-1m"))
    assert reproduce.data_root(lightgcn, str(tmp_path)) == str(tmp_path / "rec")
    assert reproduce.data_root(arxiv, str(tmp_path)) is None
    os.makedirs(tmp_path / "ogb" / "ogbn_arxiv")
    assert reproduce.data_root(arxiv, str(tmp_path)) == str(tmp_path / "ogb")


def test_quick_table_with_recommendation_sets(tmp_path, capsys):
    root, out = tmp_path / "data", str(tmp_path / "out")
    write_lightgcn(str(root / "rec" / "ml-1m"), num_users=25, num_items=30, per_user=6)
    rows = reproduce.main(["--quick", "--root", str(root), "--only", "LightGCN", "UltraGCN",
                           "--out", out])
    assert [(r["model"], r["dataset"]) for r in rows] == [
        ("LightGCN", "gowalla-slice"), ("UltraGCN", "gowalla-slice"), ("LightGCN", "ml-1m"),
        ("UltraGCN", "ml-1m")]
    for r in rows[2:]:
        assert r["metric"] == "recall@20" and 0.0 <= r["glt"] <= 1.0
        assert [epoch for epoch, _ in r["curve"]] == [1, 2]
        assert r["command"].startswith(f"glt train {r['model'].lower()} --dataset ml-1m")
    for r in rows[:2]:  # the bundled slice: a few epochs move recall@20 visibly
        assert [epoch for epoch, _ in r["curve"]] == [1, 2, 3, 4, 5]
        assert r["curve"][-1][1] > 2 * r["curve"][0][1] and r["paper"] is None
        assert "full gowalla's: not comparable" in r["note"]
    assert rows[3]["paper"] == 0.2787
    text = capsys.readouterr().out
    assert "| UltraGCN | ml-1m | recall@20 |" in text and "0.2787" in text
    assert "UltraGCN on gowalla (not in --quick)" in text
    assert json.load(open(os.path.join(out, "reproduce.json")))[0]["model"] == "LightGCN"
    assert "| LightGCN | gowalla-slice | recall@20 |" in text
    with open(os.path.join(out, "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(out, "runs", "ultragcn_UltraGCN_ml-1m.json"))


def test_quick_node_classification_on_bundled_cora(tmp_path):
    rows = reproduce.main(["--quick", "--only", "GCN", "--out", str(tmp_path)])
    (row,) = rows
    assert row["paper"] == 0.815 and row["runs"] == 1 and row["glt"] > 0.75
    assert len(row["curve"]) == 200 and max(v for _, v in row["curve"]) > 0.75


def test_an_unknown_model_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        reproduce.main(["--only", "GCN", "LightGNC", "--out", str(tmp_path)])
    assert capsys.readouterr().err == (
        "glt: error: argument --only: no model named lightgnc; expected some of GCN, GAT, "
        "SAGE, LA-GCN, LA-GAT, LargeGT, LightGCN, UltraGCN, GraphSAGE, LA-SAGE, "
        "GraphSAGE (val as input)\n")


def test_nothing_to_run_is_said(tmp_path):
    with pytest.raises(SystemExit, match="nothing to run.*GraphSAGE on ogbl-ddi"):
        reproduce.main(["--only", "GraphSAGE", "--out", str(tmp_path)])


def test_out_and_device_are_checked_before_any_row_runs(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for argv, message in ((["--out", str(blocker)], f"--out: {blocker} is a file; expected a "
                                                    f"folder"),
                          (["--device", "tpu9"], "--device: unknown device 'tpu9'")):
        with pytest.raises(SystemExit) as stop:
            reproduce.main(["--quick", "--only", "GCN", *argv])
        assert stop.value.code == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(f"glt: error: argument {message}")


def test_a_root_without_sets_stops_before_any_row_runs(tmp_path, capsys):
    (tmp_path / "rec-typo").mkdir()
    for root, message in ((tmp_path / "nowhere", f"no such folder: {tmp_path / 'nowhere'}"),
                          (tmp_path, f"{tmp_path} holds neither rec/ nor ogb/ (give the "
                                     f"folder that holds them, or --download")):
        with pytest.raises(SystemExit) as stop:
            reproduce.main(["--quick", "--root", str(root), "--out", str(tmp_path / "out")])
        assert stop.value.code == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(f"glt: error: argument --root: {message}")


def test_quick_link_rows_with_an_ogb_link_release(tmp_path, capsys):
    from glt.datasets.testing import write_ogb
    root, out = tmp_path / "data", str(tmp_path / "out")
    write_ogb(str(root / "ogb"), "ogbl-ddi", num_nodes=60, num_edges=400)
    rows = reproduce.main(["--quick", "--root", str(root), "--only", "GraphSAGE",
                           "--out", out])
    (row,) = rows
    assert (row["model"], row["dataset"], row["metric"]) == ("GraphSAGE", "ogbl-ddi", "hits@20")
    assert row["paper"] == 0.5390 and 0.0 <= row["glt"] <= 1.0 and len(row["curve"]) == 1
    assert row["command"].startswith("glt train link --model sage --dataset ogbl-ddi")
    assert "| GraphSAGE | ogbl-ddi | hits@20 |" in capsys.readouterr().out
    # OGB's leaderboard entry with the validation edges joining the test graph
    write_ogb(str(root / "ogb"), "ogbl-collab", num_nodes=60, num_edges=400, num_features=4)
    (row,) = reproduce.main(["--quick", "--root", str(root), "--only",
                             "GraphSAGE (val as input)", "--out", out])
    assert (row["dataset"], row["paper"]) == ("ogbl-collab", 0.5463)
    assert "--use-valid-as-input" in row["command"]
    md = os.path.join(out, "runs", "link_GraphSAGE-val-as-input_ogbl-collab.md")
    assert "| GraphSAGE (val as input) (glt, 1 run) | No |" in open(md).read()


def test_download_fetches_missing_sets_from_their_sources(shared_data, tmp_path,
                                                          monkeypatch, capsys):
    """Offline, against a server on 127.0.0.1 standing in for the sources
    ($GLT_DOWNLOAD_MIRROR maps https://host/path to <mirror>/host/path)."""
    import functools
    import http.server
    import threading
    serve = tmp_path / "mirror"
    target = serve / "raw.githubusercontent.com" / "xue-pai" / "UltraGCN" / "main" / "data"
    os.makedirs(target)
    import shutil
    shutil.copytree(os.path.join(shared_data, "rec", "ml-1m"), target / "ml-1m")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GLT_DOWNLOAD_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}")
        root = str(tmp_path / "data")
        assert reproduce.fetch("ml-1m", root) is None  # verified against the registry
        assert reproduce.data_root(next(e for e in reproduce.ENTRIES if e.dataset == "ml-1m"),
                                   root) == os.path.join(root, "rec")
        line = reproduce.fetch("gowalla", root)  # not on the mirror: a 404
        assert line.startswith("gowalla: could not download http://127.0.0.1:") and \
            "Without internet, place the file there by hand" in line
        (target / "ml-1m" / "test.txt").write_text("0 1\n")  # tampered
        line = reproduce.fetch("ml-1m", str(tmp_path / "other"))
        assert "ml-1m: the download of" in line and "test.txt has" in line
    finally:
        httpd.shutdown()
        httpd.server_close()
    monkeypatch.setenv("GLT_DOWNLOAD_MIRROR", "http://127.0.0.1:9")  # nothing listens: offline
    with pytest.raises(SystemExit, match="nothing to run"):
        reproduce.main(["--download", "--root", str(tmp_path / "empty"), "--only", "GraphSAGE",
                        "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "not downloaded: ogbl-ddi: could not download http://127.0.0.1:9/snap.stanford.edu/" \
           "ogb/data/linkproppred/ddi.zip" in out


def test_every_metric_gets_a_curve_panel(tmp_path):
    """Hits@50 (collab), Hits@100 (ppa) and ROC-AUC (proteins) were left out of the
    PNG, which knew three metrics by name."""
    rows = [{"model": m, "dataset": "d", "metric": metric, "curve": [(1, 0.1), (2, 0.2)]}
            for m, metric in (("GCN", "acc"), ("LightGCN", "recall@20"), ("GCN", "hits@50"),
                              ("GCN", "rocauc"), ("GCN", "mrr"))]
    labels = [reproduce._panel_label(r["metric"]) for r in rows]
    assert labels == ["validation accuracy (first run)", "test recall@20",
                      "validation Hits@50 (first run)", "validation ROC-AUC (first run)",
                      "validation MRR (first run)"]
    reproduce.plot(rows, str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_list_shows_the_selected_rows_and_runs_nothing(tmp_path, capsys):
    from glt.datasets.testing import write_ogb
    root = tmp_path / "data"
    write_ogb(str(root / "ogb"), "ogbl-collab", num_nodes=30, num_edges=100)
    out = str(tmp_path / "out")
    assert reproduce.main(["--list", "--root", str(root), "--datasets", "ogbl-collab",
                           "Cora", "--only", "GraphSAGE", "GCN", "--out", out]) == []
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| model | dataset | metric | paper | source | data |"
    assert lines[2:] == [
        "| GCN | cora | accuracy | 81.50 | Kipf & Welling 2017 | found |",
        "| GraphSAGE | ogbl-collab | Hits@50 | 48.10 | OGB leaderboard (its example code) "
        "| found |",
        "| GCN | ogbl-collab | Hits@50 | 44.75 | OGB leaderboard (its example code) | found |"]
    assert not os.path.exists(os.path.join(out, "reproduce.json"))
    with pytest.raises(SystemExit):
        reproduce.main(["--list", "--datasets", "ogbl-colab", "--out", out])
    assert "argument --datasets: no dataset named ogbl-colab; expected some of cora, " \
           in capsys.readouterr().err
    # models and datasets that each exist but share no row: said, not "nothing to run: "
    with pytest.raises(SystemExit):
        reproduce.main(["--only", "GCN", "--datasets", "gowalla", "--out", out])
    assert ("arguments --only and --datasets: no row has GCN on gowalla; the rows of those "
            "models: GCN on cora, GCN on ogbn-arxiv,") in capsys.readouterr().err
