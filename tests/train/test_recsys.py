import os

import pytest
import torch

from glt.datasets.rec import RecDataset
from glt.graph import CSRGraph
from glt.models.lightgcn import LightGCN
from glt.train.recsys import RecTrainConfig, evaluate, fit


def _two_communities(num_users: int = 40, num_items: int = 40, seed: int = 0) -> RecDataset:
    """Users of each half interact only with items of the same half."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for u in range(num_users):
        half = (u * 2) // num_users
        items = torch.randperm(num_items // 2, generator=gen)[:8] + half * (num_items // 2)
        train += [(u, int(i)) for i in items[:6]]
        test += [(u, int(i)) for i in items[6:]]

    def graph(pairs):
        return CSRGraph.from_edge_index(torch.tensor(pairs).T, num_users, num_cols=num_items)
    return RecDataset("communities", num_users, num_items, graph(train), graph(test))


def _model(data, seed=0):
    torch.manual_seed(seed)
    return LightGCN(data.bipartite(), data.num_users, dim=16, num_layers=2)


def test_training_beats_random_ranking():
    data = _two_communities()
    model = _model(data)
    before = evaluate(model, data, ks=(5,))["recall@5"]
    state = fit(model, data, RecTrainConfig(epochs=30, batch_size=64, lr=0.05, eval_every=10,
                                            ks=(5,), metric="recall@5"), progress=False)
    assert state.best["recall@5"] > max(before, 0.2)  # random ranking gives ~5/34 = 0.15
    assert [r["epoch"] for r in state.history] == list(range(1, 31))


def test_resume_continues_exactly(tmp_path):
    data = _two_communities()
    config = RecTrainConfig(epochs=4, batch_size=64, lr=0.01, eval_every=2, ks=(5,),
                            metric="recall@5")
    straight = _model(data)
    fit(straight, data, config, progress=False)
    ckpt = str(tmp_path / "run.pt")
    first = _model(data)
    fit(first, data, RecTrainConfig(**{**config.__dict__, "epochs": 2}), checkpoint=ckpt,
        progress=False)
    resumed = _model(data, seed=123)  # different init: the checkpoint must override it
    state = fit(resumed, data, config, checkpoint=ckpt, progress=False)
    assert state.epoch == 4 and len(state.history) == 4
    assert torch.equal(resumed.embedding, straight.embedding)
    assert not os.path.exists(ckpt + ".tmp")



def test_resume_applies_the_models_weight_decay(tmp_path):
    # a checkpoint whose optimiser had no weight decay (an UltraGCN with its L2 term in
    # the loss) resumed by a model that leaves the term to the optimiser
    from glt.models.ultragcn import UltraGCN
    data = _two_communities()
    config = RecTrainConfig(epochs=2, batch_size=64, lr=0.01, eval_every=2, ks=(5,),
                            metric="recall@5")

    def model(in_optimizer):
        torch.manual_seed(0)
        return UltraGCN(data.train, dim=8, num_negatives=4, num_neighbours=3, init_std=0.3,
                        gamma=0.05, l2_in_optimizer=in_optimizer)
    straight = model(False)
    fit(straight, data, config, progress=False)
    ckpt = str(tmp_path / "run.pt")
    fit(model(False), data, RecTrainConfig(**{**config.__dict__, "epochs": 1}),
        checkpoint=ckpt, progress=False)
    resumed = model(True)
    fit(resumed, data, config, checkpoint=ckpt, progress=False)
    assert torch.allclose(resumed.item_embedding, straight.item_embedding, atol=1e-6)
    assert torch.allclose(resumed.user_embedding, straight.user_embedding, atol=1e-6)

def test_checkpoint_of_another_run_is_refused(tmp_path):
    data = _two_communities()
    ckpt = str(tmp_path / "run.pt")
    config = RecTrainConfig(epochs=1, batch_size=64, eval_every=1, ks=(5,), metric="recall@5")
    fit(_model(data), data, config, checkpoint=ckpt, progress=False)
    other = _two_communities(num_users=20)
    with pytest.raises(ValueError, match="belongs to another run"):
        fit(_model(other), other, config, checkpoint=ckpt, progress=False)


def test_another_split_with_the_same_name_and_sizes_is_refused(tmp_path):
    """The old identity (class, folder name, user / item counts) let this resume."""
    data = _two_communities(seed=0)
    ckpt = str(tmp_path / "run.pt")
    config = RecTrainConfig(epochs=1, batch_size=64, eval_every=1, ks=(5,), metric="recall@5")
    fit(_model(data), data, config, checkpoint=ckpt, progress=False)
    other = _two_communities(seed=1)
    assert (other.name, other.num_users, other.num_items) == (data.name, data.num_users,
                                                              data.num_items)
    with pytest.raises(ValueError, match="trained on other data"):
        fit(_model(other), other, config, checkpoint=ckpt, progress=False)


def test_settings_that_change_the_run_are_refused_on_resume(tmp_path):
    data = _two_communities()
    ckpt = str(tmp_path / "run.pt")
    config = RecTrainConfig(epochs=1, batch_size=64, lr=1e-3, eval_every=1, ks=(5,),
                            metric="recall@5")
    fit(_model(data), data, config, checkpoint=ckpt, progress=False, settings={"decay": 1e-4})
    for changed, settings, match in [
            ({"lr": 1e-2}, {"decay": 1e-4}, "setting 'lr' is 0.001 there and 0.01 here"),
            ({"batch_size": 32}, {"decay": 1e-4}, "setting 'batch_size' is 64 there"),
            ({"seed": 1}, {"decay": 1e-4}, "setting 'seed'"),
            ({}, {"decay": 1e-3}, "setting 'decay' is 0.0001 there and 0.001 here")]:
        with pytest.raises(ValueError, match=match):
            fit(_model(data), data, RecTrainConfig(**{**config.__dict__, **changed}),
                checkpoint=ckpt, progress=False, settings=settings)
    # more epochs, another evaluation cadence or patience: the same run, resumed
    state = fit(_model(data), data, RecTrainConfig(**{**config.__dict__, "epochs": 3,
                                                      "eval_every": 2, "patience": 5}),
                checkpoint=ckpt, progress=False, settings={"decay": 1e-4})
    assert state.epoch == 3 and [r["epoch"] for r in state.history] == [1, 2, 3]


def test_a_diverged_run_is_stopped_before_anything_is_saved(tmp_path):
    """Adam at lr 1e19 overflows the embeddings' scores: the BPR loss is NaN."""
    data = _two_communities()
    ckpt = str(tmp_path / "run.pt")
    with pytest.raises(FloatingPointError, match=r"the mean loss of epoch 1 is nan; nothing of "
                       r"epoch 1 was saved. A lower learning rate \(--lr\) may help"):
        fit(_model(data), data, RecTrainConfig(epochs=3, batch_size=64, lr=1e19, ks=(5,),
                                               metric="recall@5"), checkpoint=ckpt,
            progress=False)
    assert not os.path.exists(ckpt)


def test_early_stopping():
    data = _two_communities()
    config = RecTrainConfig(epochs=50, batch_size=64, lr=0.0, eval_every=1, patience=1,
                            ks=(5,), metric="recall@5")
    state = fit(_model(data), data, config, progress=False)
    assert state.epoch == 2 and state.best_epoch == 1


def test_bad_metric():
    data = _two_communities()
    with pytest.raises(ValueError, match="metric like 'recall@K'"):
        fit(_model(data), data, RecTrainConfig(metric="recall@50", ks=(20,)), progress=False)


def test_eval_schedule_every_epoch_after():
    data = _two_communities()
    config = RecTrainConfig(epochs=10, batch_size=64, lr=0.0, eval_every=5, eval_every_after=7,
                            ks=(5,), metric="recall@5")
    state = fit(_model(data), data, config, progress=False)
    assert [r["epoch"] for r in state.history if "recall@5" in r] == [5, 8, 9, 10]


def test_recommended_lists_give_the_evaluated_recall():
    """A trained model's top-5 lists (training items left out), scored against the test
    items in Python, give ``evaluate``'s recall@5 and precision@5."""
    from glt.train.ranking import recommend
    data = _two_communities()
    model = _model(data)
    fit(model, data, RecTrainConfig(epochs=5, batch_size=64, lr=0.05, eval_every=5, ks=(5,),
                                    metric="recall@5"), progress=False)
    metrics = evaluate(model, data, ks=(5,))
    users = data.test_users
    items, _ = recommend(model.scorer(), users, data.num_items, k=5, exclude=data.train)
    test = {(int(u), int(i)) for u, i in zip(data.test.row(), data.test.col)}
    hits = [sum((u, i) in test for i in row) for u, row in zip(users.tolist(), items.tolist())]
    sizes = data.test.out_degree()[users].tolist()
    assert metrics["recall@5"] == pytest.approx(sum(h / n for h, n in zip(hits, sizes)) / len(hits))
    assert metrics["precision@5"] == pytest.approx(sum(hits) / 5 / len(hits))
    train = {(int(u), int(i)) for u, i in zip(data.train.row(), data.train.col)}
    assert not any((u, i) in train for u, row in zip(users.tolist(), items.tolist()) for i in row)
