"""gankit's Frechet distance (FID's arithmetic) against torch-fidelity's, torchmetrics' and
scipy's ``sqrtm`` formulas: median time and relative error against an independent reference.

    python benchmarks/frechet.py --threads 1
    python benchmarks/frechet.py --threads 2 --tf-python /tmp/tfvenv/bin/python

All methods get the same statistics (float64 ``mu``, ``np.cov``) of the same random features,
``--n`` samples per side at each of ``--dims``; they are timed interleaved (gankit,
torch-fidelity, torchmetrics, sqrtm, gankit, ...) in one session, ``--repeats`` rounds, and
the medians and their ratio to gankit are printed. Relative errors are ``|FID - ref| / ref``
against a reference computed from the raw features without forming a covariance (QR of each
centred feature matrix, then the SVD of ``R2 R1^T``), on three feature sets per dimension:
full-rank Gaussian (the timed one), rank-deficient (rank 3d/4 plus dead units) and ReLU
features (sparse, many dead units).

The methods:

* gankit: :func:`gankit.metrics.frechet.frechet_distance` (pivoted Cholesky factors, the
  values-only SVD of ``F2^T F1``: two-stage, band reduction + ``dgbbrd`` + dqds, from rank 384;
  ``gesdd`` below; ``benchmarks/frechet_svd.py`` times that SVD alone against ``gesdd``);
* torch-fidelity: ``torch_fidelity.metric_fid.fid_statistics_to_metric``, the real part of
  the square roots of ``numpy.linalg.eigvals(S1 @ S2)``. torch-fidelity needs torchvision,
  which may not import beside gankit's torch; then ``--tf-python`` names the interpreter of
  another environment that has it, and a worker process there runs it (timed inside the
  worker, the same statistics loaded from a file; torchmetrics' ``_compute_fid`` too when it is
  installed there). Without either, the same formula is run here and the table says
  "stand-in";
* torchmetrics: ``torchmetrics.image.fid._compute_fid`` (``torch.linalg.eigvals(S1 @ S2)``
  in float64), when importable here or in the worker;
* scipy sqrtm: ``Tr(scipy.linalg.sqrtm(S1 @ S2)).real``, the formula of the original TTUR and
  pytorch-fid code.

``--threads T`` sets OMP/MKL/OpenBLAS threads (before numpy and torch load, here and in the
worker) and torch's intra-op threads. The ratio of medians is the number to read on a shared
machine; load averages are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

WORKER = r'''
import json, sys, time, warnings
import numpy as np
out = sys.stdout
sys.stdout = sys.stderr
have = {}
try:
    import torch_fidelity
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    have["torch-fidelity"] = "torch-fidelity " + torch_fidelity.__version__
except Exception as e:
    print("worker: torch-fidelity not importable:", repr(e), file=sys.stderr)
try:
    import torch, torchmetrics
    from torchmetrics.image.fid import _compute_fid
    threads = int(sys.argv[1])
    if threads > 0:
        torch.set_num_threads(threads)
    have["torchmetrics"] = "torchmetrics " + torchmetrics.__version__
except Exception as e:
    print("worker: torchmetrics not importable:", repr(e), file=sys.stderr)
info = {"have": have, "python": sys.version.split()[0], "numpy": np.__version__}
try:
    import torch
    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
except Exception:
    pass
print(json.dumps(info), file=out, flush=True)
stats = None
for line in sys.stdin:
    req = json.loads(line)
    if req["cmd"] == "load":
        z = np.load(req["path"])
        stats = {k: z[k] for k in ("mu1", "s1", "mu2", "s2")}
        tstats = {k: torch.from_numpy(v) for k, v in stats.items()} if "torchmetrics" in have else None
        print(json.dumps({"ok": True}), file=out, flush=True)
        continue
    if req["method"] == "torch-fidelity":
        a = {"mu": stats["mu1"], "sigma": stats["s1"]}
        b = {"mu": stats["mu2"], "sigma": stats["s2"]}
        t0 = time.perf_counter()
        v = fid_statistics_to_metric(a, b, False)["frechet_inception_distance"]
        dt = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        v = float(_compute_fid(tstats["mu1"], tstats["s1"], tstats["mu2"], tstats["s2"]))
        dt = time.perf_counter() - t0
    print(json.dumps({"value": float(v), "seconds": dt}), file=out, flush=True)
'''


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dims", type=int, nargs="+", default=[64, 512, 2048])
    p.add_argument("--n", type=int, default=10_000, help="samples per side")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="0: leave the libraries' defaults")
    p.add_argument("--tf-python", default="", help="interpreter of an environment with torch-fidelity")
    p.add_argument("--no-sqrtm-above", type=int, default=1 << 30, help="skip sqrtm above this d")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="", help="also write the rows here")
    args = p.parse_args()
    if args.threads > 0:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np
    import scipy
    import scipy.linalg
    import torch

    from gankit.metrics.frechet import frechet_distance

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    worker = None
    labels: dict[str, str] = {}
    methods: dict[str, object] = {"gankit": None}
    try:
        import torch_fidelity
        from torch_fidelity.metric_fid import fid_statistics_to_metric
        labels["torch-fidelity"] = f"torch-fidelity {torch_fidelity.__version__}"
        methods["torch-fidelity"] = "local"
    except Exception:  # noqa: BLE001 -- torchvision may fail to import in many ways
        fid_statistics_to_metric = None
    try:
        import torchmetrics
        from torchmetrics.image.fid import _compute_fid
        labels["torchmetrics"] = f"torchmetrics {torchmetrics.__version__}"
        methods["torchmetrics"] = "local"
    except Exception:  # noqa: BLE001
        _compute_fid = None
    winfo: dict = {}
    if args.tf_python and ("torch-fidelity" not in methods or "torchmetrics" not in methods):
        worker = subprocess.Popen([args.tf_python, "-c", WORKER, str(args.threads)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        winfo = json.loads(worker.stdout.readline())
        for name, label in winfo["have"].items():
            if name not in methods:
                methods[name] = "worker"
                labels[name] = f"{label} (in {args.tf_python}: torch {winfo.get('torch')}, numpy {winfo['numpy']})"
    if "torch-fidelity" not in methods:
        methods["torch-fidelity"] = "stand-in"
        labels["torch-fidelity"] = ("torch-fidelity's formula, stand-in (torch-fidelity not importable): "
                                    "sum sqrt(numpy.linalg.eigvals(S1 @ S2)).real")
    methods["scipy sqrtm"] = "local"
    labels["scipy sqrtm"] = f"Tr(scipy.linalg.sqrtm(S1 @ S2)).real, scipy {scipy.__version__}"
    labels["gankit"] = "gankit.metrics.frechet.frechet_distance"

    def ask(req: dict) -> dict:
        assert worker is not None and worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(json.dumps(req) + "\n")
        worker.stdin.flush()
        return json.loads(worker.stdout.readline())

    def run(name: str, st: dict) -> tuple[float, float]:
        kind = methods[name]
        if kind == "worker":
            r = ask({"cmd": "run", "method": name})
            return r["value"], r["seconds"]
        m1, s1, m2, s2 = st["mu1"], st["s1"], st["mu2"], st["s2"]
        t0 = time.perf_counter()
        if name == "gankit":
            v = frechet_distance(m1, s1, m2, s2)
        elif name == "torch-fidelity" and kind == "local":
            v = fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, False)[
                "frechet_inception_distance"]
        elif name == "torch-fidelity":
            diff = m1 - m2
            v = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sum(
                np.sqrt(np.linalg.eigvals(s1 @ s2).astype("complex128")).real)
        elif name == "torchmetrics":
            t = [torch.from_numpy(a) for a in (m1, s1, m2, s2)]
            v = _compute_fid(*t)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                covmean = scipy.linalg.sqrtm(s1 @ s2)
            diff = m1 - m2
            v = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real
        return float(v), time.perf_counter() - t0

    def reference(x: np.ndarray, y: np.ndarray) -> float:
        xc, yc = x - x.mean(0), y - y.mean(0)
        r1, r2 = np.linalg.qr(xc, mode="r"), np.linalg.qr(yc, mode="r")
        nuclear = np.linalg.svd(r2 @ r1.T, compute_uv=False).sum() / np.sqrt((len(x) - 1) * (len(y) - 1))
        diff = x.mean(0) - y.mean(0)
        return float(diff @ diff + (xc**2).sum() / (len(x) - 1) + (yc**2).sum() / (len(y) - 1) - 2 * nuclear)

    def feature_sets(d: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        n = args.n
        sets = {}
        sets["gaussian"] = (rng.normal(size=(n, d)) @ (rng.normal(size=(d, d)) / np.sqrt(d)),
                            rng.normal(size=(n, d)) @ (rng.normal(size=(d, d)) / np.sqrt(d)) + 0.1)
        k = 3 * d // 4
        x = rng.normal(size=(n, k)) @ (rng.normal(size=(k, d)) / np.sqrt(k))
        y = rng.normal(size=(n, k)) @ (rng.normal(size=(k, d)) / np.sqrt(k)) + 0.1
        x[:, : d // 16] = 0.0
        y[:, d // 32: d // 32 + d // 16] = 0.5
        sets["rank 3d/4 + dead"] = (x, y)
        sets["relu"] = (np.maximum(rng.normal(size=(n, d)) @ (rng.normal(size=(d, d)) / np.sqrt(d)) - 1.5, 0.0),
                        np.maximum(rng.normal(size=(n, d)) @ (rng.normal(size=(d, d)) / np.sqrt(d)) - 1.7, 0.0))
        return sets

    env = {"cpu": _cpu(), "cpu_count": os.cpu_count(), "torch": torch.__version__, "numpy": np.__version__,
           "scipy": scipy.__version__, "torch_threads": torch.get_num_threads(),
           "threads_env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                          "OPENBLAS_NUM_THREADS")},
           "load_start": [round(v, 2) for v in os.getloadavg()], "worker": winfo}
    try:
        from threadpoolctl import threadpool_info
        env["blas"] = sorted({f"{i['internal_api']} {i.get('version')} x{i['num_threads']}"
                              for i in threadpool_info()})
    except ImportError:
        pass
    print(f"# Frechet distance: {env['cpu']}, {env['cpu_count']} CPUs, torch {env['torch']} "
          f"({env['torch_threads']} threads), numpy {env['numpy']}, scipy {env['scipy']}", flush=True)
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]), flush=True)
    for name in methods:
        print(f"- {name}: {labels[name]}", flush=True)

    names = [m for m in methods]
    rows = []
    tmp = tempfile.TemporaryDirectory()
    for d in args.dims:
        rng = np.random.default_rng(args.seed + d)
        sets = feature_sets(d, rng)
        active = [m for m in names if not (m == "scipy sqrtm" and d > args.no_sqrtm_above)]
        errors: dict[str, dict[str, float]] = {m: {} for m in active}
        times: dict[str, list[float]] = {m: [] for m in active}
        for set_name, (x, y) in sets.items():
            st = {"mu1": x.mean(0), "s1": np.cov(x, rowvar=False), "mu2": y.mean(0), "s2": np.cov(y, rowvar=False)}
            if worker is not None:
                path = os.path.join(tmp.name, "stats.npz")
                np.savez(path, **st)
                ask({"cmd": "load", "path": path})
            ref = reference(x, y)
            rounds = args.repeats if set_name == "gaussian" else 1
            for _ in range(rounds):                  # interleaved: A, B, C, A, B, C, ...
                for m in active:
                    v, dt = run(m, st)
                    if set_name == "gaussian":
                        times[m].append(dt)
                    errors[m].setdefault(set_name, abs(v - ref) / abs(ref))
            print(f"d={d} {set_name}: reference FID {ref:.10g}, load {os.getloadavg()[0]:.2f}", flush=True)
        base = statistics.median(times["gankit"])
        for m in active:
            med = statistics.median(times[m])
            rows.append({"d": d, "method": m, "median_s": med, "min_s": min(times[m]), "max_s": max(times[m]),
                         "repeats": len(times[m]), "ratio_to_gankit": med / base, "rel_error": errors[m]})
    env["load_end"] = [round(v, 2) for v in os.getloadavg()]
    if worker is not None:
        worker.stdin.close()
        worker.wait(timeout=30)

    set_names = list(rows[0]["rel_error"])
    head = "| d | method | median s (min-max) | x gankit | " + " | ".join(f"rel. error, {s}" for s in set_names) + " |"
    print()
    print(f"N = {args.n} per side, {args.repeats} interleaved repeats (gaussian set), threads: torch "
          f"{env['torch_threads']}, env {env['threads_env']}, BLAS {env.get('blas')}; "
          f"load average {env['load_start']} -> {env['load_end']}")
    print()
    print(head)
    print("|" + "---|" * (4 + len(set_names)))
    for r in rows:
        errs = " | ".join(f"{r['rel_error'][s]:.1e}" for s in set_names)
        print(f"| {r['d']} | {r['method']} | {r['median_s']:.3f} ({r['min_s']:.3f}-{r['max_s']:.3f}) | "
              f"{r['ratio_to_gankit']:.2f} | {errs} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "labels": labels, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
