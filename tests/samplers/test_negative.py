import pytest
import torch
from scipy.stats import chisquare

import glt
from glt.samplers import NegativeSampler


def interactions(seed=0, users=30, items=40, e=300):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.stack([torch.randint(0, users, (e,), generator=gen),
                      torch.randint(0, items, (e,), generator=gen)])
    return glt.CSRGraph.from_edge_index(ei, users, num_cols=items), ei


def test_is_positive_matches_a_dense_table():
    graph, ei = interactions()
    dense = torch.zeros(30, 40, dtype=torch.bool)
    dense[ei[0], ei[1]] = True
    s = NegativeSampler(graph)
    u, i = torch.meshgrid(torch.arange(30), torch.arange(40), indexing="ij")
    assert torch.equal(s.is_positive(u, i), dense)


def test_bpr_triples_follow_lightgcn_sampling():
    graph, ei = interactions()
    dense = torch.zeros(30, 40, dtype=torch.bool)
    dense[ei[0], ei[1]] = True
    s = NegativeSampler(graph)
    users, pos, neg = s.bpr(generator=torch.Generator().manual_seed(0))
    assert users.numel() == graph.num_edges
    assert bool(dense[users, pos].all()) and not bool(dense[users, neg].any())
    active = graph.out_degree() > 0
    assert bool(active[users].all())
    counts = torch.bincount(torch.cat([s.bpr(generator=torch.Generator().manual_seed(k))[0]
                                       for k in range(30)]), minlength=30)
    assert chisquare(counts[active].numpy()).pvalue > 1e-3  # users uniform


def test_negatives_with_and_without_exclusion_and_seeding():
    graph, ei = interactions(1)
    s = NegativeSampler(graph)
    users = torch.arange(30)
    neg = s.negatives(users, 50, exclude_positives=True,
                      generator=torch.Generator().manual_seed(2))
    assert neg.shape == (30, 50)
    assert not bool(s.is_positive(users.unsqueeze(1).expand_as(neg), neg).any())
    raw = s.negatives(users, 200, generator=torch.Generator().manual_seed(2))
    assert bool(s.is_positive(users.unsqueeze(1).expand_as(raw), raw).any())  # UltraGCN: no check
    again = s.negatives(users, 200, generator=torch.Generator().manual_seed(2))
    assert torch.equal(raw, again)
    other = s.negatives(users, 200, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(raw, other)


def test_negatives_are_uniform_and_independent():
    graph, _ = interactions(2)
    s = NegativeSampler(graph)
    neg = s.negatives(torch.arange(30), 4000, generator=torch.Generator().manual_seed(0))
    assert chisquare(torch.bincount(neg.flatten(), minlength=40).numpy()).pvalue > 1e-3
    # consecutive draws: every ordered pair of items equally often
    pairs = neg[:, :-1].flatten() * 40 + neg[:, 1:].flatten()
    assert chisquare(torch.bincount(pairs, minlength=1600).numpy()).pvalue > 1e-3
    # draws of one call and of the next (one generator): unrelated
    gen = torch.Generator().manual_seed(5)
    a, b = (s.negatives(torch.arange(30), 4000, generator=gen).flatten() for _ in range(2))
    assert chisquare(torch.bincount(a * 40 + b, minlength=1600).numpy()).pvalue > 1e-3


def test_bad_input():
    graph, _ = interactions()
    s = NegativeSampler(graph)
    with pytest.raises(ValueError, match="below 30"):
        s.negatives(torch.tensor([30]), 2)
    with pytest.raises(ValueError, match="num_negatives"):
        s.negatives(torch.tensor([0]), 0)
    full = glt.CSRGraph.from_edge_index(torch.tensor([[0, 0], [0, 1]]), 1, num_cols=2)
    with pytest.raises(ValueError, match="user 0 has every item as a positive"):
        NegativeSampler(full).negatives(torch.tensor([0]), 1)
    with pytest.raises(ValueError, match="user 0 has every item as a positive"):
        NegativeSampler(full).bpr(3)
    with pytest.raises(ValueError, match="every pair of nodes is an edge"):
        NegativeSampler(full).pairs(3)


def test_careless_ids_and_counts_are_refused():
    """An item id past the last item would alias another user's item (keys are
    ``user * num_items + item``): refused, as are mismatched shapes and counts
    that are not non-negative integers."""
    graph, ei = interactions()
    s = NegativeSampler(graph)
    e = int((ei[0] > 0).nonzero()[0])
    u, i = int(ei[0, e]), int(ei[1, e])
    assert s.is_positive(torch.tensor([u]), torch.tensor([i]))
    alias = torch.tensor([u - 1]), torch.tensor([i + 40])  # the key of (u, i)
    for users, items, message in [
            (*alias, "items to hold ids below 40, got"),
            (torch.tensor([-1]), torch.tensor([0]), "users to hold non-negative ids"),
            (torch.tensor([30]), torch.tensor([0]), "users to hold ids below 30"),
            (torch.tensor([0.0]), torch.tensor([0]), "users to be an integer tensor"),
            (torch.tensor([0, 1]), torch.tensor([0]), r"of one shape, got \(2,\) and \(1,\)"),
            ([0], torch.tensor([0]), "of one shape, got list and")]:
        with pytest.raises(ValueError, match=message):
            s.is_positive(users, items)
    for call, error, message in [
            (lambda: s.pairs(2.5), TypeError, "num_samples to be an integer, got 2.5"),
            (lambda: s.pairs(-1), ValueError, "num_samples to be >= 0, got -1"),
            (lambda: s.bpr(-3), ValueError, "num_samples to be >= 0, got -3"),
            (lambda: s.negatives(torch.tensor([0]), 1.5), TypeError, "num_negatives to be an")]:
        with pytest.raises(error, match=message):
            call()
