"""Figure of the divergence-fit experiment (:mod:`gankit.experiments.divergence_fit`).

One panel per divergence in the spirit of seed 000's figure (Theis et al. 2016, Fig. 1): the
data density with the exact fit (colour) and the adversarial fits (black, dashed) overlaid; a last
panel shows the fits in the (mean, scale) plane: every exact local minimum, the adversarial
training paths and the exact descents from the same starts. Only draws.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def _normal_pdf(x: np.ndarray, mean: float, scale: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))


def plot_divergence_fit(result: Any, path: str | Path) -> None:
    from matplotlib.figure import Figure

    s = result.series
    x, density = np.asarray(s["x"]), np.asarray(s["density"])
    names = list(s["fits"])
    fig = Figure(figsize=(3.6 * (len(names) + 1), 3.6), layout="constrained")
    axes = fig.subplots(1, len(names) + 1, squeeze=False)[0]
    for i, (ax, name) in enumerate(zip(axes, names)):
        color = f"C{i}"
        fit = s["fits"][name]
        ax.fill_between(x, density, color="0.8", label="data p")
        ax.plot(x, _normal_pdf(x, fit["mean"], fit["scale"]), color=color, lw=2,
                label=f"exact: N({fit['mean']:.2f}, {fit['scale']:.2f}²)")
        for j, adv in enumerate(s["adversarial_fits"].get(name, [])):
            ax.plot(x, _normal_pdf(x, adv["mean"], adv["scale"]), color="k", lw=1.0, ls="--",
                    label=f"adversarial: N({adv['mean']:.2f}, {adv['scale']:.2f}²)" if j == 0 else None)
        ax.set(title=f"minimise {s['labels'][name]}", xlabel="x")
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="upper right")

    ax = axes[-1]
    for i, name in enumerate(names):
        color = f"C{i}"
        for key, p in s["paths"]["adversarial"].items():
            if key.startswith(f"{name} start"):
                p, e = np.asarray(p), np.asarray(s["paths"]["exact"][key])
                ax.plot(p[:, 0], p[:, 1], color=color, lw=0.7, alpha=0.8)
                ax.plot(e[:, 0], e[:, 1], color=color, lw=1.0, ls=":")
                ax.plot(p[0, 0], p[0, 1], "ko", ms=4)
        others = s["minima"][name][1:]
        ax.plot([m["mean"] for m in others], [m["scale"] for m in others], "o", color=color, ms=5, mec="k", mew=0.4)
    for i, name in enumerate(names):  # the fits on top, largest first so that coinciding ones stay visible
        best = s["minima"][name][0]
        ax.plot(best["mean"], best["scale"], "*", color=f"C{i}", ms=16 - 3 * i, mec="k", mew=0.5, label=s["labels"][name])
    for mean, sigma in zip(np.asarray(s["means"]), np.asarray(s["sigmas"])):
        ax.plot(mean, sigma, "kx", ms=8)
    ax.set(xlabel="mean", ylabel="scale", yscale="log")
    ax.set_title("(mean, scale): * fit, o other local minima, x modes\n"
                 "solid: adversarial path, dotted: exact descent", fontsize=9)
    ax.legend(fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
