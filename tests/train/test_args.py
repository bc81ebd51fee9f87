"""Arguments are checked at parse time, before any data is loaded, with one
line ``glt: error: ...`` and exit code 2, the same for every ``glt train`` model."""
import re

import pytest
import torch

import glt.recipes.lagnn as lagnn
import glt.recipes.largegt as largegt
import glt.recipes.node as node
import glt.recipes.recommendation as recommendation
from glt.cli import main


@pytest.fixture(autouse=True)
def no_data(monkeypatch):
    """Any load means the arguments were not checked first."""
    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded before the arguments were checked")
    for module, name in ((recommendation, "load_rec"), (node, "load_planetoid"),
                         (node, "load_ogb"), (largegt, "load_dataset"), (lagnn, "load_la_set")):
        monkeypatch.setattr(module, name, refuse)


CASES = [
    (["lightgcn", "--epochs", "0"], "argument --epochs: expected an integer >= 1, got 0"),
    (["ultragcn", "--epochs=-1"], "argument --epochs: expected an integer >= 1, got -1"),
    (["lightgcn", "--eval-every", "0"], "argument --eval-every: expected an integer >= 1"),
    (["lightgcn", "--ks", "20", "0"], "argument --ks: expected an integer >= 1, got 0"),
    (["gcn", "--lr", "inf"], "argument --lr: expected a finite number > 0, got inf"),
    (["gcn", "--lr", "nan"], "argument --lr: expected a finite number > 0, got nan"),
    (["gcn", "--hidden", "0"], "argument --hidden: expected an integer >= 1, got 0"),
    (["gat", "--dropout", "1.0"], "argument --dropout: expected a dropout rate in \\[0, 1\\)"),
    (["sage", "--weight-decay=-1e-4"], "argument --weight-decay: expected a finite number"),
    (["gcn", "--runs", "0"], "argument --runs: expected an integer >= 1, got 0"),
    (["lagnn", "--fanouts", "15", "2.7"], "argument --fanouts: expected an integer, got '2.7'"),
    (["lagnn", "--fanouts", "0"], "argument --fanouts: expected a fanout >= 1 or -1"),
    (["lagnn", "--batch-size", "1.5"], "argument --batch-size: expected an integer, got '1.5'"),
    (["largegt", "--num-tokens", "0"], "argument --num-tokens: expected an integer >= 1"),
    (["largegt", "--seed=-3"], "argument --seed: expected an integer >= 0, got -3"),
    (["gat", "--patience", "0"], "argument --patience: expected an integer >= 1, got 0"),
    (["gat", "--patience", "soon"], "argument --patience: expected an integer, got 'soon'"),
    (["ultragcn", "--lambda=-1"], "argument --lambda: expected a finite number >= 0"),
    (["largegt", "--optimizer", "sgd"], "argument --optimizer: invalid choice: 'sgd'"),
    (["lagnn", "--evaluate", "none"], "argument --evaluate: invalid choice: 'none'"),
    (["lagnn", "--dataset", "ogbn-proteins"], "argument --dataset: invalid choice: 'ogbn-pro"),
    (["link", "--negatives", "all"], "argument --negatives: invalid choice: 'all'"),
    (["lightgcn", "--preset", "yelp"], "argument --preset: invalid choice: 'yelp'"),
    (["lagnn", "--temperature", "0"], "argument --temperature: expected a finite number > 0"),
    (["lagnn", "--cvae-lr", "0"], "argument --cvae-lr: expected a finite number > 0"),
    (["lightgcn", "--init-std", "0"], "argument --init-std: expected a finite number > 0"),
    (["link", "--clip", "0"], "argument --clip: expected a finite number > 0, got 0"),
    (["largegt", "--local-dropout", "1.5"], "argument --local-dropout: expected a dropout rate"),
    (["largegt", "--pos-enc", "/no/pos.npy"], "argument --pos-enc: no such file: /no/pos.npy"),
    (["largegt", "--pos-enc", "/"], "argument --pos-enc: / is a folder; expected a file"),
    (["lagnn", "--lagnn-generator", "/no/cora.pkl"],
     "argument --lagnn-generator: no such file: /no/cora.pkl"),
]


def refused(capsys, *argv: str) -> str:
    """The error of ``glt train *argv``, stopped at parse time with exit code 2."""
    with pytest.raises(SystemExit) as stop:
        main(["train", *argv])
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def blocker(tmp_path):
    """A file where a folder would have to be."""
    path = tmp_path / "a-file"
    path.write_text("x")
    return path


@pytest.mark.parametrize("argv,message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_values_stop_at_parse_time(argv, message, capsys):
    err = refused(capsys, *argv)
    assert err.count("\n") == 1 and err.startswith("glt: error: ")
    assert re.search(message, err), err


def test_unwritable_out_stops_before_training(tmp_path, blocker, capsys):
    assert refused(capsys, "lightgcn", "--out", str(blocker / "result.json")) == (
        f"glt: error: argument --out: cannot write to {blocker / 'result.json'}: {blocker} "
        "is a file, not a folder\n")
    assert "is a folder; expected a file path" in refused(capsys, "gcn", "--out", str(tmp_path))


@pytest.mark.parametrize("model", ["gcn", "lagnn", "largegt", "link", "lightgcn"])
def test_a_data_root_that_is_a_file_is_refused_at_parse_time(model, blocker, capsys):
    """glt train link crashed with FileExistsError making the download folder."""
    assert refused(capsys, model, "--root", str(blocker)) == (
        f"glt: error: argument --root: {blocker} is not a folder\n")
    assert refused(capsys, model, "--root", str(blocker / "data")) == (
        f"glt: error: argument --root: {blocker / 'data'} is not a folder ({blocker} is a "
        "file)\n")


def test_reproduce_refuses_a_data_root_that_is_a_file(blocker, capsys):
    from glt.recipes import reproduce
    with pytest.raises(SystemExit):
        reproduce.main(["--root", str(blocker)])
    assert capsys.readouterr().err == f"glt: error: argument --root: {blocker} is not a folder\n"


def test_checkpoint_folder_is_checked_before_training(tmp_path, blocker, capsys):
    """A checkpoint path that cannot hold files would fail only after the first epoch."""
    assert refused(capsys, "ultragcn", "--checkpoint", str(blocker)) == (
        f"glt: error: argument --checkpoint: {blocker} is a file; expected a folder\n")
    assert refused(capsys, "lightgcn", "--checkpoint", str(blocker / "ckpt" / "deeper")) == (
        f"glt: error: argument --checkpoint: cannot write to {blocker / 'ckpt' / 'deeper'}: "
        f"{blocker} is a file, not a folder\n")
    target = tmp_path / "new" / "ckpt"
    with pytest.raises(AssertionError, match="data was loaded"):  # parsing passed
        main(["train", "gcn", "--checkpoint", str(target)])
    assert target.is_dir() and list(target.iterdir()) == []


def test_out_and_checkpoint_on_one_path_stop_before_training(tmp_path, capsys):
    """Else the run would train, write its checkpoint folder there and lose its result."""
    path = tmp_path / "run"
    for model in ("gcn", "ultragcn", "lagnn", "largegt", "link"):
        assert refused(capsys, model, "--out", str(path), "--checkpoint", str(path) + "/") == (
            f"glt: error: argument --out: {path} is also the --checkpoint path\n")
    assert not path.exists()


def test_out_folder_is_created(tmp_path, monkeypatch):
    target = tmp_path / "new" / "deeper" / "r.json"
    with pytest.raises(AssertionError, match="data was loaded"):  # parsing passed
        main(["train", "gcn", "--out", str(target)])
    assert target.parent.is_dir() and list(target.parent.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a CPU-only machine")
def test_unavailable_device_stops_at_parse_time(capsys):
    for model in ("lightgcn", "gcn", "largegt", "lagnn"):
        with pytest.raises(SystemExit) as stop:
            main(["train", model, "--device", "cuda"])
        assert stop.value.code == 2
        assert "argument --device: device 'cuda' asked for, but CUDA is not available" in \
            capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "gcn", "--device", "gpu0"])
    assert "argument --device: unknown device 'gpu0'" in capsys.readouterr().err


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="checks a machine without MPS")
def test_an_unavailable_backend_is_named_in_one_short_line(capsys):
    """torch's own error for a backend it was not built with lists every backend
    it has (2,000 characters): the message keeps its first sentence."""
    with pytest.raises(SystemExit):
        main(["train", "gcn", "--device", "mps"])
    err = capsys.readouterr().err
    assert err.startswith("glt: error: argument --device: device 'mps' is not available here (")
    assert len(err) < 300 and err.count("\n") == 1


def test_data_errors_are_one_line_too(tmp_path, monkeypatch, capsys):
    monkeypatch.undo()  # real loaders
    assert main(["train", "lightgcn", "--dataset", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == (f"glt: error: no such folder: {tmp_path / 'nowhere'} "
                                       "(expected a folder with train.txt and test.txt, or a "
                                       "registered name)\n")


def test_the_hop_cache_folder_is_checked_before_the_data_loads(tmp_path, blocker, capsys):
    """LargeGT's hop features are computed, then renamed into --hop-cache: a file
    there failed only then ('Not a directory'); a built cache is only read."""
    assert refused(capsys, "largegt", "--hop-cache", str(blocker)) == (
        f"glt: error: argument --hop-cache: {blocker} is a file; expected a folder\n")
    assert refused(capsys, "largegt", "--hop-cache", str(blocker / "hops")) == (
        f"glt: error: argument --hop-cache: cannot write to {blocker / 'hops'}: {blocker} is "
        "a file, not a folder\n")
    with pytest.raises(AssertionError, match="data was loaded"):  # a folder: parsing passed
        main(["train", "largegt", "--hop-cache", str(tmp_path / "hops")])


def test_an_unwritable_generator_path_stops_before_the_data_loads(blocker, capsys):
    """The generator is pretrained (minutes) before it is saved; an existing one is
    only read, so its folder need not be writable."""
    assert refused(capsys, "lagnn", "--generator", str(blocker / "cvae.pt")).startswith(
        f"glt: error: argument --generator: cannot write to {blocker / 'cvae.pt'}")
    with pytest.raises(AssertionError, match="data was loaded"):  # an existing file: read
        main(["train", "lagnn", "--generator", str(blocker)])
