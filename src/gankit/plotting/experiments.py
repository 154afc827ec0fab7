"""Figures of the experiments (:mod:`gankit.experiments`): each ``plot_X(result, path)`` draws
``result.series`` and writes a PNG. Every number drawn was computed by the experiment;
nothing here computes. Series may be numpy arrays or, after ``ExperimentResult.load``, lists.

matplotlib is imported on first use through its object API (no pyplot state, no backend
switch), so importing :mod:`gankit.experiments` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _figure(ncols: int, width: float = 5.0, height: float = 4.2) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def plot_bilinear(result: Any, path: str | Path) -> None:
    """Left: trajectories in the (x, y) plane. Right: log10 |z_t| with the theoretical rho^t dashed."""
    s = result.series
    fig, (ax_xy, ax_n) = _figure(2)
    for i, (label, traj) in enumerate(s["trajectories"].items()):
        traj, norms = np.asarray(traj), np.asarray(s["norms"][label])
        color = f"C{i}"
        ax_xy.plot(traj[:, 0], traj[:, 1], lw=0.8, color=color, label=label)
        t = np.arange(len(norms))
        ax_n.plot(t, np.log10(norms), color=color, lw=1.2, label=label)
        if label in s["radius"]:
            ax_n.plot(t, np.log10(norms[0]) + t * np.log10(s["radius"][label]), color=color, lw=0.8, ls="--")
    ax_xy.plot([0], [0], "k*", ms=10)
    ax_xy.set(xlabel="x (minimises x*y)", ylabel="y (maximises x*y)", title=f"iterates, eta = {s['eta']:g}")
    lim = 3.0 * float(np.asarray(s["norms"]["alternating"]).max())
    ax_xy.set_xlim(-lim, lim)
    ax_xy.set_ylim(-lim, lim)
    ax_xy.set_aspect("equal")
    ax_n.set(xlabel="step t", ylabel="log10 |z_t|", title="distance to equilibrium (dashed: radius^t)")
    ax_n.legend(fontsize=7)
    _save(fig, path)


def plot_dirac(result: Any, path: str | Path) -> None:
    """Left: (theta, psi) trajectories. Right: distance to (0, 0) over steps (log scale)."""
    s = result.series
    fig, (ax_xy, ax_d) = _figure(2)
    for i, (label, traj) in enumerate(s["trajectories"].items()):
        traj = np.asarray(traj)
        ls = "-" if label.endswith("simultaneous") else ":"
        ax_xy.plot(traj[:, 0], traj[:, 1], lw=0.9, ls=ls, color=f"C{i // 2}", label=label)
        dist = np.asarray(s["distance"][label])
        ax_d.semilogy(np.arange(len(dist)), np.maximum(dist, 1e-300), lw=1.0, ls=ls, color=f"C{i // 2}", label=label)
    ax_xy.plot([0], [0], "k*", ms=10)
    ax_xy.set(xlabel="theta (generator)", ylabel="psi (discriminator)", title="Dirac GAN trajectories")
    ax_xy.set_aspect("equal", adjustable="datalim")
    ax_d.set(xlabel="step", ylabel="|(theta, psi)|", title="distance to the equilibrium")
    ax_d.legend(fontsize=7)
    _save(fig, path)


def plot_saturation(result: Any, path: str | Path) -> None:
    """|d loss / d logit| against D(G(z)) on log-log axes; closed forms dashed."""
    s = result.series
    d = np.asarray(s["d_fake"])
    fig, (ax,) = _figure(1, width=6.0)
    for i, (label, grad) in enumerate(s["autograd"].items()):
        ax.loglog(d, np.abs(np.asarray(grad)), color=f"C{i}", lw=2, label=f"{label} (autograd)")
        ax.loglog(d, np.abs(np.asarray(s["closed_form"][label])), color="k", lw=0.8, ls="--",
                  label="closed form" if i == 0 else None)
    ax.set(xlabel="D(G(z)) = sigmoid(a)", ylabel="|d loss / d a|  (gradient reaching G)",
           title="generator losses: gradient when D rejects the fakes")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_generator_gradients(result: Any, path: str | Path) -> None:
    """Per data set: the densities, and bars of loss gradients vs divergence gradients."""
    s = result.series
    names = list(s["cases"])
    fig, axes = _figure(2 * len(names), width=4.2)
    for k, name in enumerate(names):
        case = s["cases"][name]
        ax_p, ax_g = axes[2 * k], axes[2 * k + 1]
        x = np.asarray(case["x"])
        ax_p.plot(x, np.asarray(case["p_data"]), label="p_data")
        ax_p.plot(x, np.asarray(case["p_g"]), label="p_g")
        ax_p.plot(x, np.asarray(case["d_star"]), ls="--", label="D* (held fixed)")
        ax_p.set(title=f"{name}: densities", xlabel="x")
        ax_p.legend(fontsize=7)
        labels = list(case["loss_grad"])
        pos = np.arange(len(labels))
        ax_g.bar(pos - 0.2, case["loss_grad"].values(), width=0.4, label="loss gradient (D* fixed)")
        ax_g.bar(pos + 0.2, case["divergence_grad"].values(), width=0.4, label="divergence gradient (FD)")
        ax_g.set_xticks(pos, labels, rotation=30, ha="right", fontsize=7)
        ax_g.axhline(0, color="k", lw=0.5)
        ax_g.set(title=f"{name}: gradients")
        ax_g.legend(fontsize=7)
    _save(fig, path)
