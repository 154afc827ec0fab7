"""The SVD inside gankit's Frechet distance: the two-stage values-only SVD
(:func:`gankit.metrics.frechet.singular_values`) against LAPACK ``gesdd`` (scipy's OpenBLAS and
torch's MKL), on the matrix ``C^T = F1^T F2`` that :func:`trace_sqrt_product` builds from the
bench's Gaussian statistics (``N = --n`` samples per side), timed interleaved.

    python benchmarks/frechet_svd.py --threads 1 --dims 512 1024 2048

Printed per method: median seconds (min-max), the ratio to the two-stage median, and the
largest difference of the singular values from numpy's ``gesdd`` relative to the largest
singular value (both methods are backward stable: ~1e-15 is agreement to rounding).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dims", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import scipy.linalg
    import scipy.linalg.blas
    import torch

    from gankit.metrics import frechet

    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__}, "
          f"two-stage LAPACK routines reachable: {bool(frechet._lapack_routines())}")
    print("| d | method | median s (min-max) | x two-stage | max abs. diff / sigma_max |")
    print("|---|---|---|---|---|")
    for d in args.dims:
        rng = np.random.default_rng(args.seed + d)
        x = rng.normal(size=(args.n, d)) @ (rng.normal(size=(d, d)) / np.sqrt(d))
        y = rng.normal(size=(args.n, d)) @ (rng.normal(size=(d, d)) / np.sqrt(d)) + 0.1
        low1, feat1, sd1, r1 = frechet._pivoted_cholesky(np.cov(x, rowvar=False))
        low2, feat2, sd2, r2 = frechet._pivoted_cholesky(np.cov(y, rowvar=False))
        pos1 = np.full(d, -1)
        pos1[feat1] = np.arange(feat1.size)
        rows = pos1[feat2]
        g = np.tril(low1[:, :r1])[rows] * (sd1[rows] * sd2)[:, None]
        ct = scipy.linalg.blas.dtrmm(1.0, low2[:r2, :r2], g[:r2].T, side=1, lower=1)
        ref = np.linalg.svd(ct, compute_uv=False)
        methods = {
            "two-stage (singular_values)": lambda ct=ct: frechet.singular_values(ct),
            "scipy gesdd (OpenBLAS)": lambda ct=ct: scipy.linalg.svdvals(ct, check_finite=False),
            "torch gesdd (MKL)": lambda ct=ct: torch.linalg.svdvals(torch.from_numpy(ct)).numpy(),
        }
        times: dict[str, list[float]] = {m: [] for m in methods}
        diff: dict[str, float] = {}
        for _ in range(args.repeats):
            for name, f in methods.items():
                t0 = time.perf_counter()
                sv = f()
                times[name].append(time.perf_counter() - t0)
                diff[name] = float(np.abs(np.sort(sv)[::-1] - ref).max() / ref[0])
        base = statistics.median(times["two-stage (singular_values)"])
        for name in methods:
            t = times[name]
            print(f"| {d} | {name} | {statistics.median(t):.3f} ({min(t):.3f}-{max(t):.3f}) | "
                  f"{statistics.median(t) / base:.2f} | {diff[name]:.1e} |", flush=True)
    print(f"load average {[round(v, 2) for v in os.getloadavg()]}")


if __name__ == "__main__":
    main()
