import pytest
import torch

from glt.models import GCN
from glt.train import repeat_runs, train_full_batch


def test_selects_best_validation_epoch_and_stops_on_patience(cora):
    torch.manual_seed(0)
    result = train_full_batch(GCN(cora.num_features, 16, cora.num_classes), cora, epochs=500,
                              lr=0.05, weight_decay=5e-4, patience=5)
    assert result.epochs < 500  # stopped early
    # the reported epoch is the selected one: the same run cut there reports the same figures
    torch.manual_seed(0)
    cut = train_full_batch(GCN(cora.num_features, 16, cora.num_classes), cora,
                           epochs=result.best_epoch, lr=0.05, weight_decay=5e-4)
    assert (cut.best_epoch, cut.val_acc, cut.test_acc) == \
        (result.best_epoch, result.val_acc, result.test_acc)
    # and no earlier epoch beats it
    torch.manual_seed(0)
    before = train_full_batch(GCN(cora.num_features, 16, cora.num_classes), cora,
                              epochs=result.best_epoch - 1, lr=0.05, weight_decay=5e-4)
    assert before.val_acc <= result.val_acc and before.best_epoch < result.best_epoch
    assert 0.6 < result.val_acc <= 1.0 and 0.6 < result.test_acc <= 1.0


def test_repeat_runs_summary_is_reproducible(cora):
    def make():
        return GCN(cora.num_features, 16, cora.num_classes)
    a = repeat_runs(make, cora, runs=2, seed=5, progress=False, epochs=15, lr=0.01,
                    weight_decay=5e-4)
    b = repeat_runs(make, cora, runs=2, seed=5, progress=False, epochs=15, lr=0.01,
                    weight_decay=5e-4)
    assert [r["seed"] for r in a["per_run"]] == [5, 6]
    assert a["test_acc"] == b["test_acc"]
    accs = [r["test_acc"] for r in a["per_run"]]
    assert a["test_acc"] == pytest.approx(sum(accs) / 2)
    assert a["runs"] == 2 and a["epochs"] == 15


def test_bad_arguments(cora):
    model = GCN(cora.num_features, 4, cora.num_classes)
    with pytest.raises(ValueError, match="expected epochs >= 1, got 0"):
        train_full_batch(model, cora, epochs=0, lr=0.01, weight_decay=0.0)
    with pytest.raises(ValueError, match="expected runs >= 1, got 0"):
        repeat_runs(lambda: model, cora, runs=0)
