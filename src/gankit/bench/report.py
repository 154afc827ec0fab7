"""What every benchmark's report says: the command that reproduces it, the machine it ran on,
its tables (one writer for all of them) and the statistics over seeds."""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gankit import jsonio

# --------------------------------------------------------------------------- the command


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


def command_from_options(bench: str, options: Mapping[str, Any]) -> str:
    """``gankit bench NAME --set key=value ...`` with the ``options`` that differ from the
    benchmark's registered defaults."""
    from gankit.bench import BENCHMARKS

    defaults = BENCHMARKS.entry(bench).defaults()
    sets = " ".join(f"--set {k}={_cli(v)}" for k, v in options.items() if _same(defaults.get(k)) != _same(v))
    return f"gankit bench {bench} {sets}".strip()


def _same(v: Any) -> Any:
    """A tuple default and the list a config gives back compare equal."""
    return list(v) if isinstance(v, tuple) else v


def _cli(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ",".join(map(str, v)) + "]"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


# --------------------------------------------------------------------------- the machine


def cpu_name() -> str:
    """The CPU's model name as lscpu shows it (/proc/cpuinfo on Linux), else Python's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages (empty where the system has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def environment(*, workers: int = 1, threads: int | None = None) -> dict[str, Any]:
    """The machine at the start of a benchmark: cores, CPU, torch and its threads, the runs in
    parallel, the load and the date; :func:`finish` adds the load at the end."""
    import torch

    return {"cpu_count": os.cpu_count(), "cpu": cpu_name(), "torch": torch.__version__,
            "torch_threads": threads or torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "workers": workers, "load_avg_start": load_average(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def finish(env: dict[str, Any]) -> dict[str, Any]:
    """``env`` with the load average at the end of the benchmark."""
    env["load_avg_end"] = load_average()
    return env


def machine_line(env: Mapping[str, Any]) -> str:
    """One sentence of :func:`environment` (finished): what the numbers were measured on and under."""
    def load(key: str) -> str:
        return "/".join(f"{v:.1f}" for v in env.get(key) or []) or "n/a"

    return (f"{env['cpu_count']} cores ({env['cpu']}), torch {env['torch']}; {env['workers']} run(s) in parallel "
            f"× {env['torch_threads']} torch thread(s) (OMP_NUM_THREADS={env['omp_num_threads']}); load average "
            f"(1/5/15 min) {load('load_avg_start')} at the start, {load('load_avg_end')} at the end; {env['date']}")


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """One column of a markdown table: its ``title``, the row's ``key`` (formatted with
    ``fmt``; a missing or None value shows as ``-``) or a function of the row that gives the
    cell, and its alignment."""

    title: str
    key: str | Callable[[Mapping[str, Any]], str]
    fmt: str = ""
    align: Literal["left", "right"] = "left"

    def cell(self, row: Mapping[str, Any]) -> str:
        if callable(self.key):
            return self.key(row)
        value = row.get(self.key)
        return "-" if value is None else format(value, self.fmt)

    def present(self, row: Mapping[str, Any]) -> bool:
        return callable(self.key) or row.get(self.key) is not None


def table(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The lines of a markdown table: the titles, the alignment row, one line per row."""
    lines = ["| " + " | ".join(c.title for c in columns) + " |",
             "|" + "".join("---:|" if c.align == "right" else "---|" for c in columns)]
    return lines + ["| " + " | ".join(c.cell(r) for c in columns) + " |" for r in rows]


def row_line(columns: Sequence[Column], row: Mapping[str, Any]) -> str:
    """A row as one printed line, ``title=value`` for the columns it has."""
    return "  ".join(f"{c.title}={c.cell(row)}" for c in columns if c.present(row))


def header(bench: str, command: str, machine: str) -> list[str]:
    """The lines every report starts with: its title, the command that reruns it, the machine."""
    return [f"# gankit bench {bench}", "", f"Command: `{command}`", "", f"Machine: {machine}", ""]


def write(out_dir: Path, name: str, report: Mapping[str, Any], markdown: str, *, indent: int = 1) -> None:
    """``name.json`` (strict JSON) and ``name.md`` in ``out_dir``; the markdown is printed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(jsonio.dumps(report, indent=indent) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)
    print(markdown)


# --------------------------------------------------------------------------- statistics


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
