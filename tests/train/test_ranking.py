import math

import pytest
import torch

from glt.graph import CSRGraph
from glt.train.ranking import dot_scorer, rank_metrics, recommend


def _graph(pairs, num_users, num_items):
    edge_index = torch.tensor(pairs, dtype=torch.long).T.reshape(2, -1)
    return CSRGraph.from_edge_index(edge_index, num_users, num_cols=num_items)


def _brute_force(scores, train_pairs, test_pairs, k):
    """Per-user Python reference: rank all non-training items, compare with test items."""
    num_users = scores.size(0)
    totals = {"recall": 0.0, "ndcg": 0.0, "precision": 0.0, "hit": 0.0}
    counted = 0
    for u in range(num_users):
        test = {i for v, i in test_pairs if v == u}
        if not test:
            continue
        seen = {i for v, i in train_pairs if v == u}
        ranked = sorted((i for i in range(scores.size(1)) if i not in seen),
                        key=lambda i: -float(scores[u, i]))[:k]
        hits = [1.0 if i in test else 0.0 for i in ranked]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(test))))
        totals["recall"] += sum(hits) / len(test)
        totals["precision"] += sum(hits) / k
        totals["hit"] += float(sum(hits) > 0)
        totals["ndcg"] += dcg / idcg
        counted += 1
    return {f"{m}@{k}": v / counted for m, v in totals.items()}


@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_matches_brute_force(chunk_size):
    gen = torch.Generator().manual_seed(0)
    num_users, num_items = 13, 30
    pairs = {(int(u), int(i)) for u, i in zip(torch.randint(0, num_users, (120,), generator=gen),
                                             torch.randint(0, num_items, (120,), generator=gen))}
    pairs = sorted(pairs)
    train = [p for j, p in enumerate(pairs) if j % 3]
    test = [p for j, p in enumerate(pairs) if j % 3 == 0 and p[0] != 4]  # user 4: no test item
    user_emb, item_emb = torch.randn(num_users, 8, generator=gen), torch.randn(num_items, 8,
                                                                                generator=gen)
    got = rank_metrics(dot_scorer(user_emb, item_emb), _graph(train, num_users, num_items),
                       _graph(test, num_users, num_items), ks=(5, 20), chunk_size=chunk_size)
    for k in (5, 20):
        ref = _brute_force(user_emb @ item_emb.T, train, test, k)
        for key, value in ref.items():
            assert got[key] == pytest.approx(value, abs=1e-9), key


def test_perfect_scores_give_one():
    train = _graph([(0, 0), (1, 1)], 2, 6)
    test = _graph([(0, 2), (0, 3), (1, 4)], 2, 6)
    scores = torch.zeros(2, 6)
    scores[0, 2] = scores[0, 3] = scores[1, 4] = 1.0
    got = rank_metrics(lambda users: scores[users], train, test, ks=(2,))
    assert got["recall@2"] == 1.0 and got["ndcg@2"] == pytest.approx(1.0)
    assert got["precision@2"] == pytest.approx(0.75)


def test_bad_input():
    g = _graph([(0, 0)], 2, 3)
    with pytest.raises(ValueError, match="one shape"):
        rank_metrics(lambda u: torch.zeros(u.numel(), 3), g, _graph([(0, 0)], 2, 4))
    with pytest.raises(ValueError, match=r"scorer to return \[1, 3\]"):
        rank_metrics(lambda u: torch.zeros(u.numel(), 5), g, g)
    with pytest.raises(ValueError, match="embeddings"):
        dot_scorer(torch.zeros(2, 3), torch.zeros(3, 4))


def test_rank_metrics_refuses_careless_arguments():
    """A negative user id would score a user counted from the end and a cut-off of
    2.5 a list of 2 reported as @2: both are refused, as are other bad values."""
    train, test = _graph([(0, 0), (1, 1), (2, 2)], 3, 4), _graph([(0, 1), (1, 2), (2, 3)], 3, 4)
    scorer = dot_scorer(torch.randn(3, 2), torch.randn(4, 2))
    for kwargs, error, message in [
            (dict(users=torch.tensor([0, -3])), ValueError, "users to hold non-negative ids"),
            (dict(users=torch.tensor([3])), ValueError, "users to hold ids below 3, got 3"),
            (dict(users=torch.tensor([0.0])), ValueError, "users to be an integer tensor"),
            (dict(users=[0, 1]), TypeError, "users to be a torch.Tensor, got list"),
            (dict(ks=(2.5,)), TypeError, "each cut-off in ks to be an integer, got 2.5"),
            (dict(ks=(0, 20)), ValueError, "each cut-off in ks to be >= 1, got 0"),
            (dict(ks=()), ValueError, "at least one cut-off"),
            (dict(chunk_size=0), ValueError, "chunk_size to be >= 1, got 0")]:
        with pytest.raises(error, match=message):
            rank_metrics(scorer, train, test, **kwargs)
    some = rank_metrics(scorer, train, test, users=torch.tensor([2, 0], dtype=torch.int32))
    assert some == rank_metrics(scorer, train, test, users=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="chunk_size to be >= 1, got 0"):
        recommend(scorer, torch.tensor([0]), 4, k=2, chunk_size=0)


@pytest.mark.parametrize("chunk_size", [1, 4, 100])
def test_recommend_matches_a_python_ranking(chunk_size):
    """Each user's top-k unseen items by a per-user Python sort; a user who has seen
    all but two items gets those two, then item -1 at -inf."""
    gen = torch.Generator().manual_seed(1)
    num_users, num_items, k = 9, 12, 5
    seen = {(int(u), int(i)) for u, i in zip(torch.randint(0, num_users, (40,), generator=gen),
                                            torch.randint(0, num_items, (40,), generator=gen))}
    seen = sorted(seen | {(7, i) for i in range(num_items) if i not in (3, 8)})
    user_emb, item_emb = (torch.randn(n, 6, generator=gen) for n in (num_users, num_items))
    scores = user_emb @ item_emb.T
    users = torch.tensor([7, 0, 3, 3, 8])
    items, top = recommend(dot_scorer(user_emb, item_emb), users, num_items, k,
                           exclude=_graph(seen, num_users, num_items), chunk_size=chunk_size)
    for row, u in enumerate(users.tolist()):
        ranked = sorted((i for i in range(num_items) if (u, i) not in seen),
                        key=lambda i: -float(scores[u, i]))[:k]
        ranked += [-1] * (k - len(ranked))
        assert items[row].tolist() == ranked
        for i, value in zip(ranked, top[row].tolist()):
            assert value == (-math.inf if i < 0 else pytest.approx(float(scores[u, i])))
    # without exclusion: the plain top-k of the scores
    plain, _ = recommend(dot_scorer(user_emb, item_emb), users, num_items, k)
    assert torch.equal(plain, scores[users].topk(k, dim=1).indices)


def test_recommend_checks_its_arguments():
    scorer = dot_scorer(torch.randn(3, 4), torch.randn(5, 4))
    with pytest.raises(ValueError, match="expected k to be at most num_items \\(5\\), got 6"):
        recommend(scorer, torch.tensor([0]), 5, k=6)
    with pytest.raises(ValueError, match="expected users to hold ids below 3, got 3"):
        recommend(scorer, torch.tensor([3]), 5, k=2, exclude=_graph([(0, 1)], 3, 5))
    with pytest.raises(ValueError, match=r"expected exclude to be a CSRGraph \[U, 5\]"):
        recommend(scorer, torch.tensor([0]), 5, k=2, exclude=_graph([(0, 1)], 3, 6))
    with pytest.raises(ValueError, match=r"expected the scorer to return \[1, 6\]"):
        recommend(scorer, torch.tensor([0]), 6, k=2)


def test_recommend_refuses_careless_user_ids():
    """Without ``exclude`` no user count bounds the ids, but a negative one (which
    would score the last users from the end) or a float one is still refused."""
    scorer = dot_scorer(torch.randn(3, 4), torch.randn(5, 4))
    with pytest.raises(ValueError, match="expected users to hold non-negative ids, got -1"):
        recommend(scorer, torch.tensor([0, -1]), 5, k=2)
    with pytest.raises(ValueError, match="expected users to be an integer tensor"):
        recommend(scorer, torch.tensor([0.0]), 5, k=2)
    with pytest.raises(ValueError, match="expected k to be >= 1, got 0"):
        recommend(scorer, torch.tensor([0]), 5, k=0)
