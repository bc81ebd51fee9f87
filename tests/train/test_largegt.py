"""glt.train.largegt: token-draw averaging at prediction, checkpointed resumption,
mixed precision."""
import pytest
import torch

from glt.datasets import NodeDataset
from glt.graph import CSRGraph
from glt.models.largegt import LargeGT, TokenInputs
from glt.train.largegt import predict_tokens, train_largegt


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
        train_largegt(LargeGT(6, 8, 3, global_dim=4, num_codes=5), data,
                      TokenInputs(data.graph, data.x, 4), batch_size=8, epochs=1, lr=0.01,
                      eval_samples=0)


def _toy_data():
    g = torch.Generator().manual_seed(1)
    graph = CSRGraph.from_edge_index(torch.randint(0, 60, (2, 300), generator=g), 60)
    y = torch.randint(0, 3, (60,), generator=g)
    x = torch.randn(60, 6, generator=g) + y.unsqueeze(1)
    split = torch.arange(60) % 3
    return NodeDataset("toy", graph, x, y, split == 0, split == 1, split == 2, 3)


def _small_run(tmp_path, epochs, checkpoint=None, amp=False, init_seed=0):
    data = _toy_data()
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    torch.manual_seed(init_seed)
    model = LargeGT(6, 8, 3, heads=2, global_dim=4, num_codes=5, dropout=0.3,
                    input_dropout=0.2)
    result = train_largegt(model, data, inputs, batch_size=8, epochs=epochs, lr=0.01,
                           checkpoint=checkpoint, amp=amp)
    return model, result


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    straight, a = _small_run(tmp_path, 4)
    _small_run(tmp_path, 2, checkpoint=str(tmp_path))  # "killed" after epoch 2
    resumed, b = _small_run(tmp_path, 4, checkpoint=str(tmp_path), init_seed=7)
    assert b.curve == a.curve and b.best_epoch == a.best_epoch and b.epochs == 4
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    again, c = _small_run(tmp_path, 4, checkpoint=str(tmp_path), init_seed=9)  # finished
    assert c.curve == a.curve and c.seconds == b.seconds


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    _small_run(tmp_path, 1, checkpoint=str(tmp_path))
    data = _toy_data()
    model = LargeGT(6, 16, 3, heads=2, global_dim=4, num_codes=5)  # another width
    with pytest.raises(ValueError, match="belongs to another run"):
        train_largegt(model, data, TokenInputs(data.graph, data.x, 4), batch_size=8,
                      epochs=2, lr=0.01, checkpoint=str(tmp_path))


def test_other_settings_or_data_are_refused_on_resume(tmp_path):
    _small_run(tmp_path, 1, checkpoint=str(tmp_path))
    data = _toy_data()
    model = LargeGT(6, 8, 3, heads=2, global_dim=4, num_codes=5, dropout=0.3, input_dropout=0.2)
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    with pytest.raises(ValueError, match="setting 'lr' is 0.01 there and 0.02 here"):
        train_largegt(model, data, inputs, batch_size=8, epochs=2, lr=0.02,
                      checkpoint=str(tmp_path))
    data.train_mask, data.val_mask = data.val_mask, data.train_mask  # another split
    with pytest.raises(ValueError, match="trained on other data"):
        train_largegt(model, data, inputs, batch_size=8, epochs=2, lr=0.01,
                      checkpoint=str(tmp_path))


def test_mixed_precision_trains_and_agrees_with_float32(tmp_path):
    _, result = _small_run(tmp_path, 3, amp=True)
    assert 0.0 <= result.test_acc <= 1.0 and len(result.curve) == 3
    data = _toy_data()
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    model = LargeGT(6, 8, 3, heads=2, global_dim=4, num_codes=5)
    full = predict_tokens(model, inputs, torch.arange(60))
    half = predict_tokens(model, inputs, torch.arange(60), amp=True)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, full, rtol=0.05, atol=0.05)
