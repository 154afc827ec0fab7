"""Figures written into a run directory. Numbers are computed elsewhere; this only draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gankit.capabilities import Encodes, KnownModes  # noqa: E402
from gankit.plotting.grid import save_run_grid  # noqa: E402


def plot_run(run: Any) -> None:
    """``samples.png`` (or a sample grid for images) and ``losses.png``."""
    data = run.data
    if isinstance(run.recipe, Encodes):  # an adversarial autoencoder: its D judges codes, not data
        from gankit.plotting.aae import plot_aae_run

        plot_aae_run(run)
        plot_losses(run.history, run.dir / "losses.png")
        return
    if data.kind == "images":
        save_run_grid(run, run.dir / "samples.png")
    elif data.shape == (2,):
        plot_points_2d(run, run.dir / "samples.png")
    elif data.shape == (1,) and isinstance(data, KnownModes):
        plot_points_1d(run, run.dir / "samples.png")
    elif len(data.shape) == 1:
        plot_points_pairs(run, run.dir / "samples.png")
    plot_losses(run.history, run.dir / "losses.png")


def real_points(run: Any, n: int) -> np.ndarray:
    """``n`` real points (all of a smaller training split) for a picture, the data set's
    training position untouched."""
    from gankit.data.base import sample_aside

    real, _ = sample_aside(run.data, n, torch.Generator().manual_seed(run.cfg.eval.seed + 1))
    return real.double().cpu().numpy()


def plot_points_pairs(run: Any, path: Path, n: int = 2000, fake: torch.Tensor | None = None,
                      labels: torch.Tensor | None = None, title: str = "") -> Path:
    """Generated against real points as a pair plot (:func:`gankit.plotting.pairs.pair_plot`):
    ``fake`` (default: ``n`` samples of the run, every class in turn for a conditional run),
    coloured by ``labels`` when the run is conditional, axes named by the data's columns."""
    from gankit.plotting.pairs import pair_plot

    k = run.recipe.num_classes
    if fake is None:
        labels = torch.arange(n) % k if k else None
        fake = run.recipe.generate(n, labels, seed=run.cfg.eval.seed)
    real = real_points(run, max(n, len(fake)))
    names = list(run.data.class_names)
    title = title or f"{run.cfg.model['loss'].name} on {run.data.name}, step {run.step}"
    return pair_plot(real, fake.double().cpu().numpy(), path, columns=run.data.columns, title=title,
                     fake_labels=None if labels is None or not k else labels.cpu().numpy(), class_names=names)


ASPECT_RATIO_MAX = 2.0   # coordinates whose spreads differ more than this are drawn on their own scales
CRITIC_MIN_HALF_SPAN = 1.0   # a raw critic's colour scale spans at least [-1, 1]


def axis_names(columns: Any, d: int) -> list[str]:
    """The coordinates' names: the data's ``columns`` when it declares ``d`` of them, else
    ``x1 .. xd``; every axis of a points figure is labelled with one."""
    if columns is not None and len(columns) == d:
        return [str(c) for c in columns]
    return [f"x{i + 1}" for i in range(d)]


def point_window(lo: np.ndarray, hi: np.ndarray, pad: float = 0.15) -> tuple[np.ndarray, bool]:
    """Per-coordinate limits ``(d, 2)`` around ``[lo, hi]`` and whether to draw them at equal
    aspect: only when the spreads differ by at most :data:`ASPECT_RATIO_MAX`, where a common
    square window (the widest spread on both axes) shows the shape as it is; an elongated
    data set gets each axis its own range, so it fills the canvas instead of a thin stripe."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    span = np.where(hi > lo, hi - lo, 0.0)
    if not span.any():
        span = np.ones_like(span)
    span = np.where(span > 0, span, span.max())
    mid = (lo + hi) / 2
    equal = bool(span.max() <= ASPECT_RATIO_MAX * span.min())
    half = (np.full_like(span, span.max()) if equal else span) * (0.5 + pad)   # a margin in the data's own units
    return np.stack([mid - half, mid + half], axis=1), equal


def critic_scale(values: np.ndarray, probability: bool) -> tuple[float, float, str]:
    """The colour scale of D over the plane and the colour bar's label. Probability outputs:
    ``[0, 1]`` whatever the values, so a D at 0.48-0.50 everywhere reads as undecided, not as
    structure. A raw critic: symmetric about 0 (the sign at which it calls a point real), as
    wide as its largest value (99th percentile of ``|D|``), at least
    ``±CRITIC_MIN_HALF_SPAN``."""
    if probability:
        return 0.0, 1.0, "D(x) = P(real)  (scale fixed to [0, 1]; 0.5 undecided)"
    v = np.abs(values[np.isfinite(values)])
    top = float(np.quantile(v, 0.99)) if v.size else 0.0
    half = max(CRITIC_MIN_HALF_SPAN, float(np.ceil(top * 10) / 10))
    return -half, half, f"critic D(x)  (scale symmetric about 0: [-{half:g}, {half:g}])"


def _critic_grid(run: Any, pts: torch.Tensor) -> np.ndarray | None:
    recipe = run.recipe
    if not recipe.objective.learned_critic or recipe.num_classes:
        return None
    D = recipe.D
    was = D.training
    D.eval()
    with torch.no_grad():
        out = torch.cat([recipe.discriminate(p.to(run.device)).float().cpu() for p in pts.split(8192)])
    D.train(was)
    if out.dim() > 1:
        return None
    return (torch.sigmoid(out) if recipe.objective.probability_outputs else out).numpy()


def plot_points_2d(run: Any, path: Path, n: int = 2500) -> None:
    """``samples.png`` of 2-D points: :func:`points_2d_figure` of the run's samples."""
    fig = points_2d_figure(run, n)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def points_2d_figure(run: Any, n: int = 2500) -> plt.Figure:
    """Generated points (orange, or one colour per class) over real ones (black), the data's
    density where it is known and D's decision surface on a fixed colour scale
    (:func:`critic_scale`); axes named by the data's columns (:func:`axis_names`)."""
    data = run.data
    k = run.recipe.num_classes
    labels = torch.arange(n) % k if k else None   # a conditional run: every class in turn
    fake = run.recipe.generate(n, labels, seed=run.cfg.eval.seed).numpy()
    real, _ = data.sample(n, torch.Generator().manual_seed(run.cfg.eval.seed + 1))
    modes = isinstance(data, KnownModes)
    ref = data.means.numpy() if modes else real.numpy()
    win, equal = point_window(ref.min(axis=0), ref.max(axis=0))
    gx, gy = np.linspace(*win[0], 200), np.linspace(*win[1], 200)
    xx, yy = np.meshgrid(gx, gy)
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    fig, ax = plt.subplots(figsize=(6.6, 6))
    dval = _critic_grid(run, pts)
    if dval is not None:
        lo, hi, label = critic_scale(dval, run.recipe.objective.probability_outputs)
        levels = np.linspace(lo, hi, 21)
        cs = ax.contourf(xx, yy, np.clip(dval, lo, hi).reshape(xx.shape), levels=levels, cmap="RdBu_r",
                         vmin=lo, vmax=hi, alpha=0.45)
        bar = fig.colorbar(cs, ax=ax, fraction=0.046, ticks=np.linspace(lo, hi, 5))
        bar.set_label(label)
    if modes:
        dens = data.log_prob(pts).exp().numpy().reshape(xx.shape)
        ax.contour(xx, yy, dens, levels=4, colors="k", linewidths=0.6)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="k", alpha=0.3, label="data")
    if labels is None:
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:orange", alpha=0.6, label="generated")
    else:
        names = list(data.class_names) or [str(c) for c in range(k)]
        for c in range(min(k, 10)):   # a legend of ten classes is the most that reads
            sel = (labels == c).numpy()
            ax.scatter(fake[sel, 0], fake[sel, 1], s=2, alpha=0.6, label=f"generated: {names[c]}")
    m = run.metrics
    title = f"{run.cfg.model['loss'].name} on {data.name}, step {run.step}"
    if "modes" in m:
        title += f"\nmodes {m['modes']:.0f} of {m['modes_total']:.0f}, HQ {m['hq_percent']:.1f}%"
    ax.set_title(title)
    ax.set_xlim(*win[0])
    ax.set_ylim(*win[1])
    xname, yname = axis_names(data.columns, 2)
    ax.set_xlabel(xname)
    ax.set_ylabel(yname)
    if equal:
        ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    fig.tight_layout()
    return fig


def plot_points_1d(run: Any, path: Path, n: int = 20000) -> None:
    data = run.data
    fake = run.recipe.generate(n, seed=run.cfg.eval.seed).numpy().ravel()
    lo = float((data.means[:, 0] - 5 * data.sigmas).min())
    hi = float((data.means[:, 0] + 5 * data.sigmas).max())
    xs = torch.linspace(lo, hi, 600).reshape(-1, 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(xs.numpy().ravel(), data.log_prob(xs).exp().numpy(), "k", label="p_data")
    ax.hist(fake, bins=120, range=(lo, hi), density=True, alpha=0.5, color="tab:orange", label="generated")
    dval = _critic_grid(run, xs)
    if dval is not None:
        ax2 = ax.twinx()
        ax2.plot(xs.numpy().ravel(), dval, "tab:blue", lw=1, label="D(x)")
        lo_d, hi_d, label = critic_scale(dval, run.recipe.objective.probability_outputs)
        ax2.set_ylim(lo_d, hi_d)
        ax2.set_ylabel(label)
    ax.set_title(f"{run.cfg.model['loss'].name} on {data.name}, step {run.step}")
    ax.set_xlabel(axis_names(data.columns, 1)[0])
    ax.set_ylabel("density")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_losses(history: list[dict[str, float]], path: Path) -> None:
    if not history:
        return
    steps = np.array([h["step"] for h in history])
    keys_prob = [k for k in ("D(x)", "D(G(z))", "D(z)", "D(E(x))") if k in history[-1]]
    keys_loss = [k for k in ("d_loss", "g_loss", "penalty", "recon_mse") if k in history[-1]] or \
        [k for k in history[-1] if k != "step" and k not in keys_prob]  # a recipe's own terms (d_cat, sup_ce, ...)
    ncols = 2 if keys_prob else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 3.6), squeeze=False)
    for k in keys_loss:
        axes[0, 0].plot(steps, [h.get(k, np.nan) for h in history], label=k)
    axes[0, 0].set_xlabel("step")
    axes[0, 0].set_ylabel("loss")
    axes[0, 0].set_title("losses")
    if keys_loss:
        axes[0, 0].legend()
    if keys_prob:
        for k in keys_prob:
            axes[0, 1].plot(steps, [h.get(k, np.nan) for h in history], label=k)
        axes[0, 1].axhline(0.5, color="gray", lw=0.8, ls="--")
        axes[0, 1].set_ylim(0, 1)
        axes[0, 1].set_xlabel("step")
        axes[0, 1].set_ylabel("mean of D over the batch")
        axes[0, 1].set_title("discriminator outputs (mean)")
        axes[0, 1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
