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
from glt.ops import dropout, pair_product, scatter, softplus_dot_loss, spmm
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


def _run(script: str, env: dict, timeout: int = 300) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_THREADING")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**environ, **env}, cwd=root, timeout=timeout)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    return done.stdout


_FORKED = """
import numba, torch, glt
def work(seed):
    gen = torch.Generator().manual_seed(int(seed))
    graph = glt.CSRGraph.from_edge_index(torch.randint(0, 5_000, (2, 60_000), generator=gen),
                                         num_nodes=5_000)
    return glt.spmm(graph, torch.randn(5_000, 16, generator=gen), "max")
here = [work(s) for s in range(4)]  # the parent's pool is running before the fork
loader = torch.utils.data.DataLoader(range(4), batch_size=None, num_workers=2,
                                     multiprocessing_context="fork", collate_fn=work)
assert all(torch.equal(a, b) for a, b in zip(loader, here))
print(numba.threading_layer())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork is Linux's default start method")
@pytest.mark.parametrize("layer", ["omp", "workqueue"])
def test_forked_dataloader_workers_run_glt_kernels(layer):
    """DataLoader workers forked after the parent ran a kernel give the parent's
    results. Under GNU OpenMP Numba terminated them at their first parallel kernel
    ("fork() called from a process already using GNU OpenMP"; the DataLoader said a
    worker "exited unexpectedly"); they now run the kernels' serial twins."""
    assert _run(_FORKED, {"NUMBA_THREADING_LAYER": layer}).split()[-1] == layer


def test_serial_twins_give_the_kernels_results(monkeypatch):
    """Every kernel-backed op through the serial twins equals the parallel kernels
    run on one thread (the same chunks)."""
    monkeypatch.setattr(_threads, "SERIAL_WORK", 1 << 62)
    gen = torch.Generator().manual_seed(0)
    u, table = torch.randn(64, 16, generator=gen), torch.randn(300, 16, generator=gen)
    idx, weight = torch.randint(0, 300, (64, 40), generator=gen), torch.rand(64, 40)

    def everything() -> list[torch.Tensor]:
        leaf = table.clone().requires_grad_()
        loss = softplus_dot_loss(u, leaf, idx, weight, positives=3)
        loss.backward()
        pairs = torch.randint(0, 300, (500, 2), generator=torch.Generator().manual_seed(1))
        return _outputs(3) + [loss.detach(), leaf.grad, pair_product(table, pairs)]
    kernels = everything()
    monkeypatch.setattr(_threads, "_forked_from_openmp", True)
    twins = everything()
    for a, b in zip(kernels, twins):
        assert torch.equal(a, b)


_TWO_THREADS = """
import threading, numba, torch, glt
from glt.samplers import NeighborSampler
gen = torch.Generator().manual_seed(0)
n = 20_000
graph = glt.CSRGraph.from_edge_index(torch.randint(0, n, (2, 300_000), generator=gen),
                                     num_nodes=n)
x = torch.randn(n, 32, generator=gen)
sampler = NeighborSampler(graph, [10, 10])
seeds = [torch.arange(i * 500, i * 500 + 2000) for i in range(20)]
alone = [sampler.sample(s, seed=i).node for i, s in enumerate(seeds)], glt.spmm(graph, x)
got = {}
def sample():
    got["nodes"] = [sampler.sample(s, seed=i).node for i, s in enumerate(seeds)]
def propagate():
    got["spmm"] = [glt.spmm(graph, x) for _ in range(20)]
threads = [threading.Thread(target=sample), threading.Thread(target=propagate)]
[t.start() for t in threads]
[t.join() for t in threads]
assert all(torch.equal(a, b) for a, b in zip(got["nodes"], alone[0]))
assert all(torch.equal(y, alone[1]) for y in got["spmm"])
print(numba.threading_layer())
"""


def test_kernels_launched_from_two_threads_under_the_work_queue():
    """Numba's work queue takes one launch at a time (two at once abort the process:
    "Concurrent access has been detected"); a sampler's background thread beside
    the training loop must wait for its turn, with the results of one thread."""
    assert _run(_TWO_THREADS, {"NUMBA_THREADING_LAYER": "workqueue"}).split()[-1] == \
        "workqueue"
