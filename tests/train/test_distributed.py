"""Data parallelism: sharding properties, DDP steps against one process on the
whole batch (2 gloo processes), and the training scripts under torchrun."""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from glt.datasets import load_rec
from glt.datasets.testing import write_lightgcn
from glt.models.lightgcn import LightGCN
from glt.models.ultragcn import UltraGCN
from glt.samplers import NegativeSampler
from glt.train.checkpoint import read_checkpoint
from glt.train.distributed import LossModule, Shard, data_parallel, finish, init

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rec") / "toy")
    write_lightgcn(path, num_users=25, num_items=30, per_user=6)
    data = load_rec(path)
    data.folder = path
    return data


def test_split_is_an_equal_partition():
    items = torch.randperm(11)
    parts = [Shard(r, 3).split(items) for r in range(3)]
    assert all(p.numel() == 3 for p in parts)
    joined = torch.cat(parts)
    assert joined.unique().numel() == 9 and set(joined.tolist()) <= set(items.tolist())
    assert torch.equal(Shard().split(items), items)
    with pytest.raises(ValueError, match="fewer items than ranks"):
        Shard(0, 4).split(torch.arange(3))
    with pytest.raises(ValueError, match="rank"):
        Shard(2, 2)


def test_rank_generators_differ_and_repeat():
    a = Shard(0, 2).generator(7, 3, torch.device("cpu"))
    b = Shard(1, 2).generator(7, 3, torch.device("cpu"))
    again = Shard(0, 2).generator(7, 3, torch.device("cpu"))
    x = torch.rand(5, generator=a)
    assert not torch.equal(x, torch.rand(5, generator=b))
    assert torch.equal(x, torch.rand(5, generator=again))


def _pairs(batches):
    return [(int(u), int(i)) for users, items, _ in batches for u, i in zip(users, items)]


def test_ultragcn_shards_partition_the_epoch(rec):
    model = UltraGCN(rec.train, dim=8)
    sampler = NegativeSampler(rec.train)
    whole = _pairs(model.batches(sampler, 7, torch.Generator().manual_seed(0)))
    parts = [_pairs(model.batches(sampler, 7, torch.Generator().manual_seed(0), Shard(r, 2),
                                  Shard(r, 2).generator(0, 0, torch.device("cpu"))))
             for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == rec.train.num_edges // 2
    assert not set(parts[0]) & set(parts[1])
    assert set(parts[0]) | set(parts[1]) <= set(whole)
    assert len(set(whole)) - len(set(parts[0]) | set(parts[1])) == rec.train.num_edges % 2


def test_lightgcn_ranks_draw_their_share(rec):
    model = LightGCN(rec.bipartite(), rec.num_users, dim=8)
    sampler = NegativeSampler(rec.train)
    draws = [list(model.batches(sampler, 1000, torch.Generator().manual_seed(0), Shard(r, 2),
                                Shard(r, 2).generator(0, 0, torch.device("cpu"))))[0]
             for r in range(2)]
    assert all(d[0].numel() == rec.train.num_edges // 2 for d in draws)
    assert not torch.equal(draws[0][0], draws[1][0])
    for users, pos, neg in draws:  # positives are training pairs, negatives are not
        assert sampler.is_positive(users, pos).all() and not sampler.is_positive(users, neg).any()


def _ddp_worker(rank: int, init_file: str, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2")
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    shard, _ = init("cpu")  # joins the group already made above
    torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    model = torch.nn.Linear(4, 3)
    step = data_parallel(LossModule(model, lambda m, x, y: ((m(x) - y) ** 2).mean()), shard)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)
    for _ in range(3):
        opt.zero_grad()
        step(shard.split(x), shard.split(y)).backward()
        opt.step()
    torch.save({k: v.detach() for k, v in model.state_dict().items()}, f"{out}.{rank}")
    del step  # the DDP wrapper holds the group: release it before the group goes
    finish(shard)


def test_ddp_steps_equal_one_process_on_the_whole_batch(tmp_path):
    out = str(tmp_path / "state")
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), out), nprocs=2, join=True)
    states = [torch.load(f"{out}.{r}") for r in range(2)]
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)
    for _ in range(3):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    for key, ref in model.state_dict().items():
        for state in states:
            torch.testing.assert_close(state[key], ref)


def _torchrun(script: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", os.path.join(REPO, "scripts", script), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("script", ["train_lightgcn.py", "train_ultragcn.py"])
def test_scripts_under_torchrun(rec, tmp_path, script):
    out, ckpt = str(tmp_path / "r.json"), str(tmp_path / "ckpt")
    args = ["--dataset", rec.folder, "--preset", "ml-1m", "--epochs", "2", "--eval-every", "1",
            "--quiet", "--out", out, "--checkpoint", ckpt]
    done = _torchrun(script, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test recall@20") == 1  # rank 0 alone reports
    result = json.load(open(out))
    assert result["world_size"] == 2 and result["runs"][0]["epochs"] == 2
    assert 0.0 <= result["test_mean"] <= 1.0
    kept = read_checkpoint(os.path.join(ckpt, "seed2020.pt"))  # rank 0's, with its best weights
    assert set(kept["best_model"]) == set(kept["model"])
    # resume: both ranks load rank 0's checkpoint and go on to epoch 3
    args[args.index("--epochs") + 1] = "3"
    done = _torchrun(script, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = json.load(open(out))
    assert resumed["runs"][0]["epochs"] == 3
    assert resumed["runs"][0]["curve"][:2] == result["runs"][0]["curve"]


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    from glt.datasets.testing import write_ogb
    root = str(tmp_path_factory.mktemp("ogb"))
    write_ogb(root, "ogbn-products", num_nodes=80, num_edges=300, num_features=6)
    return root


@pytest.mark.parametrize("script,extra", [
    ("train_lagnn.py", ["--model", "sage", "--batch-size", "16", "--compare",
                        "--generator", "GEN"]),
    ("train_largegt.py", ["--batch-size", "16", "--num-tokens", "5"]),
    ("train_largegt.py", ["--preset", "ogbn-products-paper", "--batch-size", "16",
                          "--num-tokens", "5", "--num-codes", "8"]),
])
def test_node_scripts_under_torchrun(products, tmp_path, script, extra):
    out = str(tmp_path / "r.json")
    extra = [str(tmp_path / "gen.pt") if a == "GEN" else a for a in extra]
    done = _torchrun(script, "--dataset", "ogbn-products", "--root", products, "--runs", "1",
                     "--epochs", "2", "--quiet", "--out", out, *extra)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.load(open(out))
    assert result["world_size"] == 2 and 0.0 <= result["test_mean"] <= 1.0
    assert done.stdout.count("test acc") == (2 if "--compare" in extra else 1)  # rank 0 only


def test_full_batch_presets_refuse_torchrun(tmp_path):
    done = _torchrun("train_lagnn.py", "--model", "gcn", "--runs", "1", "--epochs", "1",
                     "--quiet")
    assert done.returncode != 0 and "not split across ranks" in done.stderr


def _state_worker(rank: int, init_file: str, out: str) -> None:
    """One training step of the codebook and of PaperLargeGT on this rank's half."""
    from glt.layers.codebook import EMACodebook
    from glt.models.largegt import PaperLargeGT
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    torch.manual_seed(0)  # the same initial state on both ranks
    codebook = EMACodebook(num_codes=4, dim=3, decay=0.5).train()
    points = torch.randn(12, 3, generator=torch.Generator().manual_seed(1))
    codebook.update(points[rank * 6:(rank + 1) * 6])
    torch.manual_seed(0)
    model = PaperLargeGT(3, 8, 4, 20, heads=2, global_dim=4, num_codes=6).train()
    seen = []
    update = model.codebook.update
    model.codebook.update = lambda x: seen.append(update(x)) or seen[-1]
    nodes = torch.arange(20)[rank::2][:7]  # rank 1 holds one node fewer
    g = torch.Generator().manual_seed(2 + rank)
    tokens, mask = torch.randn(nodes.numel(), 9, 3, generator=g), torch.zeros(7, 9, dtype=bool)
    x = torch.randn(nodes.numel(), 3, generator=g)
    nodes = nodes[:7 - rank]
    model(tokens[:nodes.numel()], mask[:nodes.numel()], x[:nodes.numel()], nodes)
    torch.save({"codebook": codebook.state_dict(), "assigned": model.assigned.clone(),
                "nodes": nodes, "idx": seen[0]}, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()


def test_ranks_keep_one_codebook_and_one_set_of_assignments(tmp_path):
    from glt.layers.codebook import EMACodebook
    from glt.models.largegt import PaperLargeGT
    out = str(tmp_path / "state")
    mp.spawn(_state_worker, args=(str(tmp_path / "init"), out), nprocs=2, join=True)
    states = [torch.load(f"{out}.{r}") for r in range(2)]
    torch.manual_seed(0)  # one process on both halves at once
    whole = EMACodebook(num_codes=4, dim=3, decay=0.5).train()
    whole.update(torch.randn(12, 3, generator=torch.Generator().manual_seed(1)))
    for state in states:
        for key, ref in whole.state_dict().items():
            torch.testing.assert_close(state["codebook"][key], ref)
    torch.manual_seed(0)
    start = PaperLargeGT(3, 8, 4, 20, heads=2, global_dim=4, num_codes=6).assigned
    touched = torch.cat([s["nodes"] for s in states])
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[touched] = False
    for state in states:  # each rank holds both ranks' new assignments
        for other in states:
            assert torch.equal(state["assigned"][other["nodes"]].long(), other["idx"])
        assert torch.equal(state["assigned"][untouched], start[untouched])
