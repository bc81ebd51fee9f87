import pytest
import torch

from glt.datasets import load_planetoid, row_normalize
from glt.models import GraphSAGE
from glt.models.lagnn import CVAE, la_backbone, train_cvae
from glt.train.lagnn import batch_augmentation, la_batch_objective
from glt.train.minibatch import predict_nodes, train_mini_batch
from glt.train.node import repeat_runs


def test_sage_learns_cora_from_sampled_batches(cora):
    torch.manual_seed(0)
    model = GraphSAGE(cora.num_features, 32, cora.num_classes)
    result = train_mini_batch(model, cora, [10, 10], batch_size=64, epochs=15, lr=0.01,
                              weight_decay=5e-4, eval_every=5)
    assert result.test_acc > 0.70 and result.best_epoch in (5, 10, 15)
    nodes = torch.tensor([3, 1, 2])
    assert predict_nodes(model, cora, nodes, [10, 10]).shape == (3, cora.num_classes)


def test_local_augmentation_in_mini_batches(cora):
    torch.manual_seed(0)
    raw = load_planetoid("cora").x
    cvae = CVAE(cora.num_features)
    train_cvae(cvae, raw, cora.graph, epochs=1, batch_size=256)
    draw = batch_augmentation(cvae, raw, cora.x, 2, row_normalize)
    xs = draw(torch.tensor([0, 5]))
    assert len(xs) == 2 and torch.equal(xs[0], cora.x[[0, 5]])
    assert torch.allclose(xs[1].sum(1), torch.ones(2))  # generated, then row-normalised
    loss, predict = la_batch_objective(draw, samples=2, lam=1.0, temperature=0.5)
    summary = repeat_runs(lambda: la_backbone("sage", cora.num_features, 16, cora.num_classes,
                                              2), cora, runs=1, progress=False,
                          train=train_mini_batch, fanouts=[10, 10], batch_size=32, epochs=30,
                          lr=0.01, weight_decay=5e-4, train_loss=loss, predict=predict,
                          eval_every=10)
    assert summary["test_acc"] > 0.65
    with pytest.raises(ValueError, match="samples >= 1"):
        la_batch_objective(draw, samples=0, lam=1.0, temperature=0.5)


def test_bad_schedule(cora):
    with pytest.raises(ValueError, match="epochs >= 1"):
        train_mini_batch(GraphSAGE(cora.num_features, 4, cora.num_classes), cora, [5], 32,
                         epochs=0, lr=0.01)
