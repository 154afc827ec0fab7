"""Points in more than two dimensions as a pair plot: a scatter matrix of generated against
real points (every pair of coordinates below and above the diagonal, each coordinate's two
histograms on it). Up to :data:`MAX_PAIR_DIMS` coordinates are drawn as they are, named by
the data's columns; more are projected on the real points' first :data:`PCA_DIMS` principal
components, which the title says. Numbers are computed elsewhere; this only draws (the
projection is the plot's own axes, not a result)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MAX_PAIR_DIMS = 6   # a 6 x 6 matrix is still readable at ~2 inches a panel
PCA_DIMS = 4        # components shown beyond that


def principal_axes(real: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean ``(d,)``, the first ``k`` principal directions ``(d, k)`` of ``real (n, d)`` and
    the share of its variance each explains ``(k,)`` (SVD of the centred points)."""
    mean = real.mean(axis=0)
    _, s, vt = np.linalg.svd(real - mean, full_matrices=False)
    var = s ** 2
    share = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    return mean, vt[:k].T, share


def pair_coordinates(real: np.ndarray, fake: np.ndarray, columns: Sequence[str] | None
                     ) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """The coordinates to draw, their names and a note for the title: the points themselves
    for ``d <= MAX_PAIR_DIMS`` (names: ``columns``, else ``x1 .. xd``), else their projections
    on the real points' first ``PCA_DIMS`` principal components."""
    d = real.shape[1]
    if d <= MAX_PAIR_DIMS:
        names = list(columns) if columns is not None and len(columns) == d else [f"x{i + 1}" for i in range(d)]
        return real, fake, names, ""
    mean, axes, share = principal_axes(real, PCA_DIMS)
    names = [f"PC{i + 1} ({100 * v:.0f} %)" for i, v in enumerate(share)]
    note = (f"first {PCA_DIMS} principal components of the real points' {d} coordinates "
            f"({100 * share.sum():.0f} % of their variance)")
    return (real - mean) @ axes, (fake - mean) @ axes, names, note


def _limits(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Per coordinate ``(k, 2)``: the middle 99 % of real and generated points, padded 8 %, so
    a few far-off samples do not shrink the picture to a dot."""
    both = np.concatenate([real, fake])
    lo, hi = np.percentile(both, [0.5, 99.5], axis=0)
    pad = 0.08 * np.where(hi > lo, hi - lo, 1.0)
    return np.stack([lo - pad, hi + pad], axis=1)


def pair_plot(real: np.ndarray, fake: np.ndarray, path: str | Path, *, columns: Sequence[str] | None = None,
              title: str = "", fake_labels: np.ndarray | None = None, class_names: Sequence[str] = ()) -> Path:
    """Write :func:`pair_figure` of ``real (n, d)`` against ``fake (m, d)`` to ``path``."""
    fig = pair_figure(real, fake, columns=columns, title=title, fake_labels=fake_labels, class_names=class_names)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
    return path


def pair_figure(real: np.ndarray, fake: np.ndarray, *, columns: Sequence[str] | None = None, title: str = "",
                fake_labels: np.ndarray | None = None, class_names: Sequence[str] = ()) -> plt.Figure:
    """The scatter matrix of ``real (n, d)`` against ``fake (m, d)``: ``k x k`` axes (``k = d``,
    or ``PCA_DIMS`` beyond ``MAX_PAIR_DIMS``), row ``i`` column ``j`` the points' coordinates
    ``(j, i)``, the diagonal both histograms of coordinate ``i``. ``fake_labels (m,)`` with
    ``class_names``: generated points coloured by class, named in the legend."""
    real_c, fake_c, names, note = pair_coordinates(np.asarray(real, np.float64), np.asarray(fake, np.float64), columns)
    k = real_c.shape[1]
    lim = _limits(real_c, fake_c)
    legend_width = 1.9 if fake_labels is not None else 1.1
    fig, axes = plt.subplots(k, k, figsize=(2.1 * k + 0.6 + legend_width, 2.1 * k + 0.9), squeeze=False)
    colours = _fake_colours(fake_labels, len(fake_c))
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if i == j:
                bins = np.linspace(*lim[j], 40)
                ax.hist(real_c[:, j], bins=bins, density=True, color="k", alpha=0.35)
                if fake_labels is None:
                    ax.hist(fake_c[:, j], bins=bins, density=True, color="tab:orange", alpha=0.55)
                else:  # every class together, in a colour no class has
                    ax.hist(fake_c[:, j], bins=bins, density=True, color="tab:red", histtype="step", lw=1.2)
                ax.set_yticks([])
            else:
                ax.scatter(real_c[:, j], real_c[:, i], s=1.5, c="k", alpha=0.25, linewidths=0)
                ax.scatter(fake_c[:, j], fake_c[:, i], s=1.5, c=colours, alpha=0.5, linewidths=0)
                ax.set_ylim(*lim[i])
            ax.set_xlim(*lim[j])
            ax.tick_params(labelsize=6)
            if i == k - 1:
                ax.set_xlabel(names[j], fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0:
                ax.set_ylabel(names[i], fontsize=8)
            if i == 0 and j == k - 1 and k > 1:  # the first row's scale, which its histogram cannot show
                ax.yaxis.tick_right()
            elif j != 0 and i != j:
                ax.set_yticklabels([])
    fig.legend(handles=_legend(fake_labels, class_names), loc="center right", fontsize=8, markerscale=4,
               frameon=False)
    fig.suptitle("\n".join(t for t in (title, note) if t), fontsize=10, x=0.02, ha="left")
    right = 1 - legend_width / fig.get_figwidth()   # the legend's room, on the right
    fig.tight_layout(rect=(0, 0, right, 0.95 if note else 0.97))
    return fig


def _fake_colours(labels: np.ndarray | None, n: int) -> np.ndarray | str:
    if labels is None:
        return "tab:orange"
    return np.asarray([_class_colour(int(c)) for c in labels])


def _class_colour(c: int) -> tuple[float, ...]:
    """tab10 without its red, which the all-classes histograms use."""
    palette = [i for i in range(10) if i != 3]
    return plt.get_cmap("tab10")(palette[c % len(palette)])


def _legend(labels: np.ndarray | None, class_names: Sequence[str]) -> list:
    from matplotlib.lines import Line2D

    def dot(colour, label: str) -> Line2D:
        return Line2D([], [], marker="o", ls="", color=colour, markersize=2, label=label)

    if labels is None:
        return [dot("k", "data"), dot("tab:orange", "generated")]
    shown = sorted({int(c) for c in labels})
    return [dot("k", "data")] + [dot(_class_colour(c), f"generated: {class_names[c] if c < len(class_names) else c}")
                                 for c in shown[:10]] + [Line2D([], [], color="tab:red", label="generated, all classes")]
