"""scripts/train_largegt.py's entry point: the Planetoid preset on Cora, OGB presets
on fixtures, positional-encoding files, the papers100M streaming preset."""
import json
import os

import numpy as np
import pytest
import torch

from glt.datasets.testing import write_ogb
from glt.recipes import RECIPES
from glt.recipes.largegt import (load_largegt_set, load_pos_enc, model_from_checkpoint,
                                 token_inputs)
from glt.train.metrics import dataset_score
from glt.train.sources import predict_tokens

LARGEGT = RECIPES["largegt"]


def test_learns_cora():
    # the Planetoid preset (2 tokens, per-hop token maps, node-only queries, 8 token
    # draws averaged when scoring), seed 0, over the first 200 of its 600 epochs
    result = LARGEGT.main(["--runs", "1", "--epochs", "200", "--eval-every", "10",
                               "--quiet"])
    assert result.preset == "planetoid" and result.test_mean > 0.80


def test_script_runs_on_an_ogb_fixture(tmp_path):
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    out = str(tmp_path / "r.json")
    result = LARGEGT.main(["--dataset", "ogbn-products", "--root", str(tmp_path),
                               "--epochs", "2", "--num-tokens", "5", "--batch-size", "7",
                               "--runs", "2", "--eval-samples", "2", "--quiet", "--out", out])
    with open(out) as f:
        saved = json.load(f)
    assert saved["preset"] == "ogbn-products" and saved["settings"]["eval_samples"] == 2
    assert 0.0 <= result.test_mean <= 1.0 and len(result.runs) == 2
    with pytest.raises(SystemExit):  # an unknown preset stops at parse time
        LARGEGT.main(["--preset", "nope", "--quiet"])
    with pytest.raises(ValueError, match="no LargeGT preset for 'ogbl-ddi'"):
        LARGEGT.main(["--dataset", "ogbl-ddi", "--quiet"])


def test_script_takes_a_positional_encoding_file(tmp_path):
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    args = ["--dataset", "ogbn-products", "--root", str(tmp_path), "--epochs", "1",
            "--num-tokens", "3", "--batch-size", "16", "--quiet"]
    np.save(tmp_path / "pos.npy", np.random.default_rng(0).normal(size=(60, 5)))
    torch.save(torch.randn(60, 3), tmp_path / "pos.pt")
    for name in ("pos.npy", "pos.pt"):
        result = LARGEGT.main(args + ["--pos-enc", str(tmp_path / name)])
        assert result.extra["pos_enc"].endswith(name) and 0.0 <= result.test_mean <= 1.0
    np.save(tmp_path / "short.npy", np.zeros((59, 5)))
    with pytest.raises(ValueError, match=r"should hold a \[60, d\] positional encoding"):
        LARGEGT.main(args + ["--pos-enc", str(tmp_path / "short.npy")])
    with pytest.raises(FileNotFoundError, match="no positional encoding file"):
        load_pos_enc(str(tmp_path / "missing.pt"), 60)
    with pytest.raises(SystemExit):  # the flag: refused before the data loads
        LARGEGT.main(args + ["--pos-enc", str(tmp_path / "missing.pt")])


def test_papers100m_preset_streams_hops_checkpoints_and_resumes(tmp_path):
    write_ogb(str(tmp_path), "ogbn-papers100M", num_nodes=80, num_edges=300, num_features=4)
    args = ["--dataset", "ogbn-papers100M", "--root", str(tmp_path), "--epochs", "2",
            "--num-tokens", "4", "--batch-size", "16", "--runs", "2", "--quiet", "--amp",
            "--checkpoint", str(tmp_path / "ckpt")]
    first = LARGEGT.main(args)
    assert os.path.exists(tmp_path / "largegt_hops" / "ogbn-papers100M" / "hops.npy")
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["seed0.pt", "seed1.pt"]
    assert "--amp" in first.command and first.settings["hidden"] == 512
    again = LARGEGT.main(args)  # both runs finished: read back, not retrained
    assert again.runs == first.runs


def test_paper_layout_trains_checkpoints_and_resumes(tmp_path):
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    torch.save(torch.randn(60, 3), tmp_path / "pos.pt")
    args = ["--dataset", "ogbn-products", "--root", str(tmp_path), "--preset",
            "ogbn-products-paper", "--epochs", "2", "--num-tokens", "4", "--batch-size", "16",
            "--hidden", "8", "--global-dim", "4", "--num-codes", "6", "--pos-enc",
            str(tmp_path / "pos.pt"), "--quiet", "--amp", "--checkpoint", str(tmp_path / "c")]
    first = LARGEGT.main(args)
    assert first.settings["layout"] == "paper" and first.settings["dropout"] == 0.5
    assert 0.0 <= first.test_mean <= 1.0
    saved = torch.load(tmp_path / "c" / "seed0.pt", weights_only=True)["model"]
    assert saved["assigned"].shape == (60,)  # the per-node centroid assignments are kept
    assert LARGEGT.main(args).runs == first.runs
    base = ["--dataset", "ogbn-products", "--root", str(tmp_path), "--epochs", "1",
            "--num-tokens", "3", "--batch-size", "16", "--quiet"]
    assert LARGEGT.main(base + ["--layout", "paper"]).settings["layout"] == "paper"
    with pytest.raises(ValueError, match="expected layout 'glt' or 'paper', got 'goat'"):
        LARGEGT.main(base + ["--layout", "goat"])
    # a setting the chosen layout does not have is refused, not ignored
    with pytest.raises(ValueError, match="paper layout does not use input_dropout"):
        LARGEGT.main(base + ["--layout", "paper", "--input-dropout", "0.5"])
    with pytest.raises(ValueError, match="glt layout does not use norm"):
        LARGEGT.main(base + ["--norm", "layer"])
    with pytest.raises(ValueError, match="token_encoder=per_hop, node_queries=True"):
        LARGEGT.main(["--layout", "paper", "--epochs", "1", "--quiet"])  # Cora's preset


@pytest.mark.parametrize("preset", ["ogbn-products", "ogbn-products-paper"])
def test_model_from_checkpoint_scores_as_the_run_did(tmp_path, preset):
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    torch.save(torch.randn(60, 3), tmp_path / "pos.pt")
    ckpt = str(tmp_path / "ckpt")
    report = LARGEGT.main(["--dataset", "ogbn-products", "--root", str(tmp_path), "--preset",
                           preset, "--epochs", "6", "--num-tokens", "4", "--batch-size", "8",
                           "--hidden", "8", "--global-dim", "4", "--num-codes", "6",
                           "--eval-samples", "2", "--lr", "0.05", "--pos-enc",
                           str(tmp_path / "pos.pt"), "--quiet", "--checkpoint", ckpt])
    run, path = report.runs[0], os.path.join(ckpt, "seed0.pt")
    data = load_largegt_set("ogbn-products", str(tmp_path))
    inputs = token_inputs(data, report.settings, pos=load_pos_enc(str(tmp_path / "pos.pt"), 60))
    val, test = (m.nonzero().view(-1) for m in (data.val_mask, data.test_mask))
    score = dataset_score(data)  # OGB's Evaluator, as the run scores
    for weights, epoch in (("best", run.best_epoch), ("last", 6)):
        net = model_from_checkpoint(path, data, inputs, weights)
        assert type(net).__name__ == ("PaperLargeGT" if preset.endswith("paper") else "LargeGT")
        # scored as the run scores: validation and test nodes together, the run's seed
        pred = predict_tokens(net, inputs, torch.cat([val, test]), seed=0, samples=2)
        assert score(pred[:val.numel()], data.y[val]) == dict(run.curve)[epoch]
        if weights == "best":
            assert score(pred[val.numel():], data.y[test]) == run.test
    with pytest.raises(ValueError, match="trained on other data"):
        model_from_checkpoint(path, data, token_inputs(data, report.settings), weights)
