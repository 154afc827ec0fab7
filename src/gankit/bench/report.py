"""What every multi-run benchmark writes beside its table: the command that reproduces it and
the machine it ran on; and the one way its point-data runs are trained and timed."""

from __future__ import annotations

import math
import os
import platform
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def command_line(bench: str, lists: Mapping[str, Sequence[str] | None], seeds: Sequence[int], *, workers: int,
                 threads: int, steps: int | None, overrides: Sequence[str]) -> str:
    """``gankit bench NAME --set ...`` that reruns the benchmark; ``lists`` maps an option
    (``methods``, ``objectives``) to its value, or to ``None`` where it is the default."""
    parts = [f"gankit bench {bench}"]
    parts += [f"--set {key}=[{','.join(value)}]" for key, value in lists.items() if value is not None]
    parts.append(f"--set seeds={len(seeds)}" if list(seeds) == list(range(len(seeds)))
                 else f"--set seeds=[{','.join(map(str, seeds))}]")
    parts += [f"--set workers={workers}", f"--set threads={threads}"]
    if steps is not None:
        parts.append(f"--set steps={steps}")
    if overrides:
        parts.append(f"--set 'overrides=[{','.join(overrides)}]'")
    return " ".join(parts)


def cpu_name() -> str:
    """The CPU's model name as lscpu shows it (/proc/cpuinfo on Linux), else Python's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line(workers: int, threads: int) -> str:
    """Cores, CPU, torch version, the parallelism of the runs and the load at the end."""
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, torch {torch.__version__}; "
            f"{workers} run(s) in parallel × {threads} thread(s); load average at the end {load}")


def command_from_options(bench: str, options: Mapping[str, Any]) -> str:
    """``gankit bench NAME --set key=value ...`` with the ``options`` that differ from the
    benchmark's registered defaults."""
    from gankit.bench import BENCHMARKS

    defaults = BENCHMARKS.entry(bench).defaults()
    sets = " ".join(f"--set {k}={_cli(v)}" for k, v in options.items() if defaults.get(k) != v)
    return f"gankit bench {bench} {sets}".strip()


def _cli(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ",".join(map(str, v)) + "]"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean over seeds: NaN for no values, standard error 0 for
    one value and NaN when a value is infinite (a seed without high-quality samples)."""
    a = np.asarray(values, dtype=np.float64)
    if len(a) == 0:
        return math.nan, math.nan
    if not np.isfinite(a).all():
        return float(a.mean()), math.nan
    se = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0
    return float(a.mean()), se


# What the point-data benches report of a run: the 'modes' and 'energy' metrics.
POINT_METRICS = ("modes", "modes_total", "hq_percent", "reverse_kl", "energy", "energy_baseline")


def point_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The :data:`POINT_METRICS` of a run's (or a reference's) metrics, as floats."""
    return {k: float(metrics[k]) for k in POINT_METRICS}


def train_fresh(cfg: Any, run_dir: Path, *, keep_checkpoint: bool = False) -> tuple[Any, float, float]:
    """Train ``cfg`` in ``run_dir`` from scratch (a folder left by an earlier bench is removed,
    so that the run does not resume it) and return the run, its wall seconds and its CPU
    seconds (this process's, so that runs beside each other are compared by their own work).
    The checkpoint file is deleted afterwards unless ``keep_checkpoint`` (the returned run
    keeps its trained networks in memory)."""
    from gankit.training import train

    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    run = train(cfg, run_dir=run_dir)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not keep_checkpoint:
        (run.dir / "checkpoint.pt").unlink(missing_ok=True)
    return run, wall, cpu
