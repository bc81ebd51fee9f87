"""glt.train.node: one node-classification loop over three batch sources (the
whole graph, sampled neighbourhoods, LargeGT token batches): selection, patience,
checkpoints with exact resume, mixed precision."""
import json

import pytest
import torch

from glt.datasets import NodeDataset
from glt.graph import CSRGraph
from glt.models import GCN, GraphSAGE
from glt.models.largegt import LargeGT, TokenInputs
from glt.train.checkpoint import read_checkpoint
from glt.train.metrics import accuracy
from glt.train.selection import Selection
from glt.train.node import (NodeTrainConfig, repeat_runs,
                            train_full_batch, train_nodes)
from glt.train.sources import (FullGraph, Neighbourhoods, TokenBatches, full_graph_predict,
                               predict_nodes, predict_tokens)


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


def test_selection_rules():
    """Highest score (ties: first, or lower loss), or lowest loss; patience counts
    evaluations where neither score nor loss improved."""
    figures = [(1, 0.5, 1.0), (2, 0.5, 0.8), (3, 0.4, 0.9), (4, 0.6, 1.2)]
    for select, ties, epochs in (("acc", "first", [1, 4]), ("acc", "loss", [1, 2, 4]),
                                 ("loss", "first", [1, 2])):
        sel, tested = Selection(), []
        for epoch, val, loss in figures:
            sel.offer(epoch, val, lambda e=epoch: tested.append(e) or e / 10, loss, select, ties)
        assert tested == epochs and sel.epoch == epochs[-1] and sel.test == epochs[-1] / 10
        assert sel.stale == 0 and len(sel.curve) == 4
    sel = Selection()
    for epoch, val, loss in [(1, 0.5, 1.0), (2, 0.5, 1.1), (3, 0.4, 1.0)]:
        sel.offer(epoch, val, lambda: 0.0, loss)
    assert sel.stale == 2


def test_repeat_runs_are_reproducible(cora):
    def make():
        return GCN(cora.num_features, 16, cora.num_classes)

    def train(model, seed):
        return train_full_batch(model, cora, epochs=15, lr=0.01, weight_decay=5e-4, seed=seed)
    a = repeat_runs(make, train, runs=2, seed=5, progress=False)
    b = repeat_runs(make, train, runs=2, seed=5, progress=False)
    assert [r.seed for r in a] == [5, 6] and [r.test_acc for r in a] == [r.test_acc for r in b]
    assert len(a) == 2 and all(r.epochs == 15 for r in a)


def test_bad_arguments(cora):
    model = GCN(cora.num_features, 4, cora.num_classes)
    with pytest.raises(ValueError, match="expected epochs >= 1"):
        train_full_batch(model, cora, epochs=0, lr=0.01, weight_decay=0.0)
    with pytest.raises(ValueError, match="expected runs >= 1, got 0"):
        repeat_runs(lambda: model, lambda m, s: None, runs=0)
    for bad in (dict(eval_after=-1), dict(optimizer="sgd"), dict(select="f1"),
                dict(ties="last"), dict(patience=0)):
        with pytest.raises(ValueError, match="expected"):
            NodeTrainConfig(1, 0.01, **bad)


def test_sage_learns_cora_from_sampled_batches(cora):
    torch.manual_seed(0)
    model = GraphSAGE(cora.num_features, 32, cora.num_classes)
    result = train_nodes(model, Neighbourhoods(cora, [10, 10], 64), cora,
                         NodeTrainConfig(15, 0.01, 5e-4, eval_every=5))
    assert result.test_acc > 0.70 and result.best_epoch in (5, 10, 15)
    nodes = torch.tensor([3, 1, 2])
    assert predict_nodes(model, cora, nodes, [10, 10]).shape == (3, cora.num_classes)


def test_whole_graph_evaluation_after_warm_up_epochs(cora):
    """``full_predict``: validation and test nodes scored from one full-graph pass,
    equal to sampling every neighbour (fanouts -1); epochs <= eval_after skipped."""
    torch.manual_seed(0)
    model = GraphSAGE(cora.num_features, 16, cora.num_classes)
    source = Neighbourhoods(cora, [5, 5], 64, full_predict=full_graph_predict)
    result = train_nodes(model, source, cora, NodeTrainConfig(3, 0.01, eval_after=2))
    assert [epoch for epoch, _ in result.curve] == [3] and result.best_epoch == 3
    model.eval()
    with torch.no_grad():
        out = model(cora.x, cora.graph)
    assert result.val_acc == accuracy(out[cora.val_mask], cora.y[cora.val_mask])
    assert result.test_acc == accuracy(out[cora.test_mask], cora.y[cora.test_mask])
    nodes = torch.tensor([7, 0, 2000])
    assert torch.allclose(predict_nodes(model, cora, nodes, [-1, -1]), out[nodes], atol=1e-5)
    sampled = train_nodes(model, Neighbourhoods(cora, [5, 5], 64), cora,
                          NodeTrainConfig(4, 0.01, eval_every=2, eval_after=2))
    assert [epoch for epoch, _ in sampled.curve] == [4]


def test_each_epoch_draws_its_own_batches(cora):
    """Epoch e of a run draws the loader's epoch e - 1, once (no epoch skipped)."""
    source = Neighbourhoods(cora, [3], 32)
    from glt.samplers.shard import Shard
    first = [b.node.tolist() for b in source.batches(1, 0, Shard(), None)]
    second = [b.node.tolist() for b in source.batches(2, 0, Shard(), None)]
    again = [b.node.tolist() for b in source.batches(1, 0, Shard(), None)]
    assert first == again and first != second


def test_predictions_average_the_class_probabilities_of_several_token_draws():
    torch.manual_seed(0)
    g = CSRGraph.from_edge_index(torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]), 5)
    x = torch.randn(5, 3)
    inputs = TokenInputs(g, x, num_tokens=3)
    model = LargeGT(3, 8, 4, heads=2, global_dim=4, num_codes=6)
    nodes = torch.arange(5)
    model.eval()
    with torch.no_grad():
        draws = [model(*inputs(nodes, seed=s)).softmax(-1) for s in range(8, 12)]  # seed 2
        single = model(*inputs(nodes, seed=2)).log_softmax(-1)
    out = predict_tokens(model, inputs, nodes, batch_size=2, seed=2, samples=4)
    torch.testing.assert_close(out, (sum(draws) / 4).log())
    torch.testing.assert_close(predict_tokens(model, inputs, nodes, seed=2), single)
    assert not torch.allclose(draws[0], draws[1])  # the draws differ
    with pytest.raises(ValueError, match="samples >= 1"):
        predict_tokens(model, inputs, nodes, samples=0)
    data = _toy_data()
    with pytest.raises(ValueError, match="eval_samples"):
        TokenBatches(data, TokenInputs(data.graph, data.x, 4), 8, eval_samples=0)


def _toy_data():
    g = torch.Generator().manual_seed(1)
    graph = CSRGraph.from_edge_index(torch.randint(0, 60, (2, 300), generator=g), 60)
    y = torch.randint(0, 3, (60,), generator=g)
    x = torch.randn(60, 6, generator=g) + y.unsqueeze(1)
    split = torch.arange(60) % 3
    return NodeDataset("toy", graph, x, y, split == 0, split == 1, split == 2, 3)


def _source(kind, data):
    if kind == "full":
        return FullGraph(data), lambda: GCN(6, 8, 3, dropout=0.3)
    if kind == "sampled":
        return Neighbourhoods(data, [3, 3], 8), lambda: GraphSAGE(6, 8, 3, dropout=0.3)
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    return TokenBatches(data, inputs, 8), lambda: LargeGT(6, 8, 3, heads=2, global_dim=4,
                                                           num_codes=5, dropout=0.3,
                                                           input_dropout=0.2)


def _small_run(kind, epochs, checkpoint=None, amp=False, init_seed=0, lr=0.01, data=None):
    data = data or _toy_data()
    source, make = _source(kind, data)
    torch.manual_seed(init_seed)
    model = make()
    result = train_nodes(model, source, data, NodeTrainConfig(epochs, lr, amp=amp),
                         checkpoint=checkpoint)
    return model, result


@pytest.mark.parametrize("kind", ["full", "sampled", "tokens"])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, kind):
    straight, a = _small_run(kind, 4)
    _small_run(kind, 2, checkpoint=str(tmp_path))  # "killed" after epoch 2
    resumed, b = _small_run(kind, 4, checkpoint=str(tmp_path), init_seed=7)
    assert b.curve == a.curve and b.best_epoch == a.best_epoch and b.epochs == 4
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    again, c = _small_run(kind, 4, checkpoint=str(tmp_path), init_seed=9)  # finished
    assert c.curve == a.curve and c.seconds == b.seconds


@pytest.mark.parametrize("kind", ["full", "sampled", "tokens"])
def test_a_diverged_run_stops_before_the_epoch_is_saved(tmp_path, kind):
    data = _toy_data()
    source, make = _source(kind, data)
    batches, loss, epochs = source.batches, source.loss, []
    source.batches = lambda epoch, *rest: epochs.append(epoch) or batches(epoch, *rest)
    source.loss = lambda net, batch: loss(net, batch) * (float("nan") if epochs[-1] == 3 else 1)
    with pytest.raises(FloatingPointError, match="training diverged: the mean loss of epoch 3 "
                       "is nan; nothing of epoch 3 was saved \\(a checkpoint keeps epoch 2\\)"):
        train_nodes(make(), source, data, NodeTrainConfig(5, 0.01), checkpoint=str(tmp_path))
    saved = read_checkpoint(str(tmp_path / "seed0.pt"))
    assert json.loads(saved["state"])["epoch"] == 2
    assert all(torch.isfinite(w).all() for w in saved["model"].values())


def test_the_checkpoint_keeps_the_selected_epochs_weights(tmp_path, cora):
    torch.manual_seed(0)
    model = GCN(cora.num_features, 16, cora.num_classes)
    source = FullGraph(cora)
    result = train_nodes(model, source, cora, NodeTrainConfig(40, 0.2, weight_decay=5e-4),
                         checkpoint=str(tmp_path))
    assert result.best_epoch < 40  # so the last weights are not the selected ones
    best = GCN(cora.num_features, 16, cora.num_classes)
    best.load_state_dict(read_checkpoint(str(tmp_path / "seed0.pt"))["best_model"])
    for weights, want in ((best, result), (model, None)):
        logits = source.predict(weights, torch.arange(cora.num_nodes), 0, False)
        val, test = (accuracy(logits[m], cora.y[m]) for m in (cora.val_mask, cora.test_mask))
        if want is not None:
            assert (val, test) == (want.val_acc, want.test_acc)
        else:
            assert val != result.val_acc or test != result.test_acc


@pytest.mark.parametrize("kind", ["full", "tokens"])
def test_a_resumed_run_keeps_the_best_weights(tmp_path, kind):
    _, a = _small_run(kind, 4, checkpoint=str(tmp_path / "straight"))
    _small_run(kind, a.best_epoch, checkpoint=str(tmp_path / "cut"))  # cut at its best
    _small_run(kind, 4, checkpoint=str(tmp_path / "cut"))
    straight, cut = (read_checkpoint(str(tmp_path / run / "seed0.pt"))["best_model"]
                     for run in ("straight", "cut"))
    for key, value in straight.items():
        torch.testing.assert_close(cut[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["full", "tokens"])
def test_other_settings_or_data_are_refused_on_resume(tmp_path, kind):
    _small_run(kind, 1, checkpoint=str(tmp_path))
    with pytest.raises(ValueError, match="setting 'lr' is 0.01 there and 0.02 here"):
        _small_run(kind, 2, checkpoint=str(tmp_path), lr=0.02)
    data = _toy_data()
    data.train_mask, data.val_mask = data.val_mask, data.train_mask  # another split
    with pytest.raises(ValueError, match="trained on other data"):
        _small_run(kind, 2, checkpoint=str(tmp_path), data=data)


def test_sparse_features_are_fingerprinted(tmp_path, cora):
    from glt.datasets import sparse_features
    data = NodeDataset("cora", cora.graph, sparse_features(cora.x), cora.y, cora.train_mask,
                       cora.val_mask, cora.test_mask, cora.num_classes)
    train_nodes(GCN(cora.num_features, 4, cora.num_classes), FullGraph(data), data,
                NodeTrainConfig(1, 0.01), checkpoint=str(tmp_path))
    data.x = sparse_features(cora.x * 2)
    with pytest.raises(ValueError, match="trained on other data"):
        train_nodes(GCN(cora.num_features, 4, cora.num_classes), FullGraph(data), data,
                    NodeTrainConfig(2, 0.01), checkpoint=str(tmp_path))


@pytest.mark.parametrize("first", ["sparse", "dense"])
def test_a_run_resumes_with_its_features_in_the_other_layout(tmp_path, cora, first):
    """The recipes keep bag-of-words features sparse on CPU and dense on a GPU: a
    run checkpointed on one resumes on the other."""
    from glt.datasets import sparse_features
    layouts = {"sparse": sparse_features(cora.x), "dense": cora.x}
    data = NodeDataset("cora", cora.graph, layouts[first], cora.y, cora.train_mask,
                       cora.val_mask, cora.test_mask, cora.num_classes)
    train_nodes(GCN(cora.num_features, 4, cora.num_classes), FullGraph(data), data,
                NodeTrainConfig(2, 0.01), checkpoint=str(tmp_path))
    data.x = layouts["dense" if first == "sparse" else "sparse"]
    result = train_nodes(GCN(cora.num_features, 4, cora.num_classes), FullGraph(data), data,
                         NodeTrainConfig(3, 0.01), checkpoint=str(tmp_path))
    assert result.epochs == 3 and len(result.curve) == 3


@pytest.mark.parametrize("kind", ["full", "sampled", "tokens"])
def test_mixed_precision_trains(kind):
    _, result = _small_run(kind, 3, amp=True)
    assert 0.0 <= result.test_acc <= 1.0 and len(result.curve) == 3


def test_mixed_precision_agrees_with_float32():
    data = _toy_data()
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    model = LargeGT(6, 8, 3, heads=2, global_dim=4, num_codes=5)
    full = predict_tokens(model, inputs, torch.arange(60))
    half = predict_tokens(model, inputs, torch.arange(60), amp=True)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, full, rtol=0.05, atol=0.05)


def test_the_whole_graph_is_not_split_across_ranks():
    from glt.samplers.shard import Shard
    data = _toy_data()
    with pytest.raises(ValueError, match="not split across ranks"):
        train_nodes(GCN(6, 4, 3), FullGraph(data), data, NodeTrainConfig(1, 0.01),
                    shard=Shard(0, 2))
