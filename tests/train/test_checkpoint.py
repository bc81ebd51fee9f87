"""glt.train.checkpoint: a run resumed from a checkpoint continues exactly as the
uninterrupted run; checkpoints of other runs and damaged files are refused."""
import os

import pytest
import torch

from glt.train import checkpoint
from glt.train.checkpoint import data_fingerprint, load_checkpoint, save_checkpoint

IDENTITY = {"model": "mlp", "dataset": "toy", "hidden": 8}


def _parts(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5),
                                torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    return model, opt, torch.Generator().manual_seed(seed)


def _steps(model, opt, gen, n: int) -> list[torch.Tensor]:
    """``n`` steps drawing from ``gen`` (the batch) and the global stream (dropout)."""
    losses = []
    for _ in range(n):
        x = torch.randn(16, 4, generator=gen)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses


def test_a_resumed_run_continues_as_the_uninterrupted_one(tmp_path, caplog):
    path = str(tmp_path / "deep" / "run.pt")  # folders are made
    model, opt, gen = _parts(0)
    _steps(model, opt, gen, 3)
    save_checkpoint(path, IDENTITY, model, opt, gen, {"epoch": 3, "curve": [0.5, 0.25]})
    assert os.listdir(tmp_path / "deep") == ["run.pt"]  # no temporary file left
    straight = _steps(model, opt, gen, 4)

    model2, opt2, gen2 = _parts(1)  # other weights, optimiser moments and streams
    torch.manual_seed(123)
    caplog.set_level("INFO", logger="glt")
    state = load_checkpoint(path, IDENTITY, model2, opt2, gen2)
    assert state == {"epoch": 3, "curve": [0.5, 0.25]}
    assert f"resuming from {path} (epoch 3 done)" in caplog.text  # said where progress shows
    resumed = _steps(model2, opt2, gen2, 4)
    assert all(torch.equal(a, b) for a, b in zip(straight, resumed))
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)


def test_a_checkpoint_of_another_run_changes_nothing(tmp_path):
    path = str(tmp_path / "run.pt")
    model, opt, gen = _parts(0)
    save_checkpoint(path, IDENTITY, model, opt, gen, {"epoch": 1})
    other, opt2, gen2 = _parts(1)
    before = [p.detach().clone() for p in other.parameters()]
    with pytest.raises(ValueError, match="belongs to another run"):
        load_checkpoint(path, dict(IDENTITY, hidden=16), other, opt2, gen2)
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters()))


def test_a_damaged_checkpoint_is_named(tmp_path):
    path = str(tmp_path / "run.pt")
    model, opt, gen = _parts(0)
    save_checkpoint(path, IDENTITY, model, opt, gen, {"epoch": 1})
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(ValueError, match=r"checkpoint .*run.pt is unreadable"):
        load_checkpoint(path, IDENTITY, model, opt, gen)


@pytest.mark.parametrize("block", [1 << 24, 7, 1])
def test_a_sparse_tensor_is_fingerprinted_as_its_dense_form(monkeypatch, block):
    monkeypatch.setattr(checkpoint, "_BLOCK", block)  # rows densified a few at a time
    dense = torch.zeros(9, 5)
    dense[[0, 0, 3, 4, 8], [1, 4, 0, 2, 4]] = torch.tensor([1.5, -2.0, 3.0, 0.25, 7.0])
    ids = torch.tensor([[0, 0, 3, 4, 8, 3], [1, 4, 0, 2, 4, 0]])
    twice = torch.sparse_coo_tensor(ids, torch.tensor([1.5, -2.0, 1.0, 0.25, 7.0, 2.0]),
                                    (9, 5))  # uncoalesced: (3, 0) given as 1 + 2
    want = data_fingerprint(torch.arange(3), dense)
    for x in (dense.to_sparse(), dense.to_sparse_csr(), twice, dense.t().contiguous().t()):
        assert data_fingerprint(torch.arange(3), x) == want
    for x in (dense.to_sparse(), dense.to_sparse().to_dense()):
        assert data_fingerprint(x.to(torch.float64)) != data_fingerprint(dense)
    other = dense.clone()
    other[8, 4] = 7.5
    assert data_fingerprint(torch.arange(3), other.to_sparse()) != want
    assert data_fingerprint(torch.zeros(0, 5).to_sparse()) == data_fingerprint(torch.zeros(0, 5))
    cube = torch.zeros(2, 3, 4)
    cube[1, 2, 3] = 1.0
    assert data_fingerprint(cube.to_sparse()) == data_fingerprint(cube)
