"""glt train link: a run's checkpoint rebuilt into a model that scores as the run did."""
import os

import pytest

from glt.datasets import load_dataset
from glt.datasets.testing import write_ogb
from glt.recipes import RECIPES
from glt.recipes.link import model_from_checkpoint
from glt.train.link import LinkTrainConfig, evaluate_link


@pytest.mark.parametrize("model", ["sage", "gcn"])
def test_model_from_checkpoint_scores_as_the_run_did(tmp_path, model):
    root, ckpt = str(tmp_path / "ogb"), str(tmp_path / "ckpt")
    write_ogb(root, "ogbl-ddi", num_nodes=60, num_edges=400, seed=2)
    report = RECIPES["link"].main(["--model", model, "--root", root, "--runs", "1",
                                   "--epochs", "8", "--eval-every", "1", "--batch-size", "64",
                                   "--hidden", "16", "--lr", "0.05", "--quiet",
                                   "--checkpoint", ckpt])
    run, path = report.runs[0], os.path.join(ckpt, "seed0.pt")
    assert run.best_epoch < 8  # so the best and the last weights differ
    data = load_dataset("ogbl-ddi", root)
    config = LinkTrainConfig(eval_batch_size=64)
    for weights, epoch in (("best", run.best_epoch), ("last", 8)):
        net = model_from_checkpoint(path, data, weights)
        assert type(net.encoder).__name__ == {"sage": "GraphSAGE", "gcn": "GCN"}[model]
        hits = evaluate_link(net, data, data.evaluator(), config)
        assert hits["valid"] == dict(run.curve)[epoch]
        if weights == "best":
            assert hits["test"] == run.test
    other = str(tmp_path / "other")
    write_ogb(other, "ogbl-ddi", num_nodes=60, num_edges=400, seed=3)
    with pytest.raises(ValueError, match="trained on other data"):
        model_from_checkpoint(path, load_dataset("ogbl-ddi", other))
    node = str(tmp_path / "node")
    RECIPES["gcn"].main(["--runs", "1", "--epochs", "1", "--quiet", "--checkpoint", node])
    with pytest.raises(ValueError, match="holds a 'GCN' model; this reads LinkModel"):
        model_from_checkpoint(os.path.join(node, "seed0.pt"), data)


def test_ppa_integer_features_train_and_score_as_floats(tmp_path):
    """ogbl-ppa's release stores its one-hot species as integers: they train and
    score as the floats OGB's example casts them to (torch's linear refused them)."""
    import torch
    root, ckpt = str(tmp_path / "ogb"), str(tmp_path / "ckpt")
    write_ogb(root, "ogbl-ppa", num_nodes=60, num_edges=400, num_features=58, seed=2)
    data = load_dataset("ogbl-ppa", root)
    assert data.x.dtype == torch.int64 and data.x.sum(1).eq(1).all()
    report = RECIPES["link"].main(["--model", "gcn", "--dataset", "ogbl-ppa", "--root", root,
                                   "--runs", "1", "--epochs", "2", "--batch-size", "64",
                                   "--hidden", "16", "--quiet", "--checkpoint", ckpt])
    net = model_from_checkpoint(os.path.join(ckpt, "seed0.pt"), data)
    hits = evaluate_link(net, data, data.evaluator(), LinkTrainConfig(eval_batch_size=64))
    assert hits["test"] == report.runs[0].test
    assert torch.equal(net.encode(data.x, data.graph), net.encode(data.x.float(), data.graph))


def test_citation2_trains_with_ogbs_example_settings_and_reports_mrr(tmp_path):
    """OGB's citation2 example: the citations made symmetric for the encoder, a
    random target for each training source, no clipping; MRR among each
    source's negative targets, written as the leaderboard writes it (a fraction)."""
    root, ckpt, out = str(tmp_path / "ogb"), str(tmp_path / "ckpt"), str(tmp_path / "r.json")
    write_ogb(root, "ogbl-citation2", num_nodes=60, num_edges=400, num_features=8, seed=2)
    data = load_dataset("ogbl-citation2", root)
    report = RECIPES["link"].main(["--model", "sage", "--dataset", "ogbl-citation2", "--root",
                                   root, "--runs", "1", "--epochs", "3", "--batch-size", "64",
                                   "--hidden", "16", "--quiet", "--checkpoint", ckpt,
                                   "--out", out])
    assert report.metric == "mrr" and report.settings["negatives"] == "per_source"
    assert report.settings["clip"] is None and report.settings["symmetric"] is True
    net = model_from_checkpoint(os.path.join(ckpt, "seed0.pt"), data)
    mrr = evaluate_link(net, data, data.evaluator(),
                        LinkTrainConfig(eval_batch_size=64, symmetric=True))
    assert mrr["test"] == report.runs[0].test
    row = open(out[:-5] + ".md").read().splitlines()[-1]
    assert row.startswith(f"| GraphSAGE (glt, 1 run) | No | {report.test_mean:.4f} ± 0.0000 | "
                          f"{report.valid_mean:.4f} ± 0.0000 | ")


def test_settings_it_cannot_combine_are_refused_before_the_data_loads(tmp_path, capsys,
                                                                     monkeypatch):
    from glt import cli
    monkeypatch.setenv("GLT_DOWNLOAD_MIRROR", "http://127.0.0.1:9")  # nothing listens: offline
    missing = str(tmp_path / "nothing")  # loading would fail: the settings are checked first
    assert cli.main(["train", "link", "--dataset", "ogbl-collab", "--root", missing,
                     "--symmetric", "--quiet"]) == 2
    assert "glt: error: the symmetric setting keeps no edge weights; it cannot be combined " \
           "with edge_weight" in capsys.readouterr().err
    assert cli.main(["train", "link", "--dataset", "ogbl-citation2", "--root", missing,
                     "--clip", "none", "--quiet"]) == 2
    assert "could not download http://127.0.0.1:9/" in capsys.readouterr().err  # clip none: fine
