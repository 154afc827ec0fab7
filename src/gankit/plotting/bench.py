"""Figures of benchmark results. Numbers are computed in :mod:`gankit.bench`; this only draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_mode_samples(samples: Mapping[tuple[str, str], np.ndarray], means: Mapping[str, np.ndarray],
                      sigmas: Mapping[str, float], methods: Sequence[str], setups: Sequence[str],
                      path: str | Path, titles: Mapping[tuple[str, str], str] | None = None) -> Path:
    """One panel per (method, setup): generated points ``(n, 2)`` over the mode means with
    their 3-sigma high-quality circles. Rows are methods, columns setups."""
    rows, cols = len(methods), len(setups)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for i, method in enumerate(methods):
        for j, setup in enumerate(setups):
            ax = axes[i][j]
            mu = means[setup]
            pad = 0.6 * float(np.abs(mu).max()) / max(1.0, np.sqrt(len(mu))) + 0.5
            lo, hi = float(mu.min()) - pad, float(mu.max()) + pad
            for m in mu:
                ax.add_patch(plt.Circle(m, 3 * sigmas[setup], color="k", fill=False, lw=0.4))
            x = samples.get((method, setup))
            if x is not None:
                ax.scatter(x[:, 0], x[:, 1], s=0.6, c="tab:orange", alpha=0.5, rasterized=True)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if titles and (method, setup) in titles:
                ax.set_title(titles[(method, setup)], fontsize=7)
            if j == 0:
                ax.set_ylabel(method, fontsize=9)
            if i == 0:
                ax.text(0.5, 1.18, setup, transform=ax.transAxes, ha="center", fontsize=9, weight="bold")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
