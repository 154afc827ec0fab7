"""Margins of the training tests' claims across CPU kernels and thread counts.

Runs ``pytest -m training`` once per combination of ATEN_CPU_CAPABILITY (the CPU kernels
PyTorch dispatches to: ``default`` is the generic build every x86-64 machine runs, ``avx2``
an AVX2-only machine such as many AMD CPUs, ``avx512`` an AVX-512 one; a machine runs the
kernels it supports and below) and OMP_NUM_THREADS (the tests' torch thread count), one
after the other. Each run writes the numbers its tests assert on (the ``record`` fixture of
tests/conftest.py) to its own JSON-lines file; the script then prints a markdown table: per
asserted quantity its bound, its value under every combination and the worst margin.

The margin of a value v against a bound b is its distance from the bound as a fraction of
|b| (for b = 0: the distance itself, marked "abs"); for a range, the nearer end. Negative =
the claim fails. "exact" marks an equality that held.

    .venv/bin/python benchmarks/test_margins.py                # all 6 combinations
    .venv/bin/python benchmarks/test_margins.py --table-only   # re-read the last records
    .venv/bin/python benchmarks/test_margins.py -k push_forward --capabilities default --threads 1

(not a test module: it defines no tests, pytest only collects tests/.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("default", "avx2", "avx512")
THREADS = (1, 2)
THIN = 0.10   # margins below this fraction of the bound are flagged


def combo_name(cap: str, threads: int) -> str:
    return f"{cap}/{threads}t"


def run_combo(cap: str, threads: int, out: Path, pytest_args: list[str]) -> dict:
    out.unlink(missing_ok=True)
    env = {**os.environ, "ATEN_CPU_CAPABILITY": cap, "OMP_NUM_THREADS": str(threads), "GANKIT_RECORD": str(out)}
    cmd = [sys.executable, "-m", "pytest", "-m", "training", "-p", "no:cacheprovider", *pytest_args]  # -q: addopts
    print(f"# {combo_name(cap, threads)}: ATEN_CPU_CAPABILITY={cap} OMP_NUM_THREADS={threads} {' '.join(cmd[1:])}",
          file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    print(f"#   exit {proc.returncode} in {seconds:.0f} s: {' '.join(tail)}", file=sys.stderr, flush=True)
    if proc.returncode not in (0, 1):
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    return {"combo": combo_name(cap, threads), "exit": proc.returncode, "seconds": seconds, "summary": " ".join(tail),
            "failed": failed}


def margin(value: float, r: dict) -> tuple[float, bool]:
    """(margin, absolute?) of one value against the record's lo/hi: the nearer side's distance."""
    if value != value:
        return -math.inf, False
    if r["lo"] is not None and r["hi"] is not None and r["lo"] == r["hi"]:
        return (math.inf if value == r["lo"] else -math.inf), False
    sides = []
    for end, sign in ((r["lo"], 1.0), (r["hi"], -1.0)):
        if end is None:
            continue
        d = sign * (value - end)
        sides.append((d / abs(end), False) if end != 0 else (d, True))
    # a side at 0 (e.g. "0 < x < 0.05") only reports when it is the one violated
    rel = [s for s in sides if not s[1]]
    if rel and all(s[0] >= 0 for s in sides):
        return min(rel)
    return min(sides)


def fmt_value(v: float) -> str:
    if v != v:
        return "nan"
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.4g}"


def fmt_margin(m: tuple[float, bool], ok: bool) -> str:
    value, absolute = m
    if value == math.inf:
        return "exact"
    if value == -math.inf:
        return "**FAILS**"
    text = f"{value:.3g} abs" if absolute else f"{100 * value:.0f}%"
    if not ok or value < 0:
        return f"**{text} FAILS**"
    if not absolute and value < THIN:
        return f"**{text}**"
    return text


def short_test(nodeid: str) -> str:
    path, _, name = nodeid.partition("::")
    return f"{Path(path).stem.removeprefix('test_')}::{name}"


def table(records: dict[str, list[dict]], combos: list[str]) -> str:
    rows: dict[tuple[str, str], dict] = {}
    for combo in combos:
        for r in records.get(combo, []):
            key = (r["test"], r["quantity"])
            row = rows.setdefault(key, {"bound": r["bound"], "values": defaultdict(list), "first": r})
            row["values"][combo].append(r)
    lines = ["| test | quantity | bound | " + " | ".join(combos) + " | spread | worst margin |",
             "|---|---|---|" + "---|" * len(combos) + "---|---|"]
    for (test, quantity), row in rows.items():
        cells, worst, worst_ok = [], None, True
        for combo in combos:
            rs = row["values"].get(combo, [])
            if not rs:
                cells.append("–")
                continue
            vals = [x["value"] for x in rs]
            cells.append(", ".join(fmt_value(v) for v in vals))
            for x in rs:
                m = margin(x["value"], x)
                if worst is None or m[0] < worst[0]:
                    worst = m
                worst_ok = worst_ok and x["holds"]
        every = [x["value"] for rs in row["values"].values() for x in rs]
        spread = fmt_value(max(every) - min(every)) if every else "–"
        cells = [short_test(test), quantity, row["bound"], *cells, spread, fmt_margin(worst, worst_ok) if worst else "–"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--capabilities", nargs="+", default=list(CAPABILITIES), choices=CAPABILITIES)
    p.add_argument("--threads", nargs="+", type=int, default=list(THREADS))
    p.add_argument("--records", type=Path, default=ROOT / "runs" / "test-margins",
                   help="folder for the JSON-lines files, one per combination (default: %(default)s)")
    p.add_argument("--table-only", action="store_true", help="print the table of the records already there")
    args, pytest_args = p.parse_known_args(argv)   # the rest goes to pytest (e.g. -k push_forward)
    pytest_args = [a for a in pytest_args if a != "--"]
    args.records.mkdir(parents=True, exist_ok=True)
    combos = [(c, t) for c in args.capabilities for t in args.threads]
    runs = []
    if not args.table_only:
        for cap, threads in combos:
            runs.append(run_combo(cap, threads, args.records / f"{cap}-{threads}.jsonl", pytest_args))
        (args.records / "runs.json").write_text(json.dumps(runs, indent=1))
    elif (args.records / "runs.json").exists():
        runs = json.loads((args.records / "runs.json").read_text())
    records = {}
    for cap, threads in combos:
        f = args.records / f"{cap}-{threads}.jsonl"
        if f.exists():
            records[combo_name(cap, threads)] = [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()]
    names = [combo_name(c, t) for c, t in combos]
    print(table(records, names))
    if runs:
        print()
        print("| combination | `pytest -m training` | wall time | failed |")
        print("|---|---|---|---|")
        for r in runs:
            print(f"| {r['combo']} | {r['summary']} | {r['seconds']:.0f} s | {', '.join(r['failed']) or '–'} |")
    return 0 if all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
