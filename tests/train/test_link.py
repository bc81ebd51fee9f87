"""Link prediction training: OGB's protocol on fixtures in the real release's
format, exact resume, and clear errors for what it cannot train on."""
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from glt.datasets import load_ogb, load_planetoid
from glt.datasets.testing import write_ogb
from glt.graph import CSRGraph
from glt.models.link import LinkModel, LinkPredictor, link_encoder
from glt.samplers import NegativeSampler
from glt.train.checkpoint import read_checkpoint
from glt.train.link import LinkTrainConfig, evaluate_link, train_link


@pytest.fixture(scope="module")
def ddi(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ddi"))
    write_ogb(root, "ogbl-ddi", num_nodes=60, num_edges=400, seed=1)
    return load_ogb("ogbl-ddi", root)


def _model(data, kind="sage", seed=0):
    torch.manual_seed(seed)
    return LinkModel(link_encoder(kind, 16, 16, 2, 0.5), LinkPredictor(16, 16, 2, 0.5),
                     data.num_nodes, 16)


CONFIG = LinkTrainConfig(epochs=6, batch_size=64, lr=0.01, eval_every=2, eval_batch_size=32)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 30))
def test_negative_pairs_are_never_edges_nor_self_loops(seed, n):
    torch.manual_seed(seed)
    edges = torch.randint(0, n, (2, n * n // 3))
    graph = CSRGraph.from_edge_index(edges, n)
    existing = set(map(tuple, edges.t().tolist()))
    if len({e for e in existing if e[0] != e[1]}) == n * (n - 1):
        with pytest.raises(ValueError, match="every pair of nodes is an edge"):
            NegativeSampler(graph).pairs(257)
        return
    pairs = NegativeSampler(graph).pairs(257, torch.Generator().manual_seed(seed))
    assert pairs.shape == (257, 2) and bool((pairs >= 0).all() and (pairs < n).all())
    assert not any(tuple(p) in existing or p[0] == p[1] for p in pairs.tolist())


def test_negative_pairs_are_uniform_over_non_edges():
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), 3)  # 4 non-edges remain
    pairs = NegativeSampler(graph).pairs(40_000, torch.Generator().manual_seed(0))
    counts = torch.bincount(pairs[:, 0] * 3 + pairs[:, 1], minlength=9).float() / 40_000
    for key in (0 * 3 + 2, 1 * 3 + 0, 2 * 3 + 0, 2 * 3 + 1):
        assert abs(float(counts[key]) - 0.25) < 0.02
    assert float(counts.sum()) == pytest.approx(1.0)


def _communities(ddi, n: int = 60, seed: int = 0):
    """Two communities: edges inside them; held-out inner pairs are the positives
    to find and pairs across them the negatives (ddi's registry entry, so OGB's
    ddi evaluator applies)."""
    g = torch.Generator().manual_seed(seed)
    half = n // 2
    inner = torch.tensor([(a, b) for a in range(n) for b in range(a + 1, n)
                          if (a < half) == (b < half)])
    inner = inner[torch.randperm(inner.size(0), generator=g)]
    across = torch.tensor([(a, b) for a in range(half) for b in range(half, n)])
    across = across[torch.randperm(across.size(0), generator=g)]
    train, valid, test = inner[:500], inner[500:560], inner[560:620]
    graph = CSRGraph.from_edge_index(torch.cat([train, train.flip(1)]).t(), n)
    split = {"train": {"edge": train}, "valid": {"edge": valid, "edge_neg": across[:100]},
             "test": {"edge": test, "edge_neg": across[100:200]}}
    return type(ddi)("ogbl-ddi", graph, None, split, ddi.info)


def test_training_learns_and_scores_with_ogbs_evaluator(ddi):
    data = _communities(ddi)
    model = _model(data)
    before = evaluate_link(model, data, data.evaluator(), CONFIG)["valid"]
    run = train_link(model, data, LinkTrainConfig(epochs=30, batch_size=128, lr=0.01,
                                                  eval_every=5))
    assert [e for e, _ in run.curve] == [5, 10, 15, 20, 25, 30]
    assert run.val_acc > max(before, 0.8) and run.test_acc > 0.8
    assert run.val_acc == max(v for _, v in run.curve)


def test_a_resumed_run_equals_an_uninterrupted_one(ddi, tmp_path):
    straight = train_link(_model(ddi), ddi, CONFIG)
    cut = LinkTrainConfig(**{**CONFIG.__dict__, "epochs": 4})  # "killed" after epoch 4
    train_link(_model(ddi), ddi, cut, checkpoint=str(tmp_path))
    resumed_model = _model(ddi, seed=5)  # other weights: the checkpoint must restore them
    resumed = train_link(resumed_model, ddi, CONFIG, checkpoint=str(tmp_path))
    assert resumed.curve == straight.curve and resumed.test_acc == straight.test_acc
    again = train_link(_model(ddi, seed=9), ddi, CONFIG, checkpoint=str(tmp_path))
    assert again.curve == straight.curve  # finished: read back, not retrained
    with pytest.raises(ValueError, match="setting 'lr' is 0.01 there and 0.02 here"):
        train_link(_model(ddi), ddi, LinkTrainConfig(**{**CONFIG.__dict__, "lr": 0.02}),
                   checkpoint=str(tmp_path))


def test_a_checkpoint_written_before_the_symmetric_setting_resumes(ddi, tmp_path):
    from glt.train.checkpoint import _digest
    straight = train_link(_model(ddi), ddi, CONFIG)
    train_link(_model(ddi), ddi, LinkTrainConfig(**{**CONFIG.__dict__, "epochs": 4}),
               checkpoint=str(tmp_path))
    path = str(tmp_path / "seed0.pt")
    old = read_checkpoint(path)
    del old["identity"]["settings"]["symmetric"]  # as glt wrote it before the setting
    old.pop("digest")
    torch.save({**old, "digest": _digest(old)}, path)
    with pytest.raises(ValueError, match="setting 'symmetric' is False there and True here"):
        train_link(_model(ddi), ddi, LinkTrainConfig(**{**CONFIG.__dict__, "symmetric": True}),
                   checkpoint=str(tmp_path))  # the checkpoint lacks it: it ran without
    assert train_link(_model(ddi, seed=5), ddi, CONFIG, checkpoint=str(tmp_path)).curve == \
        straight.curve
    with pytest.raises(ValueError, match="setting 'symmetric' is False there and True here"):
        train_link(_model(ddi), ddi, LinkTrainConfig(**{**CONFIG.__dict__, "symmetric": True}),
                   checkpoint=str(tmp_path))


def test_the_checkpoint_keeps_the_selected_evaluations_weights(ddi, tmp_path):
    config = LinkTrainConfig(**{**CONFIG.__dict__, "epochs": 12, "eval_every": 1})
    model = _model(ddi)
    result = train_link(model, ddi, config, checkpoint=str(tmp_path))
    best = _model(ddi, seed=5)
    best.load_state_dict(read_checkpoint(str(tmp_path / "seed0.pt"))["best_model"])
    evaluator = ddi.evaluator()
    assert evaluate_link(best, ddi, evaluator, config) == {"valid": result.val_acc,
                                                           "test": result.test_acc}
    assert result.best_epoch < config.epochs  # the last weights are another evaluation's
    assert evaluate_link(model, ddi, evaluator, config)["valid"] != result.val_acc


def test_a_diverged_run_stops_before_the_epoch_is_saved(ddi, tmp_path):
    """Adam at lr 1e10 takes the scores past float32 in the second epoch."""
    with pytest.raises(FloatingPointError, match=r"the mean loss of epoch 2 is nan; nothing of "
                       r"epoch 2 was saved \(a checkpoint keeps epoch 1\)"):
        train_link(_model(ddi), ddi, LinkTrainConfig(**{**CONFIG.__dict__, "lr": 1e10}),
                   checkpoint=str(tmp_path))
    saved = read_checkpoint(str(tmp_path / "seed0.pt"))
    assert json.loads(saved["state"])["epoch"] == 1
    assert all(torch.isfinite(w).all() for w in saved["model"].values())


def test_uniform_negatives_and_validation_edges_as_input(tmp_path):
    # 80 edges a split: more negatives than Hits@50 needs (fewer give 1.0 whatever the scores)
    write_ogb(str(tmp_path), "ogbl-collab", num_nodes=50, num_edges=800, num_features=6)
    collab = load_ogb("ogbl-collab", str(tmp_path))
    torch.manual_seed(0)
    model = LinkModel(link_encoder("gcn", 6, 8, 3, 0.0), LinkPredictor(8, 8, 3, 0.0))
    config = LinkTrainConfig(epochs=3, batch_size=64, eval_every=1, negatives="uniform",
                             edge_weight=True, use_valid_as_input=True)
    run = train_link(model, collab, config)
    assert len(run.curve) == 3 and 0.0 <= run.test_acc <= 1.0
    # OGB's collab example: SparseTensor.from_edge_index(cat([edge_index, valid.t()]))
    # .to_symmetric(), i.e. every pair once in both directions, no weights; PyG's
    # to_undirected builds the same edge set
    from torch_geometric.utils import to_undirected
    from glt.train.link import graphs
    train_graph, full = graphs(collab, config)
    valid = collab.split["valid"]["edge"]
    expected = to_undirected(torch.cat([collab.graph.edge_index(), valid.t()], 1),
                             num_nodes=collab.num_nodes)
    assert torch.equal(full.edge_index(), expected) and full.edge_weight is None
    assert train_graph.edge_weight is not None  # the training graph keeps its weights
    # the test edges are scored on that graph, the validation edges on the training one
    model.eval()
    with torch.no_grad():
        h = model.encode(collab.x, full)
        pos, neg = (model.score(h, collab.split["test"][k]) for k in ("edge", "edge_neg"))
    hits = collab.evaluator().eval({"y_pred_pos": pos, "y_pred_neg": neg})["hits@50"]
    assert 0.0 < hits < 1.0
    assert evaluate_link(model, collab, collab.evaluator(), config)["test"] == \
        pytest.approx(hits, abs=1e-6)


def test_what_it_cannot_train_on_is_named(ddi, tmp_path):
    cora = load_planetoid("cora")
    with pytest.raises(ValueError, match="Cora is not a link-prediction set"):
        train_link(_model(ddi), cora, CONFIG, evaluator=ddi.evaluator())
    from ogb.linkproppred import Evaluator
    with pytest.raises(ValueError, match="the evaluator is ogb's for ogbl-collab, not for "
                                         "ogbl-ddi"):
        train_link(_model(ddi), ddi, CONFIG, evaluator=Evaluator("ogbl-collab"))
    broken = type(ddi)(ddi.name, ddi.graph, None, {"train": ddi.split["train"],
                                                   "valid": {"edge": ddi.split["valid"]["edge"]},
                                                   "test": ddi.split["test"]}, ddi.info)
    with pytest.raises(ValueError, match="its valid split has no edge_neg edges"):
        train_link(_model(ddi), broken, CONFIG)
    none = torch.zeros(0, 2, dtype=torch.long)
    for split, message in (("test", "its test split has no rows in edge; its figure would be "
                                    "nan"),
                           ("train", "its train split holds no pairs to train on")):
        empty = type(ddi)(ddi.name, ddi.graph, None, {**ddi.split, split: {
            **ddi.split[split], "edge": none}}, ddi.info)
        with pytest.raises(ValueError, match=f"ogbl-ddi: {message}"):
            train_link(_model(ddi), empty, CONFIG)
    with pytest.raises(ValueError, match="expected negatives 'exclude', 'uniform', "
                                         "'per_source', got 'hard'"):
        LinkTrainConfig(negatives="hard")


def test_release_problems_name_the_file_or_the_set(tmp_path):
    import os
    path = write_ogb(str(tmp_path), "ogbl-ddi")
    os.remove(os.path.join(path, "split", "target", "valid.pt"))
    with pytest.raises(FileNotFoundError, match="ogbl-ddi release in .* is incomplete: "
                                                "missing split/target/valid.pt"):
        load_ogb("ogbl-ddi", str(tmp_path), download=False)
    os.remove(os.path.join(path, "RELEASE_v1.txt"))  # a release of another version
    with pytest.raises(RuntimeError, match="holds an older release of ogbl-ddi"):
        load_ogb("ogbl-ddi", str(tmp_path), download=False)


def _as_sources(data, k: int = 7, seed: int = 0):
    """:func:`_communities`' splits in ogbl-citation2's layout (sources, targets,
    ``k`` negative targets a source, drawn from the other community), under
    citation2's registry entry so that OGB's MRR evaluator applies."""
    from glt.datasets import dataset_info
    g = torch.Generator().manual_seed(seed)
    half = data.num_nodes // 2
    split = {"train": {"source_node": data.split["train"]["edge"][:, 0],
                       "target_node": data.split["train"]["edge"][:, 1]}}
    for part in ("valid", "test"):
        edge = data.split[part]["edge"]
        other = torch.randint(0, half, (edge.size(0), k), generator=g)
        other += half * (edge[:, :1] < half)
        split[part] = {"source_node": edge[:, 0], "target_node": edge[:, 1],
                       "target_node_neg": other}
    return type(data)("ogbl-citation2", data.graph, None, split,
                      dataset_info("ogbl-citation2"))


def _ogb_citation2_mrr(model, data, evaluator, part, batch_size):
    """OGB's examples/linkproppred/citation2/gnn.py ``test_split``: every source
    repeated for its negatives, scored in batches, the evaluator's mrr_list mean."""
    h = model.encode(None, data.graph)
    source = data.split[part]["source_node"]
    target = data.split[part]["target_node"]
    target_neg = data.split[part]["target_node_neg"]
    k = target_neg.size(1)
    pos = torch.cat([model.score(h, torch.stack([source[i], target[i]], 1))
                     for i in torch.arange(source.numel()).split(batch_size)])
    src = source.view(-1, 1).repeat(1, k).view(-1)
    dst = target_neg.view(-1)
    neg = torch.cat([model.score(h, torch.stack([src[i], dst[i]], 1))
                     for i in torch.arange(src.numel()).split(batch_size)]).view(-1, k)
    return evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})["mrr_list"].mean().item()


def test_citation2_mrr_is_ogbs_example_and_training_learns(ddi):
    data = _as_sources(_communities(ddi))
    model = _model(data).eval()
    evaluator = data.evaluator()
    assert evaluator.eval_metric == "mrr"
    config = LinkTrainConfig(epochs=30, batch_size=128, lr=0.01, eval_every=5,
                             eval_batch_size=11, negatives="per_source", clip=None)
    before = evaluate_link(model, data, evaluator, config)
    for part in ("valid", "test"):  # 11 pairs at a time: chunks cut sources' negatives
        assert before[part] == pytest.approx(
            _ogb_citation2_mrr(model, data, evaluator, part, 11), abs=1e-6)
    run = train_link(model, data, config)
    assert run.val_acc > max(before["valid"], 0.8) and run.test_acc > 0.8
    after = evaluate_link(model, data, evaluator, config)["valid"]
    assert after == pytest.approx(_ogb_citation2_mrr(model, data, evaluator, "valid", 64),
                                  abs=1e-6)


def test_per_source_negatives_keep_the_source_and_draw_targets_uniformly(ddi, monkeypatch):
    from glt.train import link
    data = _as_sources(_communities(ddi))
    seen = []
    real = link._negatives

    def record(kind, sampler, pos, num_nodes, gen):
        neg = real(kind, sampler, pos, num_nodes, gen)
        seen.append((pos.clone(), neg))
        return neg
    monkeypatch.setattr(link, "_negatives", record)

    def no_clipping(*args, **kwargs):
        raise AssertionError("clip None must not clip")
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", no_clipping)
    train_link(_model(data), data, LinkTrainConfig(epochs=20, batch_size=500, eval_every=20,
                                                   negatives="per_source", clip=None))
    assert all(torch.equal(neg[:, 0], pos[:, 0]) for pos, neg in seen)
    targets = torch.cat([neg[:, 1] for _, neg in seen])
    counts = torch.bincount(targets, minlength=60).float() / targets.numel()
    assert targets.numel() == 20 * 500 and float((counts - 1 / 60).abs().max()) < 0.01


def test_the_symmetric_graph_is_pygs_to_undirected(ddi):
    from torch_geometric.utils import coalesce, to_undirected
    from glt.train.link import graphs
    torch.manual_seed(0)
    directed = CSRGraph.from_edge_index(torch.randint(0, 30, (2, 80)), 30)  # citations
    data = type(ddi)("ogbl-citation2", directed, None, {"train": {
        "source_node": torch.tensor([0]), "target_node": torch.tensor([1])}})
    graph, test_graph = graphs(data, LinkTrainConfig(symmetric=True))
    expected = coalesce(to_undirected(directed.edge_index(), num_nodes=30), num_nodes=30)
    assert torch.equal(graph.edge_index(), expected) and test_graph is graph
    with pytest.raises(ValueError, match="the symmetric setting keeps no edge weights"):
        LinkTrainConfig(symmetric=True, edge_weight=True)


def test_an_mrr_evaluator_needs_each_sources_negative_targets(ddi):
    from ogb.linkproppred import Evaluator
    pairs = type(ddi)("ogbl-citation2", ddi.graph, None, ddi.split)
    with pytest.raises(ValueError, match="ogbl-citation2: its valid split has no source_node, "
                                         "target_node, target_node_neg edges"):
        train_link(_model(ddi), pairs, CONFIG, evaluator=Evaluator("ogbl-citation2"))
