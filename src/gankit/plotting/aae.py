"""Figures of an adversarial autoencoder run, as Makhzani et al. 2015 draw them. Draws only.

* ``latent.png``: the codes ``E(x)`` of the data coloured by class over the prior's density
  (the first two coordinates and their marginal density when ``latent_dim > 2``);
* ``reconstructions.png``: rows of originals above their reconstructions ``G(E(x))``;
* ``manifold.png``: the decoder on a regular grid of the prior's first two coordinates;
* ``samples.png``: decoded prior samples (one row per class in the supervised variant).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gankit.metrics.aae import examples  # noqa: E402
from gankit.plotting.grid import save_image_grid  # noqa: E402


def plot_aae_run(run: Any, n: int = 2000) -> None:
    """Write the figures above into ``run.dir``."""
    recipe, data = run.recipe, run.data
    x, y = examples(data, n, torch.Generator().manual_seed(run.cfg.eval.seed))
    # every Encodes model is drawn so (aae, ssaae, bigan); only the AAE has an adversarial switch
    title = f"{run.cfg.model.name} on {data.name}, prior {run.cfg.model['prior'].name}, step {run.step}"
    if not run.cfg.model.get('adversarial', True):
        title += " (no adversarial phase)"
    plot_latent(recipe.encode(x), y, recipe.prior, run.dir / "latent.png", title=title, metrics=run.metrics,
                class_names=list(data.class_names) or None)
    if data.kind == "images":
        held = recipe.heldout() or data
        xr, _ = examples(held, 40, torch.Generator().manual_seed(run.cfg.eval.seed + 1))
        save_reconstructions(xr, recipe.reconstruct(xr), run.dir / "reconstructions.png")
        if recipe.prior.dim >= 2:
            save_manifold(recipe, run.dir / "manifold.png")
        from gankit.plotting.grid import save_run_grid

        save_run_grid(run, run.dir / "samples.png")
    elif data.shape == (2,):
        plot_decoded_points(x, recipe.generate(len(x), seed=run.cfg.eval.seed), run.dir / "samples.png", title)


def _density_grid(prior: Any, extent: float, m: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.linspace(-extent, extent, m)
    xx, yy = np.meshgrid(g, g)
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float64)
    return xx, yy, prior.log_prob(pts).exp().numpy().reshape(xx.shape)


def plot_latent(codes: torch.Tensor, labels: torch.Tensor | None, prior: Any, path: Path, *, title: str = "",
                metrics: dict[str, Any] | None = None, class_names: list[str] | None = None) -> None:
    """Codes ``(n, d)`` as points coloured by label over the prior's (marginal) density."""
    codes = codes.double().numpy()
    metrics = metrics or {}
    fig, ax = plt.subplots(figsize=(6.4, 6))
    cmap = plt.get_cmap("tab10")
    if codes.shape[1] == 1:
        lim = max(prior.extent, float(np.abs(codes).max()))
        zs = torch.linspace(-lim, lim, 400, dtype=torch.float64)[:, None]
        ax.plot(zs.numpy().ravel(), prior.log_prob(zs).exp().numpy(), "k", label="prior")
        ax.set_xlabel("z1")
        ax.set_ylabel("density" if labels is None else "density (prior); codes per class (counts)")
        groups = [(None, codes[:, 0])] if labels is None else [(int(k), codes[labels.numpy() == k, 0])
                                                                 for k in labels.unique()]
        for k, c in groups:
            ax.hist(c, bins=60, range=(-lim, lim), density=labels is None, alpha=0.5,
                    color="tab:orange" if k is None else cmap(k % 10), label=None if k is None else str(k))
    else:
        # Keep the prior's frame but widen it for codes that escaped (the unregularised autoencoder).
        lim = max(prior.extent, float(np.quantile(np.abs(codes[:, :2]), 0.99)) * 1.05)
        xx, yy, dens = _density_grid(prior, lim)
        ax.contourf(xx, yy, dens, levels=14, cmap="Greys", alpha=0.8)
        if labels is None:
            ax.scatter(codes[:, 0], codes[:, 1], s=3, c="tab:orange", alpha=0.6)
        else:
            for k in labels.unique().tolist():
                sel = labels.numpy() == k
                name = class_names[k] if class_names and k < len(class_names) else str(k)
                ax.scatter(codes[sel, 0], codes[sel, 1], s=3, color=cmap(k % 10), alpha=0.7, label=name)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    if labels is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize=7, ncol=2, framealpha=0.8)
    notes = []
    if "latent_mmd2" in metrics:
        notes.append(f"MMD² codes-prior {metrics['latent_mmd2']:.4f} (prior-prior {metrics['latent_mmd2_baseline']:.4f})")
    if "component_accuracy" in metrics:
        notes.append(f"codes in their label's component: {100 * metrics['component_accuracy']:.1f}%")
    ax.set_title("\n".join([title] + notes), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_reconstructions(x: torch.Tensor, x_hat: torch.Tensor, path: Path, per_row: int = 10) -> Path:
    """Rows of ``per_row`` originals, each followed by the row of their reconstructions."""
    rows = []
    for i in range(0, x.shape[0] - per_row + 1, per_row):
        rows += [x[i:i + per_row], x_hat[i:i + per_row]]
    return save_image_grid(torch.cat(rows), path, nrow=per_row,
                           row_labels=["original", "reconstruction"] * (len(rows) // 2))


def save_manifold(recipe: Any, path: Path, m: int = 20) -> Path:
    """The decoder on an ``m x m`` grid over ``[-a, a]^2`` in the first two coordinates (others 0),
    each column named by its ``z1`` and each row by its ``z2``."""
    a = 0.8 * recipe.prior.extent
    g = torch.linspace(-a, a, m)
    z = torch.zeros(m * m, recipe.prior.dim)
    z[:, 0] = g.repeat(m)                    # columns: z1 grows to the right
    z[:, 1] = g.flip(0).repeat_interleave(m)  # rows: z2 grows upwards
    names = [f"{v:.1f}" for v in g.tolist()]
    return save_image_grid(recipe.decode(z), path, nrow=m, row_labels=[f"z2={v}" for v in reversed(names)],
                           col_labels=names)


def plot_decoded_points(x: torch.Tensor, decoded: torch.Tensor, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(x[:, 0], x[:, 1], s=2, c="k", alpha=0.3, label="data")
    ax.scatter(decoded[:, 0], decoded[:, 1], s=2, c="tab:orange", alpha=0.6, label="decoded prior samples")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
