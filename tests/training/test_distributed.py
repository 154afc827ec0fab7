"""Data-parallel training: 2 gloo processes on 127.0.0.1 against a 1-process run.

One ``torch.multiprocessing.spawn`` of two workers (the environment torchrun would set,
so gankit joins the group itself) trains three runs; the parent compares them with
single-process runs and with each other.
"""

import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from gankit.config import build_config, merge
from gankit.data.base import TensorSource
from gankit.errors import ConfigError
from gankit.engine import distributed
from gankit.session import train
from gankit.engine.distributed import DistInfo, RankBatches, rank_slice

STEPS = 12
BASE = {"seed": 5, "device": "cpu", "generator": {"width": 32, "depth": 2},
        "discriminator": {"width": 32, "depth": 2},
        "optim_g": {"lr": 1e-3}, "optim_d": {"lr": 1e-3},
        "train": {"steps": STEPS, "batch_size": 64, "d_steps": 2, "ema": 0.9, "log_every": 4,
                  "progress": False, "checkpoint_every": 6},
        "eval": {"num_samples": 200, "metrics": ["energy"]}}
GP = merge(BASE, {"loss": "wgan", "penalty": "gp", "optim_d": {"betas": [0.0, 0.9]},
                  "train": {"steps": 4, "checkpoint_every": 0}})
# The sums of a gradient are ordered differently (rank halves, then the all-reduce), so the
# runs agree to float32 rounding: measured max |diff| 6e-8 after 12 steps in which the
# weights moved by up to 3.5e-2; any difference in the batches would show at ~1e-3.
ATOL = 1e-5

pytestmark = pytest.mark.training


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _params(run) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone() for m, mod in run.recipe.modules().items()
            for k, v in mod.state_dict().items()}


def _worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from gankit.session import resume as resume_run
    from gankit.session import train as train_run

    root_p = Path(root)
    own = "" if rank == 0 else f"-rank{rank}"  # rank 1 gets its own path: it must never appear
    try:
        full = train_run(BASE, run_dir=root_p / f"full{own}")
        torch.save({"params": _params(full), "history": full.history, "metrics": full.metrics,
                    "world": full.world, "batch": full.recipe.batch_size}, root_p / f"full.{rank}.pt")
        train_run(BASE, run_dir=root_p / "half", steps=STEPS // 2)
        resumed = resume_run(root_p / "half")
        torch.save({"params": _params(resumed)}, root_p / f"resumed.{rank}.pt")
        gp = train_run(GP, run_dir=root_p / f"gp{own}")
        torch.save({"params": _params(gp)}, root_p / f"gp.{rank}.pt")
        x = torch.tensor(float(rank + 1), requires_grad=True)
        y = distributed.all_reduce_mean(x * x)
        y.backward()
        torch.save({"gathered": distributed.gather_tensor(torch.full((2,), float(rank))),
                    "mean": y.item(), "grad": x.grad.item(),
                    "logs": distributed.mean_logs({"b": float(rank), "a": 2.0 * rank})}, root_p / f"helpers.{rank}.pt")
    finally:
        distributed.cleanup()


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    # The 1-process run first: the forked workers then inherit torch, dynamo and matplotlib
    # already imported (spawning fresh interpreters costs most of this test's time).
    single = train(BASE, run_dir=root / "single")
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.start_processes(_worker, args=(2, _free_port(), str(root)), nprocs=2, join=False,
                             start_method=method)
    deadline = time.monotonic() + 300
    while not ctx.join(timeout=5):  # raises if a worker failed
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("distributed workers did not finish within 300 s")
    return root, single


def test_ranks_hold_identical_parameters(two_process_runs):
    root, _ = two_process_runs
    for name in ("full", "resumed", "gp"):  # gp: DDP through the penalty's double backward
        a, b = (torch.load(root / f"{name}.{r}.pt")["params"] for r in (0, 1))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
        assert all(torch.isfinite(v).all() for v in a.values())


def test_two_processes_match_one_with_the_same_global_batch(two_process_runs, record):
    root, single = two_process_runs
    two = torch.load(root / "full.0.pt")
    assert two["world"] == 2 and two["batch"] == 32 and single.recipe.batch_size == 64
    ref, init = _params(single), _params_init()
    assert two["params"].keys() == ref.keys()
    diff = max(float((v - ref[k]).abs().max()) for k, v in two["params"].items())
    moved = max(float((v - init[k]).abs().max()) for k, v in two["params"].items())
    assert record("max |2 processes - 1| weights", diff, f"<= {ATOL}")
    assert record("max weight change", moved, "> 1e-2")  # the networks did train: not two untouched inits
    # Logged losses are averaged over ranks, i.e. the global-batch losses of the 1-process run.
    assert [r["step"] for r in two["history"]] == [r["step"] for r in single.history] == [4, 8, 12]
    logged = max(abs(r2[key] - r1[key]) for r2, r1 in zip(two["history"], single.history)
                 for key in ("d_loss", "g_loss", "D(x)", "D(G(z))"))
    assert record("max |2 processes - 1| logged losses", logged, "<= 1e-5")
    # evaluated once (rank 0) with the identical EMA generator, then broadcast
    assert record("|energy 2 processes / 1 - 1|", abs(two["metrics"]["energy"] / single.metrics["energy"] - 1),
                  "<= 1e-4")


def _params_init() -> dict[str, torch.Tensor]:
    from gankit.session.run import Run

    return _params(Run(build_config(BASE), Path("/nonexistent-never-written")))


def test_only_rank_zero_writes(two_process_runs):
    root, single = two_process_runs
    assert not any(root.glob("*-rank1"))
    files = lambda d: sorted(p.name for p in d.iterdir())  # noqa: E731
    assert files(root / "full") == files(single.dir)
    # both ranks appending would double the log (rows at steps 4, 8, 12)
    assert (root / "full" / "metrics.jsonl").read_text().count("\n") == len(single.history) == 3


def test_distributed_resume_equals_uninterrupted(two_process_runs):
    root, _ = two_process_runs
    full = torch.load(root / "full.0.pt")["params"]
    resumed = torch.load(root / "resumed.0.pt")["params"]
    for k in full:
        assert torch.equal(full[k], resumed[k]), k


def test_collective_helpers(two_process_runs):
    root, _ = two_process_runs
    for r in (0, 1):
        h = torch.load(root / f"helpers.{r}.pt")
        assert h["gathered"].tolist() == [0.0, 0.0, 1.0, 1.0]
        assert h["mean"] == 2.5                        # (1^2 + 2^2) / 2
        # d/dx_r of sum_ranks (mean over ranks of x^2): every rank's 1/2 flows back to x_r
        assert h["grad"] == 2.0 * (r + 1)
        assert list(h["logs"].items()) == [("b", 0.5), ("a", 1.0)]  # averaged, order kept


# --------------------------------------------------------------------------- the sampler, in one process

def test_rank_slices_tile_the_global_batch():
    assert [rank_slice(12, DistInfo(r, 3)) for r in range(3)] == [slice(0, 4), slice(4, 8), slice(8, 12)]
    with pytest.raises(ConfigError, match="does not split"):
        rank_slice(10, DistInfo(0, 3))


def test_sharded_batches_are_the_one_process_batch():
    x = torch.arange(50.0).view(50, 1)
    sources = [TensorSource(x, None, name="t", kind="points") for _ in range(3)]
    sources[1].shard, sources[2].shard = (0, 2), (1, 2)
    g = [torch.Generator().manual_seed(1) for _ in range(3)]
    seen = []
    for _ in range(7):  # 7 global batches of 12: crosses epoch boundaries (50 // 12 = 4 per epoch)
        whole, _ = sources[0].sample(12, g[0])
        r0, _ = sources[1].sample(6, g[1])
        r1, _ = sources[2].sample(6, g[2])
        assert torch.equal(torch.cat([r0, r1]), whole)
        seen.append(whole)
    first_epoch = torch.cat(seen[:4]).flatten()
    assert len(set(first_epoch.tolist())) == 48  # without replacement within an epoch


def test_rank_batches_slice_noise_and_toy_data():
    from gankit.data import DATASETS
    from gankit.networks import PRIORS

    ring, prior = DATASETS.build("ring", {}), PRIORS.build("normal", {}, dim=3)
    out = {}
    for r, w in [(0, 1), (0, 2), (1, 2)]:
        torch.manual_seed(7)
        b = RankBatches(ring, torch.device("cpu"), DistInfo(r, w))
        x, _ = b.real(16 // w, torch.Generator().manual_seed(3))
        out[r, w] = (x, b.noise(prior, 16 // w), b.labels(10, 16 // w))
    for i in range(3):
        assert torch.equal(torch.cat([out[0, 2][i], out[1, 2][i]]), out[0, 1][i])


def test_batch_must_split_over_processes_and_sync_bn_needs_cuda():
    from gankit.engine.distributed import wrap

    with pytest.raises(ConfigError, match="sync_batchnorm needs CUDA"):
        wrap(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)), torch.device("cpu"),
             DistInfo(0, 2), sync_batchnorm=True)
    net = torch.nn.Linear(2, 2)
    assert wrap(net, torch.device("cpu"), DistInfo(0, 1)) is net  # one process: no wrapper
    assert distributed.choose_backend("cpu") == "gloo"

