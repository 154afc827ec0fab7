"""What rejection sampling by a refitted critic does to one member of bench generalise's family.

    OMP_NUM_THREADS=1 python benchmarks/drs_critic.py 0                       # member 0, fourier 32, max 64
    OMP_NUM_THREADS=1 python benchmarks/drs_critic.py 6 --fourier 0           # the game's plain MLP as critic
    OMP_NUM_THREADS=1 python benchmarks/drs_critic.py 1 --quantiles 0.1 0.2 0.5 0.95

Trains bench generalise's ``best`` method (the default run without rejection sampling) on member
``MEMBER`` of the random family (:func:`gankit.data.toy.random_mixture`; the tuning family is
seeds 0-999) at seed 0, fits a critic as ``mitigations.drs`` does (2,000 Adam steps of the
logistic loss against the frozen G, an MLP on ``--fourier`` random Fourier features per octave
up to ``--fourier-max``), then prints, for 2,500 samples kept at each logit quantile: the
acceptance rate, modes, HQ, reverse KL and the energy distance above its real-vs-real baseline,
beside the same numbers without rejection.
"""

from __future__ import annotations

import argparse
import shutil

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("member", type=int)
    ap.add_argument("--fourier", type=int, default=32)
    ap.add_argument("--fourier-max", type=float, default=64.0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--quantiles", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5, 0.8, 0.95])
    ap.add_argument("--out", default="runs/bench/drs-critic")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from gankit.bench.generalise import run_config
    from gankit.data.toy import random_mixture
    from gankit.metrics.modes import mode_statistics
    from gankit.metrics.twosample import energy_distance
    from gankit.mitigations.rejection import acceptance, fit_critic
    from gankit.networks.mlp import MLPDiscriminator
    from gankit.session import train

    data = random_mixture(a.member)
    cfg = run_config("best", data, 0)
    cfg["train"]["threads"] = 1
    out = f"{a.out}/member{a.member}"
    shutil.rmtree(out, ignore_errors=True)
    rec = train(cfg, run_dir=out).recipe
    means, sig, w = (torch.tensor(data[k], dtype=torch.float64) for k in ("means", "sigmas", "weights"))
    g = torch.Generator().manual_seed(0)

    def real(n: int) -> torch.Tensor:
        c = torch.multinomial(w, n, replacement=True, generator=g)
        return means[c] + sig[c, None] * torch.randn(n, 2, generator=g, dtype=torch.float64)

    baseline = energy_distance(real(2500), real(2500))
    with torch.no_grad():
        xf = rec.sampler()(rec.prior.sample(40_000, generator=g)).float()   # the game's (standardised) space

    def report(tag: str, kept: torch.Tensor) -> str:
        x = rec.transform.inverse(kept[:2500]).double()
        s = mode_statistics(x, means, sig, weights=w)
        return (f"{tag}: modes {s['modes']:.0f}/{len(w)}, HQ {s['hq_percent']:.1f} %, reverse KL {s['reverse_kl']:.3f}, "
                f"energy excess {energy_distance(x, real(2500)) - baseline:.4f}")

    print(f"member {a.member} ({len(w)} modes)")
    print("  " + report("no rejection", xf))
    torch.manual_seed(1)
    net = MLPDiscriminator((2,), 0, 1, width=128, depth=3, fourier=a.fourier, fourier_max=a.fourier_max)
    loss = fit_critic(net, rec, a.steps, 512, 1e-3, torch.Generator().manual_seed(5))
    print(f"  critic (fourier {a.fourier}, max {a.fourier_max:g}): logistic loss {loss:.3f} after {a.steps} steps "
          "(1.386: cannot tell)")
    with torch.no_grad():
        logits = net(xf).float()
    for q in a.quantiles:
        keep = torch.rand(logits.shape, generator=g) < acceptance(logits, torch.quantile(logits, q))
        print("  " + report(f"quantile {q}: accepts {float(keep.float().mean()):.2f}", xf[keep]))


if __name__ == "__main__":
    main()
