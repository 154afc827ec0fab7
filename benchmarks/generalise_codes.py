"""Where a categorical-code recipe loses HQ on one member of ``gankit bench generalise``'s family.

    OMP_NUM_THREADS=1 python benchmarks/generalise_codes.py 1 best
    OMP_NUM_THREADS=1 python benchmarks/generalise_codes.py 1 best penalty.gamma=0.01

Trains ``METHOD`` (a method of the bench, with ``KEY=VALUE`` overrides) on member ``MEMBER``
of the random family (:func:`gankit.data.toy.random_mixture`; the tuning family is seeds 0-999)
at seed 0, then prints: the bench's modes / HQ / reverse KL; the histogram of each sample's
distance to its nearest mode in that mode's sigmas beside a perfect sampler's (the chi
distribution with 2 degrees of freedom); each code's HQ share and its two most-hit modes
(``prior=categorical`` only); and what reweighting the codes by D's density-ratio estimate
(``mean exp(min(logit, log cap))``) and discriminator rejection sampling (Azadi et al. 2019;
accept ``min(1, exp(logit - M))``, ``M`` a logit quantile) would make of HQ.
"""

from __future__ import annotations

import math
import sys
import time

import torch


def main() -> None:
    member, method, overrides = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    torch.set_num_threads(1)
    from gankit.bench.generalise import run_config
    from gankit.data.toy import random_mixture
    from gankit.metrics.modes import mode_statistics
    from gankit.session import train

    data = random_mixture(member)
    cfg = run_config(method, data, 0, overrides=overrides)
    cfg["train"]["threads"] = 1
    tag = "_".join(o.replace("=", "-") for o in overrides)[:60]
    t0 = time.perf_counter()
    run = train(cfg, run_dir=f"runs/bench/generalise-codes/{method}-{member}-{tag}")
    m = run.metrics
    print(f"member {member} ({len(data['means'])} modes), {method} {' '.join(overrides)}: modes {m['modes']:.0f}, "
          f"HQ {m['hq_percent']:.1f} %, reverse KL {m['reverse_kl']:.3f}, {time.perf_counter() - t0:.0f} s")
    rec = run.recipe
    means, sig, w = (torch.tensor(data[k], dtype=torch.float64) for k in ("means", "sigmas", "weights"))

    x = rec.generate(5000, seed=0).double()
    d = (torch.cdist(x, means) / sig).min(1).values
    edges = [0, 1, 2, 3, 4, 6, 10, 20, math.inf]
    chi2 = lambda r: 1 - math.exp(-r * r / 2) if math.isfinite(r) else 1.0  # noqa: E731
    print("distance to nearest mode (sigmas): share of samples (perfect sampler)")
    for a, b in zip(edges, edges[1:]):
        print(f"  {a:>3}-{b:<4} {float(((d >= a) & (d < b)).double().mean()):.3f} ({chi2(b) - chi2(a):.3f})")

    prior = rec.prior
    k = getattr(prior, "components", 0)
    if not (k and hasattr(prior, "scale")):
        return
    G, D = rec.sampler().eval(), rec.D.eval()
    n = 1000
    xs, logits = [], []
    with torch.no_grad():
        for c in range(k):
            eps = torch.randn(n, prior.dim - k, generator=torch.Generator().manual_seed(100 + c)) * prior.sigma
            code = torch.zeros(n, k)
            code[:, c] = prior.scale
            xt = G(torch.cat([code, eps], 1)).float()              # standardised space: what D sees
            logits.append(D(xt).reshape(-1).float())
            xs.append((rec.transform.inverse(xt) if rec.transform is not None else xt).double())
    X, L = torch.stack(xs), torch.stack(logits)                    # (k, n, 2), (k, n)
    print("code: HQ share, two most-hit modes (share)")
    for c in range(k):
        dc, idx = (torch.cdist(X[c], means) / sig).min(1)
        hit = torch.bincount(idx[dc < 3], minlength=len(means)).double() / n
        top = hit.topk(2)
        print(f"  {c:>2}: {float((dc < 3).double().mean()):.3f}  modes {top.indices.tolist()} "
              f"({', '.join(f'{v:.2f}' for v in top.values.tolist())})")
    flat = X.reshape(-1, X.shape[-1])
    pick = torch.randperm(flat.shape[0], generator=torch.Generator().manual_seed(0))[:2500]
    print(f"codes uniform: HQ {mode_statistics(flat[pick], means, sig, weights=w)['hq_percent']:.1f} %")
    for cap in (3.0, 100.0):
        r = L.clamp(max=math.log(cap)).exp().mean(1)
        pi = r / r.sum()
        c = torch.multinomial(pi, 2500, replacement=True, generator=torch.Generator().manual_seed(1))
        i = torch.randint(n, (2500,), generator=torch.Generator().manual_seed(2))
        st = mode_statistics(X[c, i], means, sig, weights=w)
        print(f"codes reweighted by D (cap {cap:g}): HQ {st['hq_percent']:.1f} %, weights x k in "
              f"[{float(pi.min() * k):.3f}, {float(pi.max() * k):.3f}]")
    Lf = L.reshape(-1)
    for q in (0.5, 0.8, 0.95):
        M = torch.quantile(Lf, q)
        acc = torch.rand(Lf.shape, generator=torch.Generator().manual_seed(3)) < (Lf - M).clamp(max=0).exp()
        kept = flat[acc][torch.randperm(int(acc.sum()), generator=torch.Generator().manual_seed(4))[:2500]]
        st = mode_statistics(kept, means, sig, weights=w)
        print(f"rejection sampling at the {q:.2f} logit quantile: accepts {float(acc.double().mean()):.3f}, "
              f"HQ {st['hq_percent']:.1f} %")


if __name__ == "__main__":
    main()
