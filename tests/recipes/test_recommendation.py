import json
import os
import subprocess
import sys

import pytest
import torch

from glt.datasets import load_rec
from glt.datasets.testing import write_lightgcn
from glt.models import LightGCN
from glt.recipes import RECIPES
from glt.recipes.recommendation import ULTRAGCN_PRESETS, model_from_checkpoint
from glt.train.checkpoint import _digest, read_checkpoint, run_identity, save_checkpoint
from glt.train.recsys import RecTrainConfig, evaluate, fit

LIGHTGCN, ULTRAGCN = RECIPES["lightgcn"].main, RECIPES["ultragcn"].main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def folder(tmp_path) -> str:
    path = str(tmp_path / "toy")
    write_lightgcn(path, num_users=25, num_items=30, per_user=6)
    return path


@pytest.mark.parametrize("main, preset", [(LIGHTGCN, "gowalla"), (ULTRAGCN, "ml-1m")])
def test_runs_and_writes_the_report(folder, tmp_path, main, preset):
    out = str(tmp_path / "result.json")
    result = main(["--dataset", folder, "--preset", preset, "--epochs", "2", "--eval-every", "1",
                   "--runs", "2", "--quiet", "--out", out])
    with open(out) as f:
        written = json.load(f)
    assert written["metric"] == "recall@20" and written["dataset"] == "toy"
    assert written["valid_mean"] is None and written["num_runs"] == 2
    assert [r["seed"] for r in written["runs"]] == [2020, 2021]
    for run in written["runs"]:
        assert run["epochs"] == 2 and 0 <= run["test"] <= 1
        assert set(run["metrics"]) >= {"recall@20", "ndcg@20"} and len(run["curve"]) == 2
    assert written["test_mean"] == result.test_mean
    assert [len(h) for h in written["extra"]["histories"]] == [2, 2]


def test_a_folder_without_a_preset_uses_the_default(folder):
    result = LIGHTGCN(["--dataset", folder, "--epochs", "1", "--quiet"])
    assert result.preset == "gowalla" and result.dataset == "toy"


def test_resume_from_checkpoint(folder, tmp_path):
    ckpt, out = str(tmp_path / "ckpt"), str(tmp_path / "r.json")
    args = ["--dataset", folder, "--preset", "gowalla", "--eval-every", "1", "--quiet",
            "--checkpoint", ckpt, "--out", out]
    LIGHTGCN(args + ["--epochs", "1"])
    result = LIGHTGCN(args + ["--epochs", "3"])
    history = result.extra["histories"][0]
    assert result.runs[0].epochs == 3 and [h["epoch"] for h in history] == [1, 2, 3]
    with pytest.raises(ValueError, match="belongs to another run"):
        ULTRAGCN(["--dataset", folder, "--preset", "ml-1m", "--epochs", "2", "--quiet",
                  "--checkpoint", ckpt])


# The training fields of UltraGCN's official <name>_config.ini files (the authors'
# code reads them with configparser): the presets must carry exactly these
_OFFICIAL_INI = {
    "gowalla": "embedding_dim=64\ninitial_weight=1e-4\nlearning_rate=1e-4\nbatch_size=512\n"
               "early_stop_epoch=150\nw1=1e-6\nw2=1\nw3=1e-6\nw4=1\nnegative_num=1500\n"
               "negative_weight=300\ngamma=1e-4\nlambda=5e-4\nii_neighbor_num=10",
    "ml-1m": "embedding_dim=128\ninitial_weight=1e-3\nlearning_rate=1e-3\nbatch_size=1024\n"
             "early_stop_epoch=50\nw1=1e-7\nw2=1\nw3=1e-7\nw4=1\nnegative_num=200\n"
             "negative_weight=200\ngamma=1e-4\nlambda=1e-3\nii_neighbor_num=10",
    "yelp2018": "embedding_dim=64\ninitial_weight=1e-4\nlearning_rate=1e-3\nbatch_size=1024\n"
                "early_stop_epoch=15\nw1=1e-8\nw2=1\nw3=1e-8\nw4=1\nnegative_num=800\n"
                "negative_weight=300\ngamma=1e-4\nlambda=5e-4\nii_neighbor_num=10",
    "amazon-book": "embedding_dim=64\ninitial_weight=1e-4\nlearning_rate=1e-3\n"
                   "batch_size=1024\nearly_stop_epoch=15\nw1=1e-8\nw2=1\nw3=1\nw4=1e-8\n"
                   "negative_num=500\nnegative_weight=500\ngamma=1e-4\nlambda=2.75\n"
                   "ii_neighbor_num=10",
}
_INI_TO_PRESET = {"embedding_dim": "dim", "initial_weight": "init_std", "learning_rate": "lr",
                  "batch_size": "batch_size", "early_stop_epoch": "patience",
                  "negative_num": "num_negatives", "negative_weight": "negative_weight",
                  "lambda": "lambda_", "ii_neighbor_num": "num_neighbours",
                  **{k: k for k in ("w1", "w2", "w3", "w4", "gamma")}}


@pytest.mark.parametrize("name", sorted(_OFFICIAL_INI))
def test_ultragcn_presets_match_official_configs(name):
    import configparser
    ini = configparser.ConfigParser()
    ini.read_string("[Training]\n" + _OFFICIAL_INI[name])
    preset = ULTRAGCN_PRESETS[name]
    for key, value in ini["Training"].items():
        assert preset[_INI_TO_PRESET[key]] == pytest.approx(float(value)), (name, key)


def test_unknown_preset(folder, capsys):
    with pytest.raises(SystemExit):
        ULTRAGCN(["--dataset", folder, "--preset", "netflix"])
    assert "argument --preset: invalid choice: 'netflix'" in capsys.readouterr().err


def test_scripts_run(folder, tmp_path):
    for script in ("train_lightgcn.py", "train_ultragcn.py"):
        out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", script), "--dataset",
                              folder, "--preset", "ml-1m", "--epochs", "1", "--quiet"],
                             capture_output=True, text=True, check=True)
        assert "on toy: test recall@20" in out.stdout


def test_eval_every_after_flag(folder):
    result = ULTRAGCN(["--dataset", folder, "--preset", "ml-1m", "--epochs", "4",
                       "--eval-every", "3", "--eval-every-after", "1", "--quiet"])
    assert result.settings["eval_every_after"] == 1
    assert [epoch for epoch, _ in result.runs[0].curve] == [2, 3, 4]


@pytest.mark.parametrize("main, preset", [(LIGHTGCN, "gowalla"), (ULTRAGCN, "ml-1m")])
def test_model_from_checkpoint_scores_as_the_run_did(folder, tmp_path, main, preset):
    ckpt = str(tmp_path / "ckpt")
    args = ["--dataset", folder, "--preset", preset, "--eval-every", "1", "--quiet"]
    result = main(args + ["--epochs", "8", "--checkpoint", ckpt])
    data, path = load_rec(folder), os.path.join(ckpt, "seed2020.pt")
    best = model_from_checkpoint(path, data)
    assert type(best).__name__ == {LIGHTGCN: "LightGCN", ULTRAGCN: "UltraGCN"}[main]
    last = model_from_checkpoint(path, data, weights="last")
    run, history = result.runs[0], result.extra["histories"][0]
    assert run.best_epoch < 8 and run.metrics != history[-1]  # the two differ here
    for model, want in ((best, run.metrics), (last, history[-1])):
        got = evaluate(model, data, ks=(20,))
        for metric in ("recall@20", "ndcg@20", "precision@20", "hit@20"):
            assert got[metric] == pytest.approx(want[metric], abs=1e-12), metric
    # resumed after its best epoch, a run keeps the best weights its checkpoint held
    resumed = str(tmp_path / "resumed")
    main(args + ["--epochs", "7", "--checkpoint", resumed])
    main(args + ["--epochs", "8", "--checkpoint", resumed])
    again = model_from_checkpoint(os.path.join(resumed, "seed2020.pt"), data)
    for key, value in best.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_model_from_checkpoint_refuses_what_it_cannot_score(folder, tmp_path):
    ckpt = str(tmp_path / "ckpt")
    LIGHTGCN(["--dataset", folder, "--epochs", "1", "--quiet", "--checkpoint", ckpt])
    path = os.path.join(ckpt, "seed2020.pt")
    other = str(tmp_path / "other" / "toy")
    write_lightgcn(other, num_users=25, num_items=30, per_user=6, seed=1)
    with pytest.raises(ValueError, match="trained on other data"):
        model_from_checkpoint(path, load_rec(other))
    with open(path, "rb") as f:
        head = f.read()
    damaged = str(tmp_path / "damaged.pt")
    with open(damaged, "wb") as f:
        f.write(head[: len(head) // 2])
    with pytest.raises(ValueError, match="unreadable, damaged or cut short"):
        model_from_checkpoint(damaged, load_rec(folder))
    linear = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(linear.parameters(), lr=0.1)
    foreign = str(tmp_path / "linear.pt")
    save_checkpoint(foreign, run_identity(linear, "x", {}), linear, opt, torch.Generator(), {})
    with pytest.raises(ValueError, match="holds a 'Linear' model"):
        model_from_checkpoint(foreign, load_rec(folder))
    # a fit() of the library without settings=: the shapes of the default model, but 2 layers
    small = LightGCN(load_rec(folder).bipartite(), load_rec(folder).num_users, num_layers=2)
    library = str(tmp_path / "library.pt")
    fit(small, load_rec(folder), RecTrainConfig(epochs=1, batch_size=16), checkpoint=library,
        progress=False)
    with pytest.raises(ValueError, match="records too few settings to rebuild its model"):
        model_from_checkpoint(library, load_rec(folder))
    with pytest.raises(ValueError, match="expected weights 'best' or 'last'"):
        model_from_checkpoint(path, load_rec(folder), weights="first")
    older = {k: v for k, v in read_checkpoint(path).items() if k not in ("best_model", "digest")}
    torch.save({**older, "digest": _digest(older)}, path)  # as glt wrote them before
    with pytest.raises(ValueError, match="keeps no best weights"):
        model_from_checkpoint(path, load_rec(folder))
    assert model_from_checkpoint(path, load_rec(folder), weights="last") is not None
