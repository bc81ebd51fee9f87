import json

import pytest
import torch

from glt._unpickle import load_weights
from glt.datasets.testing import write_planetoid
from glt.models.lagnn import CVAE, write_lagnn_code_generator
import glt.recipes.lagnn as lagnn
from glt.recipes import RECIPES
from glt.recipes.node import model_from_checkpoint as node_model_from_checkpoint
import glt.train.checkpoint as checkpoint
from glt.train.checkpoint import read_checkpoint
from glt.train.lagnn import augmentation
from glt.train.metrics import accuracy

LAGNN = RECIPES["lagnn"]


@pytest.fixture
def root(tmp_path) -> list[str]:
    """A small PubMed-format fixture: the real loader, but seconds to train on."""
    write_planetoid(str(tmp_path / "data" / "PubMed" / "raw"), "pubmed", num_features=8)
    return ["--dataset", "pubmed", "--root", str(tmp_path / "data")]


def test_runs_compares_and_reuses_the_generator(tmp_path, root):
    gen, out = str(tmp_path / "cvae.pt"), str(tmp_path / "r.json")
    args = root + ["--runs", "1", "--epochs", "3", "--cvae-epochs", "1", "--compare",
                   "--no-select", "--quiet", "--generator", gen, "--out", out]
    first = LAGNN.main(args)
    with open(out) as f:
        written = json.load(f)
    for key in ("model", "dataset", "metric", "test_mean", "test_std", "valid_mean", "runs",
                "seconds", "settings", "hardware", "versions", "command"):
        assert key in written
    assert written["model"] == "la-gcn" and "backbone" in written["extra"]
    plain = written["extra"]["backbone"]["runs"]  # the plain GCN's runs, seed by seed
    assert [r["seed"] for r in plain] == [0] and plain[0]["test"] == \
        written["extra"]["backbone"]["test_mean"]
    second = LAGNN.main(args)  # loads the saved generator instead of pretraining
    assert second.extra["cvae_seconds"] < first.extra["cvae_seconds"]


def test_generator_of_another_feature_size(tmp_path, root):
    gen = str(tmp_path / "other.pt")
    CVAE(5, hidden=4, latent=2).save(gen)
    with pytest.raises(ValueError, match="trained on 5 features; PubMed has 8"):
        LAGNN.main(root + ["--runs", "1", "--epochs", "1", "--quiet", "--generator", gen])


def test_the_la_gnn_codes_generator_is_used_as_it_is(tmp_path, root, monkeypatch):
    path = str(tmp_path / "pubmed.pkl")
    write_lagnn_code_generator(CVAE(8, hidden=4, latent=2), path)
    monkeypatch.setattr(lagnn, "pretrain_generator", None)  # no pretraining may run
    monkeypatch.setattr(lagnn, "train_cvae", None)
    result = LAGNN.main(root + ["--runs", "1", "--epochs", "2", "--quiet",
                                    "--lagnn-generator", path])
    assert len(result.runs) == 1 and 0.0 <= result.test_mean <= 1.0
    assert result.extra["generator"] == {"file": path, "format": "lagnn-code"}
    other = str(tmp_path / "other.pkl")
    write_lagnn_code_generator(CVAE(5, hidden=4, latent=2), other)
    with pytest.raises(ValueError, match="trained on 5 features; PubMed has 8"):
        LAGNN.main(root + ["--runs", "1", "--epochs", "1", "--quiet",
                               "--lagnn-generator", other])
    with pytest.raises(ValueError, match="not both"):
        LAGNN.main(root + ["--quiet", "--lagnn-generator", path, "--generator", other])


def test_the_la_gnn_codes_ogb_generator_generates_as_the_code(tmp_path, monkeypatch):
    """Its batch norms take the statistics of decoding every node at once."""
    from glt.datasets.testing import write_ogb
    write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=40, num_edges=120, num_features=6)
    path = str(tmp_path / "arxiv.pkl")
    write_lagnn_code_generator(CVAE(6, hidden=4, latent=2, variant="ogb"), path)
    seen = []
    real = lagnn.augmentation
    monkeypatch.setattr(lagnn, "augmentation",
                        lambda cvae, *a: seen.append(cvae) or real(cvae, *a))
    LAGNN.main(["--dataset", "ogbn-arxiv", "--root", str(tmp_path), "--runs", "1",
                    "--epochs", "1", "--quiet", "--lagnn-generator", path])
    norm = seen[0].decoder[2]
    assert int(norm.num_batches_tracked) == 0 and not torch.equal(norm.running_var,
                                                                   torch.ones(6))


def test_generator_selection_path(tmp_path, root, monkeypatch):
    monkeypatch.setitem(lagnn.PRESETS, "gcn/pubmed",
                        dict(lagnn.PRESETS["gcn/pubmed"], num_models=2, warmup=3,
                             update_epochs=1))
    result = LAGNN.main(root + ["--runs", "1", "--epochs", "2", "--cvae-epochs", "1",
                                    "--quiet"])
    assert result.settings["num_inputs"] == 4 and len(result.runs) == 1


@pytest.mark.parametrize("model,name,extra", [
    ("gcn", "ogbn-arxiv", []),                                   # full batch
    ("sage", "ogbn-products", ["--batch-size", "16"]),           # sampled mini-batches
    ("sage", "ogbn-products", ["--batch-size", "16", "--evaluate", "sampled"]),
])
def test_ogb_presets_run_on_fixtures(tmp_path, model, name, extra, monkeypatch):
    from glt.datasets.testing import write_ogb
    write_ogb(str(tmp_path), name, num_nodes=80, num_edges=300, num_features=6)
    built, real = [], lagnn.la_backbone
    monkeypatch.setattr(lagnn, "la_backbone",
                        lambda *a, **kw: built.append(real(*a, **kw)) or built[-1])
    out = str(tmp_path / "r.json")
    result = LAGNN.main(["--model", model, "--dataset", name, "--root", str(tmp_path),
                             "--runs", "2", "--epochs", "2", "--compare", "--quiet",
                             "--out", out] + extra)
    with open(out) as f:
        written = json.load(f)
    assert written["dataset"] == name and written["num_runs"] == 2
    assert written["settings"]["mode"] == ("mini" if name == "ogbn-products" else "full")
    for acc in (result.test_mean, result.extra["backbone"]["test_mean"]):
        assert 0.0 <= acc <= 1.0
    la = built[-1]  # the preset's layout reached the model
    if name == "ogbn-products":
        assert type(la).__name__ == "LAMean" and la.backbone.norms is None
        # epochs <= 5 skipped, the last always scored; on the whole graph by default
        assert [epoch for epoch, _ in written["runs"][0]["curve"]] == [2]
        assert written["settings"]["evaluate"] == ("sampled" if extra[2:] else "full")
    else:
        assert len(la.norms) == 2 and not la.input_dropout


def test_presets_follow_the_la_gnn_code():
    """semi.sh's Planetoid settings, the GCN layers' initialisation and LA-GAT's ELU
    slope (``--alpha 0.2``); OGB and SAGE keep glt's layers' initialisation."""
    for name in ("cora", "citeseer", "pubmed"):
        assert lagnn.PRESETS[f"gcn/{name}"]["init"] == "lagnn"
        assert lagnn.PRESETS[f"gat/{name}"]["elu_alpha"] == 0.2
        assert lagnn.PRESETS[f"sage/{name}"]["init"] == "glorot"
    assert lagnn.PRESETS["gcn/ogbn-arxiv"]["init"] == "glorot"
    gat = lagnn.PRESETS["gat/cora"]
    assert (gat["epochs"], gat["lr"], gat["heads"], gat["dropout"]) == (1000, 0.01, 4, 0.6)


def test_ogb_presets_follow_the_la_gnn_code():
    """full.sh and the OGB scripts: arxiv LA-GCN (2 samples) / LA-SAGE (4) with batch
    norm and no input dropout, generators trained 20 steps of 64 pairs at lr 1e-5;
    products: one GraphSAGE on the mean input, 4 samples, 10,000 generator steps of
    8,192 pairs; no generator selection on OGB."""
    key = ("samples", "hidden", "num_layers", "lr", "epochs", "batch_norm", "input_dropout",
           "combine", "cvae_batch", "cvae_lr", "cvae_steps", "select", "baseline_hidden")
    for model, samples in (("gcn", 2), ("sage", 4)):
        arxiv = lagnn.PRESETS[f"{model}/ogbn-arxiv"]
        assert tuple(arxiv[k] for k in key) == (samples, 128, 3, 0.01, 500, True, False,
                                                "concat", 64, 1e-5, 20, False, 256)
    products = lagnn.PRESETS["sage/ogbn-products"]
    assert tuple(products[k] for k in key) == (4, 256, 3, 0.003, 20, False, False, "mean",
                                               8192, 1e-5, 10_000, False, 256)
    assert products["fanouts"] == [15, 10, 5] and products["batch_size"] == 1024
    assert (products["evaluate"], products["eval_after"]) == ("full", 5)


def test_missing_preset_is_named():
    with pytest.raises(ValueError, match="no LA-GAT preset for ogbn-arxiv"):
        LAGNN.main(["--model", "gat", "--dataset", "ogbn-arxiv", "--quiet"])


@pytest.mark.parametrize("flag, init", [([], "lagnn"), (["--init", "glorot"], "glorot")])
def test_lagnn_init_flag(tmp_path, root, flag, init):
    """Planetoid LA-GCN presets use the LA-GNN code's initialisation unless told."""
    out = str(tmp_path / "r.json")
    LAGNN.main(root + ["--runs", "1", "--epochs", "2", "--cvae-epochs", "1", "--no-select",
                           "--quiet", "--out", out] + flag)
    with open(out) as f:
        assert json.load(f)["settings"]["init"] == init
    with pytest.raises(ValueError, match="--init lagnn applies to LA-GCN only, not gat"):
        LAGNN.main(root + ["--model", "gat", "--init", "lagnn", "--quiet"])


def test_model_from_checkpoint_scores_as_the_run_did(tmp_path):
    """Real Cora: the restored LA-GCN's validation accuracy on a fresh draw is
    the run's at the selected epoch (best) and at its last one (last)."""
    gen, folder = str(tmp_path / "cvae.pt"), str(tmp_path / "ckpt")
    torch.manual_seed(0)
    CVAE(1433).save(gen)  # an untrained generator: draws that barely vary
    report = LAGNN.main(["--runs", "1", "--epochs", "8", "--lr", "0.2", "--quiet",
                         "--generator", gen, "--checkpoint", folder])
    curve = dict(report.runs[0].curve)
    data, raw_x, normalize = lagnn.load_la_set("cora")
    val = data.val_mask
    for weights, epoch in (("best", report.runs[0].best_epoch), ("last", 8)):
        net = lagnn.model_from_checkpoint(f"{folder}/seed0.pt", data, weights)
        assert type(net.firsts[0]).__name__ == "GCNConv" and not net.training
        draw = augmentation(CVAE.load(gen), raw_x, data.x, net.num_inputs, normalize)
        with torch.no_grad():
            score = accuracy(net(draw(), data.graph)[val], data.y[val])
        assert abs(score - curve[epoch]) <= 0.004  # 2 of the 500 validation nodes
        assert score > 0.5  # trained weights: chance is about 0.14


@pytest.mark.parametrize("model, conv", [("gat", "GATConv"), ("sage", "SAGEConv")])
def test_model_from_checkpoint_finds_the_backbone(tmp_path, root, model, conv, monkeypatch):
    folder = str(tmp_path / "ckpt")
    monkeypatch.setitem(lagnn.PLAIN_PRESETS, model, dict(lagnn.PLAIN_PRESETS[model], epochs=2))
    LAGNN.main(root + ["--model", model, "--runs", "1", "--epochs", "2", "--cvae-epochs",
                       "1", "--no-select", "--quiet", "--compare", "--checkpoint", folder])
    data, _, _ = lagnn.load_la_set("pubmed", root[3])
    reads = []
    monkeypatch.setattr(checkpoint, "load_weights",
                        lambda *a, **k: reads.append(a[0]) or load_weights(*a, **k))
    net = lagnn.model_from_checkpoint(f"{folder}/seed0.pt", data)
    assert type(net.firsts[0]).__name__ == conv and reads == [f"{folder}/seed0.pt"]  # read once
    saved = read_checkpoint(f"{folder}/seed0.pt")["best_model"]
    assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match=r"holds a '(GAT|GraphSAGE)' model; this reads "
                                         r"LAClassifier, LAMean checkpoints"):
        lagnn.model_from_checkpoint(f"{folder}/backbone/seed0.pt", data)
    assert type(node_model_from_checkpoint(f"{folder}/backbone/seed0.pt", data)).__name__ \
        in ("GAT", "GraphSAGE")
    other, _, _ = lagnn.load_la_set("cora")
    with pytest.raises(ValueError, match="trained on other data"):
        lagnn.model_from_checkpoint(f"{folder}/seed0.pt", other)


def test_model_from_checkpoint_of_a_mini_batch_run(tmp_path):
    """ogbn-products' LA-SAGE: one GraphSAGE on the mean of the inputs."""
    from glt.datasets.testing import write_ogb
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=80, num_edges=300, num_features=6)
    folder, gen = str(tmp_path / "ckpt"), str(tmp_path / "cvae.pt")
    LAGNN.main(["--model", "sage", "--dataset", "ogbn-products", "--root", str(tmp_path),
                "--runs", "1", "--epochs", "1", "--batch-size", "16", "--evaluate", "sampled",
                "--cvae-steps", "1", "--quiet", "--checkpoint", folder, "--generator", gen])
    data, raw_x, normalize = lagnn.load_la_set("ogbn-products", str(tmp_path))
    net = lagnn.model_from_checkpoint(f"{folder}/seed0.pt", data, "last")
    assert type(net).__name__ == "LAMean" and type(net.backbone.convs[0]).__name__ == "SAGEConv"
    assert net.num_inputs == lagnn.PRESETS["sage/ogbn-products"]["num_inputs"]
    draw = augmentation(CVAE.load(gen), raw_x, data.x, net.num_inputs, normalize)
    assert net(draw(), data.graph).shape == (80, data.num_classes)


def test_sampled_neighbourhoods_on_planetoid(tmp_path):
    """``--mode mini`` trains on Cora's bag-of-words features (sparse rows gathered
    per batch) from any preset; a preset without sampling settings names them."""
    report = LAGNN.main(["--model", "sage", "--mode", "mini", "--fanouts", "3", "3",
                         "--batch-size", "64", "--evaluate", "full", "--runs", "1", "--epochs",
                         "2", "--cvae-steps", "5", "--no-select", "--quiet",
                         "--checkpoint", str(tmp_path / "ckpt")])
    assert report.settings["mode"] == "mini" and report.settings["fanouts"] == [3, 3]
    assert len(report.runs) == 1 and 0.0 <= report.test_mean <= 1.0
    data, _, _ = lagnn.load_la_set("cora")
    net = lagnn.model_from_checkpoint(str(tmp_path / "ckpt" / "seed0.pt"), data)
    assert type(net.firsts[0]).__name__ == "SAGEConv"
    with pytest.raises(ValueError, match="--mode mini needs --fanouts and --batch-size"):
        LAGNN.main(["--mode", "mini", "--runs", "1", "--epochs", "1", "--cvae-epochs", "1",
                    "--no-select", "--quiet"])


def test_splits_reach_the_la_sets(tmp_path):
    data, raw_x, _ = lagnn.load_la_set("cora", split="full")
    assert int(data.train_mask.sum()) == 2708 - 500 - 1000 and raw_x.shape == (2708, 1433)
    report = LAGNN.main(["--split", "random", "--split-seed", "2", "--runs", "1", "--epochs",
                         "1", "--cvae-steps", "1", "--no-select", "--quiet"])
    assert report.extra["split"] == "random" and report.extra["split_seed"] == 2
