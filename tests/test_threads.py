"""Small inputs run glt's Numba kernels on the calling thread; the results must
not depend on that choice."""
import numba
import pytest
import torch
from numba import njit

import glt
from glt import _threads
from glt.ops import dropout, scatter, spmm
from glt.samplers import NeighborSampler, TokenSampler


@njit
def _threads_inside() -> int:
    return numba.get_num_threads()


def test_small_work_runs_on_one_thread():
    threads = numba.get_num_threads()
    assert _threads.threads_for(_threads.SERIAL_WORK - 1) == 1
    assert _threads.threads_for(_threads.SERIAL_WORK) == threads
    assert _threads.run_kernel(_threads_inside, 10) == 1
    assert _threads.run_kernel(_threads_inside, _threads.SERIAL_WORK) == threads
    assert numba.get_num_threads() == threads


def test_thread_count_restored_after_an_error():
    threads = numba.get_num_threads()

    def failing() -> None:
        raise RuntimeError("kernel failed")
    with pytest.raises(RuntimeError, match="kernel failed"):
        _threads.run_kernel(failing, 1)
    assert numba.get_num_threads() == threads


def _outputs(seed: int) -> list[torch.Tensor]:
    """Every kernel-backed op once, on inputs of a few thousand entries."""
    gen = torch.Generator().manual_seed(seed)
    n, e = 300, 2000
    edge_index = torch.randint(0, n, (2, e), generator=gen)
    graph = glt.CSRGraph.from_edge_index(edge_index, num_nodes=n)
    x = torch.randn(n, 16, generator=gen)
    src = torch.randn(e, 16, generator=gen)
    best, arg = scatter(src, edge_index[1], n, "max", return_arg=True)
    torch.manual_seed(seed)
    drop = dropout(x, 0.5)
    sub = NeighborSampler(graph, [5, 3]).sample(torch.arange(40), seed=seed)
    tokens = TokenSampler(graph, num_tokens=4).sample(torch.arange(50), seed=seed)
    return [spmm(graph, x), spmm(graph, x, "max"), scatter(src, edge_index[1], n, "mean"),
            best, arg, drop, sub.node, sub.edge_index, sub.edge_id, tokens]


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    monkeypatch.setattr(_threads, "SERIAL_WORK", 0)  # every kernel on the pool
    pooled = _outputs(3)
    monkeypatch.setattr(_threads, "SERIAL_WORK", 1 << 62)  # every kernel on one thread
    serial = _outputs(3)
    for a, b in zip(pooled, serial):
        assert torch.equal(a, b)
