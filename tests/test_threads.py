"""Small inputs run glt's Numba kernels on the calling thread; the results must
not depend on that choice."""
import os
import subprocess
import sys

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
    pool = min(threads, torch.get_num_threads())
    assert _threads.threads_for(_threads.SERIAL_WORK - 1) == 1
    assert _threads.threads_for(_threads.SERIAL_WORK) == pool
    assert _threads.run_kernel(_threads_inside, 10) == 1
    assert _threads.run_kernel(_threads_inside, _threads.SERIAL_WORK) == pool
    assert numba.get_num_threads() == threads


def test_kernels_follow_torchs_thread_count():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert _threads.run_kernel(_threads_inside, _threads.SERIAL_WORK) == 1
    finally:
        torch.set_num_threads(threads)


_LIMITED = """
import os, sys, torch
before = torch.get_num_threads()  # torch's reading of OMP_NUM_THREADS
if len(sys.argv) > 1:
    torch.set_num_threads(int(sys.argv[1]))
    before = int(sys.argv[1])
import glt
from glt import _threads
from tests.test_threads import _threads_inside
glt.scatter(torch.randn(50_000, 16), torch.randint(0, 99, (50_000,)), 99)  # starts the pool
print(before, torch.get_num_threads(), _threads.run_kernel(_threads_inside, 1 << 30))
"""


@pytest.mark.parametrize("env, argv", [({"OMP_NUM_THREADS": "1"}, []), ({}, ["1"])])
def test_a_process_limited_to_one_thread_stays_there(env, argv):
    """``OMP_NUM_THREADS=1`` or ``torch.set_num_threads(1)``: starting Numba's pool
    (every core) used to raise torch's count to the pool's size, and the kernels ran
    on every core; both now keep to the one thread."""
    if os.cpu_count() < 2:
        pytest.skip("one core: nothing to limit")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", _LIMITED, *argv], capture_output=True,
                          text=True, env={**environ, **env}, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "1", "1"]


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
