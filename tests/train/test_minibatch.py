import pytest
import torch

from glt.models import GraphSAGE
from glt.train.metrics import accuracy
from glt.train.minibatch import predict_nodes, train_mini_batch
from glt.train.node import full_graph_predict


def test_sage_learns_cora_from_sampled_batches(cora):
    torch.manual_seed(0)
    model = GraphSAGE(cora.num_features, 32, cora.num_classes)
    result = train_mini_batch(model, cora, [10, 10], batch_size=64, epochs=15, lr=0.01,
                              weight_decay=5e-4, eval_every=5)
    assert result.test_acc > 0.70 and result.best_epoch in (5, 10, 15)
    nodes = torch.tensor([3, 1, 2])
    assert predict_nodes(model, cora, nodes, [10, 10]).shape == (3, cora.num_classes)


def test_whole_graph_evaluation_after_warm_up_epochs(cora):
    """``full_predict``: validation and test nodes scored from one full-graph pass,
    equal to sampling every neighbour (fanouts -1); epochs <= eval_after skipped."""
    torch.manual_seed(0)
    model = GraphSAGE(cora.num_features, 16, cora.num_classes)
    result = train_mini_batch(model, cora, [5, 5], batch_size=64, epochs=3, lr=0.01,
                              full_predict=full_graph_predict, eval_after=2)
    assert [epoch for epoch, _ in result.curve] == [3] and result.best_epoch == 3
    model.eval()
    with torch.no_grad():
        out = model(cora.x, cora.graph)
    assert result.val_acc == accuracy(out[cora.val_mask], cora.y[cora.val_mask])
    assert result.test_acc == accuracy(out[cora.test_mask], cora.y[cora.test_mask])
    nodes = torch.tensor([7, 0, 2000])
    assert torch.allclose(predict_nodes(model, cora, nodes, [-1, -1]), out[nodes], atol=1e-5)
    sampled = train_mini_batch(model, cora, [5, 5], batch_size=64, epochs=4, lr=0.01,
                               eval_every=2, eval_after=2)
    assert [epoch for epoch, _ in sampled.curve] == [4]
    with pytest.raises(ValueError, match="eval_after >= 0"):
        train_mini_batch(model, cora, [5], 64, epochs=1, lr=0.01, eval_after=-1)


def test_bad_schedule(cora):
    with pytest.raises(ValueError, match="epochs >= 1"):
        train_mini_batch(GraphSAGE(cora.num_features, 4, cora.num_classes), cora, [5], 32,
                         epochs=0, lr=0.01)
