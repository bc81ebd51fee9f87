import copy
import json
import os

import pytest
import torch

from glt.datasets import load_ogb
from glt.models import GCN
from glt.recipes import RECIPES
from glt.recipes.node import PRESETS, load_node_set, model_from_checkpoint
from glt.train.checkpoint import run_identity, save_checkpoint
from glt.train.metrics import accuracy
from glt.train.node import NodeTrainConfig, train_nodes
from glt.train.sources import FullGraph


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


@pytest.mark.parametrize("model, cls", [("gcn", "GCN"), ("sage", "GraphSAGE"), ("gat", "GAT")])
def test_model_from_checkpoint_scores_as_the_run_did(tmp_path, model, cls):
    report = RECIPES[model].main(["--runs", "1", "--epochs", "20", "--lr", "0.5", "--quiet",
                                  "--checkpoint", str(tmp_path)])
    run, path = report.runs[0], str(tmp_path / "seed0.pt")
    assert run.best_epoch < 20  # so the best and the last weights differ
    data, _ = load_node_set("cora")
    val, test = data.val_mask, data.test_mask
    for weights, epoch in (("best", run.best_epoch), ("last", 20)):
        net = model_from_checkpoint(path, data, weights)
        assert type(net).__name__ == cls and not net.training
        logits = net(data.x, data.graph)
        assert accuracy(logits[val], data.y[val]) == dict(run.curve)[epoch]
        if weights == "best":
            assert accuracy(logits[test], data.y[test]) == run.test
            dense = copy.copy(data)
            dense.x = data.x.to_dense()  # the layout on a GPU: the same data
            torch.testing.assert_close(model_from_checkpoint(path, dense)(dense.x, dense.graph),
                                       logits, rtol=1e-4, atol=1e-4)


def test_model_from_checkpoint_refuses_what_it_cannot_rebuild(tmp_path):
    RECIPES["gcn"].main(["--runs", "1", "--epochs", "2", "--quiet", "--checkpoint",
                         str(tmp_path)])
    path = str(tmp_path / "seed0.pt")
    data, _ = load_node_set("cora")
    other = copy.copy(data)
    other.train_mask, other.val_mask = data.val_mask, data.train_mask
    with pytest.raises(ValueError, match="trained on other data"):
        model_from_checkpoint(path, other)
    with pytest.raises(ValueError, match="expected weights 'best' or 'last'"):
        model_from_checkpoint(path, data, weights="first")
    library = str(tmp_path / "library")  # a library run given no settings=
    train_nodes(GCN(data.num_features, 16, data.num_classes), FullGraph(data), data,
                NodeTrainConfig(1, 0.01), checkpoint=library)
    with pytest.raises(ValueError, match="records too few settings to rebuild its model"):
        model_from_checkpoint(os.path.join(library, "seed0.pt"), data)
    linear = torch.nn.Linear(2, 2)
    foreign = str(tmp_path / "linear.pt")
    save_checkpoint(foreign, run_identity(linear, "x", {}), linear,
                    torch.optim.SGD(linear.parameters(), lr=0.1), torch.Generator(), {})
    with pytest.raises(ValueError, match="holds a 'Linear' model; this reads GCN, GAT, "
                                         "GraphSAGE checkpoints"):
        model_from_checkpoint(foreign, data)


@pytest.mark.parametrize("model, name, extra", [
    ("gcn", "ogbn-arxiv", []),
    ("sage", "ogbn-arxiv", []),
    ("sage", "ogbn-products", ["--batch-size", "16", "--eval-after", "0"]),  # sampled batches
])
def test_ogb_examples_score_with_ogbs_evaluator(tmp_path, model, name, extra):
    """OGB's example models on a fixture in OGB's layout: the reported test
    accuracy is ogb's Evaluator on the selected weights' full-graph predictions,
    rebuilt from the checkpoint on the data as the recipe loads it (arxiv
    symmetrised)."""
    from ogb.nodeproppred import Evaluator

    from glt.datasets.testing import write_ogb
    write_ogb(str(tmp_path), name, num_nodes=80, num_edges=300, num_features=6)
    folder = str(tmp_path / "ckpt")
    report = RECIPES[model].main(["--dataset", name, "--root", str(tmp_path), "--runs", "1",
                                  "--epochs", "3", "--quiet", "--checkpoint", folder] + extra)
    assert report.preset == f"{model}/{name}" and report.settings["hidden"] == 256
    data, _ = load_node_set(name, str(tmp_path))
    def symmetric(graph):
        edges = set(map(tuple, graph.edge_index().t().tolist()))
        return edges == {(b, a) for a, b in edges}
    assert symmetric(data.graph)  # arxiv's citations symmetrised; products' released so
    assert symmetric(load_ogb(name, str(tmp_path)).graph) == (name == "ogbn-products")
    net = model_from_checkpoint(f"{folder}/seed0.pt", data)
    assert len(net.convs) == 3 and (net.norms is not None) == (name == "ogbn-arxiv")
    with torch.no_grad():
        y_pred = net(data.x, data.graph).argmax(-1, keepdim=True)
    test = data.test_mask
    ours = Evaluator(name).eval({"y_true": data.y[test].view(-1, 1), "y_pred": y_pred[test]})
    assert report.runs[0].test == pytest.approx(ours["acc"])


@pytest.mark.parametrize("model, params", [("gcn", 96_880), ("sage", 193_136)])
def test_ogbn_proteins_is_ogbs_example(tmp_path, model, params, monkeypatch):
    """ogbn-proteins, OGB's example: node features the mean of the 8 edge features
    of each node's incoming edges (PyG's scatter on OGB's own PyG loader as the
    oracle), 112 binary tasks under a binary cross-entropy, the leaderboard's
    #Params, and the reported test ROC-AUC ogb's Evaluator on the selected
    weights' logits."""
    from ogb.nodeproppred import Evaluator, PygNodePropPredDataset
    from torch_geometric.utils import scatter

    from glt.datasets.testing import write_ogb
    from tests.oracles import numpy2_pickle_names
    write_ogb(str(tmp_path), "ogbn-proteins", num_nodes=80, num_edges=400, seed=1)
    folder = str(tmp_path / "ckpt")
    report = RECIPES[model].main(["--dataset", "ogbn-proteins", "--root", str(tmp_path),
                                  "--runs", "1", "--epochs", "10", "--quiet",
                                  "--checkpoint", folder])
    assert report.metric == "rocauc" and report.preset == f"{model}/ogbn-proteins"
    assert [e for e, _ in report.runs[0].curve] == [5, 10]  # every 5th epoch, as OGB's
    data, _ = load_node_set("ogbn-proteins", str(tmp_path))
    real = torch.load  # ogb 1.3.6 reads its own processed file as torch did before 2.6
    monkeypatch.setattr(torch, "load", lambda *a, **k: real(*a, **{**k, "weights_only": False}))
    with numpy2_pickle_names():
        theirs = PygNodePropPredDataset("ogbn-proteins", root=str(tmp_path))[0]
    expected = scatter(theirs.edge_attr, theirs.edge_index[1], 0, dim_size=80, reduce="mean")
    torch.testing.assert_close(data.x, expected)
    net = model_from_checkpoint(f"{folder}/seed0.pt", data)
    assert sum(p.numel() for p in net.parameters()) == params
    with torch.no_grad():
        y_pred = net(data.x, data.graph)
    test = data.test_mask
    ours = Evaluator("ogbn-proteins").eval({"y_true": data.y[test], "y_pred": y_pred[test]})
    assert report.runs[0].test == pytest.approx(ours["rocauc"])


def test_ogb_sets_have_presets_for_ogbs_examples_only(tmp_path):
    with pytest.raises(ValueError, match="no GAT preset for ogbn-arxiv"):
        RECIPES["gat"].main(["--dataset", "ogbn-arxiv", "--quiet"])


def test_sampled_neighbourhoods_on_planetoid(tmp_path):
    """``--mode mini`` trains Cora's bag-of-words model on sampled batches
    (sparse feature rows gathered per batch); ``--evaluate full`` scores every node
    from the whole graph, as the rebuilt model does."""
    folder = str(tmp_path / "ckpt")
    report = RECIPES["sage"].main(["--mode", "mini", "--fanouts", "5", "5", "--batch-size", "32",
                                   "--evaluate", "full", "--runs", "1", "--epochs", "4",
                                   "--quiet", "--checkpoint", folder])
    data, _ = load_node_set("cora")
    net = model_from_checkpoint(f"{folder}/seed0.pt", data)
    with torch.no_grad():
        logits = net(data.x, data.graph)
    test = data.test_mask
    assert report.runs[0].test == pytest.approx(accuracy(logits[test], data.y[test]))
    with pytest.raises(ValueError, match="--mode mini needs --fanouts and --batch-size"):
        RECIPES["gcn"].main(["--mode", "mini", "--quiet"])
    with pytest.raises(ValueError, match="apply to GCN and GraphSAGE, not GAT"):
        RECIPES["gat"].main(["--batch-norm", "--quiet"])


def test_quiet_runs_log_nothing_of_their_own(tmp_path, caplog):
    """A set's first load says it processes the release, except under --quiet."""
    import logging

    from glt.datasets.testing import write_ogb
    caplog.set_level(logging.INFO)
    for quiet, root in ((True, tmp_path / "a"), (False, tmp_path / "b")):
        write_ogb(str(root), "ogbn-arxiv", num_nodes=40, num_edges=120, num_features=4)
        caplog.clear()
        RECIPES["gcn"].main(["--dataset", "ogbn-arxiv", "--root", str(root), "--runs", "1",
                             "--epochs", "1"] + ["--quiet"] * quiet)
        assert ("processing ogbn-arxiv (first load" in caplog.text) is not quiet
    assert logging.getLogger("glt").level == logging.NOTSET  # as it was before the runs


def test_full_and_random_splits(tmp_path):
    """``--split`` trains on PyG's full or random split of a Planetoid set, and the
    report says which; an OGB set keeps its own split."""
    from glt.datasets import load_planetoid
    out = str(tmp_path / "r.json")
    report = RECIPES["gcn"].main(["--split", "random", "--split-seed", "4", "--runs", "1",
                                  "--epochs", "3", "--quiet", "--checkpoint",
                                  str(tmp_path / "ckpt"), "--out", out])
    assert report.extra == {"split": "random", "split_seed": 4}
    with open(out) as f:
        assert json.load(f)["extra"] == {"split": "random", "split_seed": 4}
    data, _ = load_node_set("cora", split="random", split_seed=4)
    assert torch.equal(data.train_mask, load_planetoid("cora", split="random", seed=4).train_mask)
    model_from_checkpoint(str(tmp_path / "ckpt" / "seed0.pt"), data)  # its data: the split's
    with pytest.raises(ValueError, match="trained on other data"):
        model_from_checkpoint(str(tmp_path / "ckpt" / "seed0.pt"), load_node_set("cora")[0])
    assert RECIPES["gcn"].main(["--split", "full", "--runs", "1", "--epochs", "1",
                                "--quiet"]).extra == {"split": "full"}
    with pytest.raises(ValueError, match="ogbn-arxiv comes with OGB's split; --split full "
                                         "applies to the Planetoid sets"):
        RECIPES["gcn"].main(["--dataset", "ogbn-arxiv", "--split", "full", "--quiet"])
