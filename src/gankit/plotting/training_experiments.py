"""Figures of the experiments that train networks (optimal-discriminator, equilibrium,
push-forward, mode-collapse-dynamics). Each ``plot_X(result, path)`` only draws
``result.series``; series may be numpy arrays or, after ``ExperimentResult.load``, lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gankit.plotting.experiments import _figure, _save


def plot_discriminator(result: Any, path: str | Path) -> None:
    """Per case: the trained D against D* (1-D: curves over the densities; 2-D: D in colour with
    D*'s level sets, and D - D*); last panel: max and mean |D - D*| over training steps."""
    s = result.series
    cases = s["cases"]
    ncols = sum(1 if len(np.asarray(c["d"]).shape) == 1 else 2 for c in cases.values()) + 1
    fig, axes = _figure(ncols, width=4.4)
    ref = s.get("reference", "D*")
    k = 0
    for name, c in cases.items():
        d, d_star = np.asarray(c["d"]), np.asarray(c["d_star"])
        t = np.asarray(c["axis"])
        if d.ndim == 1:
            ax = axes[k]
            k += 1
            p_data, p_g = np.asarray(c["p_data"]), np.asarray(c["p_g"])
            top = max(p_data.max(), p_g.max())
            ax.fill_between(t, p_data / top, color="C0", alpha=0.2, label="p_data (scaled)")
            ax.fill_between(t, p_g / top, color="C1", alpha=0.2, label="p_g (scaled)")
            ax.plot(t, d_star, "k--", lw=1.2, label=ref)
            ax.plot(t, d, color="C3", lw=1.6, label="trained D")
            ax.set(xlabel="x", ylim=(-0.02, 1.02), title=c["label"])
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7)
            continue
        ax_d, ax_e = axes[k], axes[k + 1]
        k += 2
        ext = (t[0], t[-1], t[0], t[-1])
        im = ax_d.imshow(d.T, origin="lower", extent=ext, vmin=0, vmax=1, cmap="viridis")
        if ref == "D*":
            ax_d.contour(t, t, d_star.T, levels=[0.1, 0.5, 0.9], colors="w", linewidths=0.7, linestyles="--")
        fig.colorbar(im, ax=ax_d, shrink=0.8)
        ax_d.set(title="trained D" + (" (dashed: D* = 0.1, 0.5, 0.9)" if ref == "D*" else ""), xlabel="x1",
                 ylabel="x2")
        diff = d - d_star
        lim = max(float(np.abs(diff).max()), 1e-6)
        im = ax_e.imshow(diff.T, origin="lower", extent=ext, vmin=-lim, vmax=lim, cmap="RdBu_r")
        mass = np.asarray(c["p_data"]) + np.asarray(c["p_g"])
        ax_e.contour(t, t, mass.T, levels=[s["mass_threshold"] * mass.max()], colors="k", linewidths=0.8)
        fig.colorbar(im, ax=ax_e, shrink=0.8)
        ax_e.set(title=f"D - {ref} (black: mass region edge)", xlabel="x1")
        ax_e.title.set_fontsize(8)
    ax = axes[-1]
    for i, (name, c) in enumerate(cases.items()):
        h = c["history"]
        ax.semilogy(h["step"], h["max_error"], color=f"C{i}", lw=1.5, label=f"{name}: max |D - {ref}|")
        ax.semilogy(h["step"], h["mean_error"], color=f"C{i}", lw=1.0, ls="--", label=f"{name}: mean")
    ax.set(xlabel="D step", ylabel="error on the mass region", title="convergence of D")
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_mode_dynamics(result: Any, path: str | Path) -> None:
    """Left: stacked fractions of samples per mode over steps. Middle: modes holding more than
    the covered fraction, and the dominant mode. Right: sample clouds at a few steps."""
    s = result.series
    steps = np.asarray(s["step"])
    frac = np.asarray(s["fractions"])                       # (records, K)
    k = frac.shape[1]
    fig, (ax_f, ax_c, ax_x) = _figure(3, width=5.2)
    colors = [_ring_color(i, k) for i in range(k)]
    ax_f.stackplot(steps, frac.T, colors=colors, labels=[f"mode {i}" for i in range(k)], lw=0)
    ax_f.set(xlabel="training step", ylabel="fraction of samples (nearest mode)", ylim=(0, 1),
             xlim=(steps[0], steps[-1]), title="where the generated mass is")
    ax_f.legend(fontsize=6, ncol=2, loc="upper right")
    ax_c.step(steps, np.asarray(s["covered"]), where="post", color="k", lw=1.2,
              label=f"modes holding > {s['covered_fraction']:g}")
    dom = np.asarray(s["dominant"])
    has = dom >= 0
    ax_c.scatter(steps[has], dom[has], c=[colors[d] for d in dom[has]], s=8, label="dominant mode index")
    ax_c.axhline(k, color="grey", ls=":", lw=0.8)
    ax_c.set(xlabel="training step", ylim=(-0.5, k + 0.5), title="coverage and the dominant mode")
    ax_c.legend(fontsize=7, loc="upper right")
    means = np.asarray(s["means"])
    ax_x.scatter(means[:, 0], means[:, 1], c=colors, s=60, marker="*", edgecolors="k", zorder=3)
    snaps = s["snapshots"]
    for i, (step, x) in enumerate(snaps.items()):
        x = np.asarray(x)
        # grey levels (dark = early) keep the mode colours for the stars; each cloud is labelled
        grey = str(0.15 + 0.6 * i / max(1, len(snaps) - 1))
        ax_x.scatter(x[:, 0], x[:, 1], s=2, alpha=0.6, color=grey)
        cx, cy = np.median(x, axis=0)
        ax_x.annotate(f"step {step}", (cx, cy), fontsize=7, ha="center", va="center",
                      bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.8, "lw": 0})
    lim = 1.6 * float(s["radius"])
    ax_x.set(xlim=(-lim, lim), ylim=(-lim, lim), title="samples (same z) at a few steps; stars: modes")
    ax_x.set_aspect("equal")
    _save(fig, path)


def _ring_color(i: int, k: int) -> Any:
    from matplotlib import colormaps

    return colormaps["hsv"](i / k)


def plot_push_forward(result: Any, path: str | Path) -> None:
    """Left: the learned map G(z) and the two exact transports. Middle: generated histogram over
    the target density. Right: W1 to the target over training, with the sampling baseline."""
    s = result.series
    fig, (ax_m, ax_h, ax_w) = _figure(3)
    z = np.asarray(s["z"])
    ax_m.plot(z, np.asarray(s["t_up"]), "k--", lw=1.0, label="T(z) = F^-1(Phi(z))")
    ax_m.plot(z, np.asarray(s["t_down"]), "k:", lw=1.0, label="T(-z)")
    ax_m.plot(z, np.asarray(s["g"]), color="C3", lw=1.8, label="learned G(z)")
    ax_m.set(xlabel="z ~ N(0, 1)", ylabel="x", title="the push-forward map")
    ax_m.legend(fontsize=7)
    ax_h.hist(np.asarray(s["fake"]), bins=120, density=True, color="C0", alpha=0.5, label="G(z), z ~ N(0, 1)")
    ax_h.plot(np.asarray(s["x"]), np.asarray(s["density"]), "k", lw=1.2, label="target density")
    ax_h.set(xlabel="x", title="generated vs target")
    ax_h.legend(fontsize=7)
    h = s["history"]
    ax_w.semilogy(h["step"], h["w1"], "o-", ms=3, color="C3", label="W1(generated, target)")
    ax_w.axhline(s["w1_baseline"], color="k", ls="--", lw=0.9, label="W1(target, target) baseline")
    ax_w.set(xlabel="training step", ylabel="Wasserstein-1", title="distance to the target")
    ax_w.legend(fontsize=7)
    _save(fig, path)
