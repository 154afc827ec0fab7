"""Margins of the training tests' claims across CPU kernels and thread counts.

Runs ``pytest -m training`` once per combination of CPU kernels and OMP_NUM_THREADS (the
tests' torch thread count), one after the other. The kernels: ATEN_CPU_CAPABILITY (``default``
is the generic build every x86-64 machine runs, ``avx2`` an AVX2-only machine such as many
AMD CPUs, ``avx512`` an AVX-512 one; a machine runs the kernels it supports and below),
with MKL (MKL_ENABLE_INSTRUCTIONS) and oneDNN (ONEDNN_MAX_CPU_ISA) capped alike. Each run writes the numbers its tests assert on (the ``record`` fixture of
tests/conftest.py) to its own JSON-lines file; the script then prints a markdown table: per
asserted quantity its bound, its value under every combination and the worst margin.

The margin of a value v against a bound b is its distance from the bound as a fraction of
|b| (for b = 0: the distance itself, marked "abs"); for a range, the nearer end. Negative =
the claim fails. "exact" marks an equality that held. The spread is max - min of the value
over the combinations, a stand-in for how far another machine's trajectory may land; "margin
/ spread" is the worst value's distance from the bound in spreads (∞: the same value
everywhere). Bold: a margin under 10 % of the bound or under 3 spreads.

    .venv/bin/python benchmarks/test_margins.py                # all 6 combinations
    .venv/bin/python benchmarks/test_margins.py --table-only   # re-read the last records
    .venv/bin/python benchmarks/test_margins.py --capabilities default --threads 1 -- -k push_forward

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

from gankit.bench.report import cpu_name

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("default", "avx2", "avx512")
# ATEN_CPU_CAPABILITY only picks ATen's own vectorised kernels; the matrix products go to MKL and
# the convolutions to oneDNN, which choose their code paths by themselves (on an AMD CPU MKL
# takes its AVX2 path). Both libraries can be capped too: without the caps the "avx2" run on an
# AVX-512 machine keeps AVX-512 BLAS (push-forward's W1: 0.067 with the cap off, 0.156 with it on).
LIBRARY_CAPS = {"default": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"},
                "avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
                "avx512": {"MKL_ENABLE_INSTRUCTIONS": "AVX512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}}
THREADS = (1, 2)
THIN = 0.10          # flagged: a margin under 10 % of the bound...
THIN_SPREADS = 3.0   # ...or under 3 times the spread of the value over the combinations


def combo_name(cap: str, threads: int) -> str:
    return f"{cap}/{threads}t"


def run_combo(cap: str, threads: int, out: Path, pytest_args: list[str]) -> dict:
    out.unlink(missing_ok=True)
    caps = {"ATEN_CPU_CAPABILITY": cap, **LIBRARY_CAPS[cap], "OMP_NUM_THREADS": str(threads)}
    env = {**os.environ, **caps, "GANKIT_RECORD": str(out)}
    cmd = [sys.executable, "-m", "pytest", "-m", "training", "-p", "no:cacheprovider", *pytest_args]  # -q: addopts
    print(f"# {combo_name(cap, threads)}: {' '.join(f'{k}={v}' for k, v in caps.items())} {' '.join(cmd[1:])}",
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
            "failed": failed, "cpu": cpu_name()}


def margin(value: float, r: dict) -> tuple[float, bool, float]:
    """(margin, absolute?, distance) of one value against the record's lo/hi, at the nearer end:
    the distance from it as a fraction of |end| (or, for an end at 0, the distance itself)."""
    if value != value:
        return -math.inf, False, -math.inf
    if r["lo"] is not None and r["hi"] is not None and r["lo"] == r["hi"]:
        return (math.inf, False, math.inf) if value == r["lo"] else (-math.inf, False, -math.inf)
    sides = []
    for end, sign in ((r["lo"], 1.0), (r["hi"], -1.0)):
        if end is None:
            continue
        d = sign * (value - end)
        sides.append((d / abs(end), False, d) if end != 0 else (d, True, d))
    # an end at 0 (e.g. "0 < x < 0.05") only reports when it is the one violated
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


def fmt_margin(m: tuple[float, bool, float], ok: bool, spread: float) -> tuple[str, str]:
    """The margin and the margin in spreads, flagged (bold) when under THIN_SPREADS spreads or failing."""
    value, absolute, distance = m
    if value == math.inf:
        return "exact", "–"
    if value == -math.inf:
        return "**FAILS**", "–"
    text = f"{value:.3g} abs" if absolute else f"{100 * value:.0f}%"
    ratio = distance / spread if spread > 0 else math.inf
    rtext = "∞" if ratio == math.inf else f"{ratio:.1f}"
    if not ok or value < 0:
        return f"**{text} FAILS**", rtext
    if ratio < THIN_SPREADS:
        return f"**{text}**", f"**{rtext}**"
    if not absolute and value < THIN:
        return f"**{text}**", rtext
    return text, rtext


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
    lines = ["| test | quantity | bound | " + " | ".join(combos) + " | spread | worst margin | margin / spread |",
             "|---|---|---|" + "---|" * len(combos) + "---|---|---|"]
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
        spread = max(every) - min(every) if every else 0.0
        worst_text = fmt_margin(worst, worst_ok, spread) if worst else ("–", "–")
        cells = [short_test(test), quantity, row["bound"], *cells, fmt_value(spread), *worst_text]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--capabilities", nargs="+", default=list(CAPABILITIES), choices=CAPABILITIES)
    p.add_argument("--threads", nargs="+", type=int, default=list(THREADS))
    p.add_argument("--records", type=Path, nargs="+", default=[ROOT / "runs" / "test-margins"],
                   help="folder for the JSON-lines files, one per combination (default: %(default)s); with "
                        "--table-only several, a later folder's records of a test replacing the earlier ones")
    p.add_argument("--table-only", action="store_true", help="print the table of the records already there")
    args, pytest_args = p.parse_known_args(argv)   # the rest goes to pytest (e.g. -k push_forward)
    pytest_args = [a for a in pytest_args if a != "--"]
    folder = args.records[0]
    folder.mkdir(parents=True, exist_ok=True)
    combos = [(c, t) for t in args.threads for c in args.capabilities]   # the fast 1-thread runs first
    runs = []
    if not args.table_only:
        for cap, threads in combos:
            runs.append(run_combo(cap, threads, folder / f"{cap}-{threads}.jsonl", pytest_args))
        (folder / "runs.json").write_text(json.dumps(runs, indent=1))
    else:
        for d in args.records:
            if (d / "runs.json").exists():
                runs += json.loads((d / "runs.json").read_text())
    records: dict[str, list[dict]] = {}
    for d in args.records if args.table_only else [folder]:
        for cap, threads in combos:
            f = d / f"{cap}-{threads}.jsonl"
            if f.exists():
                new = [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()]
                rerun = {r["test"] for r in new}
                old = [r for r in records.get(combo_name(cap, threads), []) if r["test"] not in rerun]
                records[combo_name(cap, threads)] = old + new
    names = [combo_name(c, t) for c, t in combos]
    print(table(records, names))
    if runs:
        print()
        print("| combination | CPU | `pytest -m training` | wall time | failed |")
        print("|---|---|---|---|---|")
        for r in runs:
            print(f"| {r['combo']} | {r.get('cpu', '–')} | {r['summary']} | {r['seconds']:.0f} s | "
                  f"{', '.join(r['failed']) or '–'} |")
    return 0 if all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
