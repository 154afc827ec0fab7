"""How many CPU threads torch uses for a run, and why."""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from gankit.config import Config
from gankit.data import DataSource


def choose_threads(cfg: Config, data: DataSource, recipe: Any, device: torch.device, world: int = 1) -> tuple[int, str]:
    """Set torch's CPU thread count for the work and say why.

    Small MLPs on point data do a few microseconds of arithmetic per operation: a second
    thread only adds synchronisation, and on a shared machine a spinning OpenMP thread
    waits for a busy core (measured 78-88 ms per default step at 2 threads under load,
    a few ms on one). Convolutions have work to split, so they get every core this process
    may use (divided between the processes of a torchrun job). ``train.threads`` or the
    ``OMP_NUM_THREADS`` environment variable override the choice."""
    if cfg.train.threads > 0:
        n, why = cfg.train.threads, "train.threads"
    elif os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads(), "OMP_NUM_THREADS"
    elif device.type != "cpu":
        return torch.get_num_threads(), f"torch's default; the networks run on {device.type}"
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        params = sum(p.numel() for m in recipe.modules().values() for p in m.parameters())
        if data.kind == "points" and params < 2_000_000:
            n, why = 1, "small networks on point data run fastest on one thread; train.threads=N overrides"
        else:
            # Only the cores that are free now: a thread whose core is busy with another process
            # stalls the others at every barrier (measured: a cDCGAN at 2 threads on 2 cores at
            # load 7-8 ran 0.26 steps/s, at 1 thread 11.5 steps/s; on an idle machine 2 threads are
            # ~2.5x faster than 1). Measured for every run, so it adapts to the machine as the
            # user finds it.
            share = max(1, cores // max(1, world))
            load = others_busy_cores()
            free = max(1, min(share, int(cores - load + 0.5)))
            n = free
            why = (f"{n} of {cores} cores for convolutional work (other processes keep {load:.1f} busy); "
                   "train.threads=N overrides"
                   if n < share else f"{cores} cores for convolutional work; train.threads=N overrides")
    torch.set_num_threads(n)
    return n, why


def others_busy_cores(window: float = 0.2) -> float:
    """How many cores other processes keep busy right now: the machine's busy time over a
    short window from /proc/stat, less this process's own (so a long benchmark does not count
    its previous runs). Elsewhere, the 1-minute load average."""
    def machine() -> tuple[float, float]:
        with open("/proc/stat") as f:
            v = [float(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0.0)
        return sum(v) - idle, sum(v)

    try:
        b0, t0 = machine()
        c0 = time.process_time()
        time.sleep(window)
        b1, t1 = machine()
        own = time.process_time() - c0
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = (t1 - t0) / ticks / window if t1 > t0 else 1.0
    return max(0.0, ((b1 - b0) / ticks - own) / window) if cores > 0 else 0.0


__all__ = ["choose_threads", "others_busy_cores"]
