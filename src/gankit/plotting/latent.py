"""Walking the latent space of a trained generator: interpolation and vector arithmetic.

* Interpolation (Radford, Metz & Chintala 2016, §6.1): images along a path between two
  latents; smooth transitions indicate the generator has not memorised. ``lerp`` is the
  straight line ``(1 - t) z0 + t z1``; ``slerp`` (Shoemake 1985, advocated for GAN latents by
  White 2016) follows the great circle,

      slerp(z0, z1; t) = sin((1 - t) theta) / sin(theta) z0 + sin(t theta) / sin(theta) z1,
      theta = arccos(<z0, z1> / (|z0| |z1|)),

  which stays at the radius where a high-dimensional Gaussian puts its mass instead of
  cutting through the low-density centre.
* Vector arithmetic (Radford et al. 2016, §6.3): with three latents per concept,
  ``z = mean(z_A) - mean(z_B) + mean(z_C)``; one latent per concept was unstable in the paper,
  the average of three worked. Variations add uniform noise of scale ``noise`` (0.25 there).

Latents are numbered: latent ``i`` of seed ``s`` is the prior's sample from a generator
seeded with ``1_000_003 s + i``, so an index read off a grid of candidates
(:func:`candidates`) names the same latent in any later call, whatever the grid's size.

``model`` is a trained recipe (``gankit.load_run(dir).recipe``): anything with ``sampler()``
(the generator, EMA if kept), ``prior``, ``num_classes`` and ``device``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.plotting.grid import image_grid, save_image_grid

_SEED_STRIDE = 1_000_003


# --------------------------------------------------------------------------- paths

def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """``z0, z1 (..., d)``, ``t (T,)`` -> ``(..., T, d)``: ``(1 - t) z0 + t z1``."""
    t = t.to(z0.dtype)[:, None]                                            # (T, 1)
    return (1 - t) * z0[..., None, :] + t * z1[..., None, :]


def slerp(z0: Tensor, z1: Tensor, t: Tensor, eps: float = 1e-6) -> Tensor:
    """``z0, z1 (..., d)``, ``t (T,)`` -> ``(..., T, d)`` along the great circle (module docstring).

    Where ``sin(theta) < eps`` (parallel or antiparallel latents) the circle is undefined or
    numerically unstable and the path falls back to :func:`lerp`.
    """
    cos = (z0 * z1).sum(-1) / (z0.norm(dim=-1) * z1.norm(dim=-1))         # (...,)
    theta = torch.arccos(cos.clamp(-1.0, 1.0))[..., None, None]           # (..., 1, 1)
    sin = torch.sin(theta)
    t = t.to(z0.dtype)[:, None]                                            # (T, 1)
    safe = sin.clamp(min=eps)
    w0, w1 = torch.sin((1 - t) * theta) / safe, torch.sin(t * theta) / safe  # (..., T, 1)
    path = w0 * z0[..., None, :] + w1 * z1[..., None, :]
    return torch.where(sin < eps, lerp(z0, z1, t[:, 0]), path)


def latent_arithmetic(za: Tensor, zb: Tensor, zc: Tensor) -> Tensor:
    """``mean(z_A) - mean(z_B) + mean(z_C)`` of ``(n_A, d)``, ``(n_B, d)``, ``(n_C, d)`` -> ``(d,)``."""
    return za.mean(0) - zb.mean(0) + zc.mean(0)


# --------------------------------------------------------------------------- the model side

def _check(model: Any) -> None:
    if not all(hasattr(model, a) for a in ("sampler", "prior", "num_classes", "device")):
        raise ConfigError("latent interpolation/arithmetic needs a GAN run (a generator fed by a prior)")


def seeded_latents(model: Any, indices: Sequence[int] | Tensor, seed: int = 0) -> Tensor:
    """The numbered latents ``z_i`` of ``seed`` (module docstring): ``(len(indices), d)`` on the CPU."""
    _check(model)
    rows = []
    for i in [int(i) for i in indices]:
        if i < 0:
            raise ConfigError(f"latent index must be >= 0, got {i}")
        gen = torch.Generator().manual_seed(_SEED_STRIDE * seed + i)
        rows.append(model.prior.sample(1, generator=gen).cpu())
    return torch.cat(rows) if rows else torch.empty(0, model.prior.dim)


def labels_for(model: Any, n: int, label: int | None) -> Tensor | None:
    """``(n,)`` labels filled with ``label`` for a conditional model (None for an unconditional one)."""
    k = int(model.num_classes)
    if not k:
        if label is not None:
            raise ConfigError("a class needs a conditional run (conditional=true)")
        return None
    label = 0 if label is None else label
    if not 0 <= label < k:
        raise ConfigError(f"class must be in 0..{k - 1}, got {label}")
    return torch.full((n,), label, dtype=torch.long)


@torch.no_grad()
def render(model: Any, z: Tensor, labels: Tensor | None = None, batch: int = 1024) -> Tensor:
    """``G(z, y)`` for ``z (n, d)`` in eval mode (batch norm uses its running statistics, so
    each image depends on its own latent only): ``(n, C, H, W)`` float32 on the CPU."""
    _check(model)
    G: nn.Module = model.sampler()
    was_training = G.training
    G.eval()
    try:
        out = [G(z[i:i + batch].to(model.device),
                 None if labels is None else labels[i:i + batch].to(model.device)).float().cpu()
               for i in range(0, z.shape[0], batch)]
    finally:
        G.train(was_training)
    return torch.cat(out)


# --------------------------------------------------------------------------- interpolation

@dataclasses.dataclass
class Interpolation:
    """``latents (P, T, d)``, ``images (P, T, C, H, W)``, ``labels (P,)`` or None."""

    latents: Tensor
    images: Tensor
    labels: Tensor | None
    path: Path | None = None


def interpolate(model: Any, *, pairs: int = 4, steps: int = 8, seed: int = 0, spherical: bool = False,
                label: int | None = None, out: str | Path | None = None, labelled: bool = False) -> Interpolation:
    """``pairs`` rows of ``steps`` images from ``z_{2p}`` to ``z_{2p+1}`` (numbered latents of
    ``seed``), with ``t = 0, 1/(T-1), ..., 1``; the first and last column are exactly
    ``G(z_{2p})`` and ``G(z_{2p+1})``. Conditional models: every row uses class ``label``, or
    row ``p`` class ``p mod K`` when ``label`` is None. Writes a PNG grid to ``out`` if given."""
    if pairs < 1 or steps < 2:
        raise ConfigError(f"need pairs >= 1 and steps >= 2, got pairs={pairs}, steps={steps}")
    z = seeded_latents(model, range(2 * pairs), seed)                      # (2P, d)
    z0, z1 = z[0::2], z[1::2]                                              # (P, d) each
    t = torch.linspace(0.0, 1.0, steps)
    path = (slerp if spherical else lerp)(z0, z1, t)                       # (P, T, d)
    # t = 0 and 1 must give the endpoints bit for bit, whatever the rounding of the weights
    path[:, 0], path[:, -1] = z0, z1
    if model.num_classes and label is None:
        row_labels: Tensor | None = torch.arange(pairs) % int(model.num_classes)
    else:
        row_labels = labels_for(model, pairs, label)
    flat_labels = None if row_labels is None else row_labels.repeat_interleave(steps)
    imgs = render(model, path.reshape(pairs * steps, -1), flat_labels)     # (P*T, C, H, W)
    rows, cols = interpolation_labels(model, pairs, t, row_labels) if labelled else (None, None)
    written = (save_image_grid(imgs, out, nrow=steps, row_labels=rows, col_labels=cols)
               if out is not None else None)
    return Interpolation(path, imgs.view(pairs, steps, *imgs.shape[1:]), row_labels, written)


def interpolation_labels(model: Any, pairs: int, t: Tensor, row_labels: Tensor | None
                         ) -> tuple[list[str], list[str]]:
    """Row ``p``: ``z_{2p} → z_{2p+1}`` (and its class); column ``i``: ``t = t_i``."""
    names = list(model.data.class_names or [])
    rows = []
    for p in range(pairs):
        text = f"z{2 * p} → z{2 * p + 1}"
        if row_labels is not None:
            c = int(row_labels[p])
            text += f", {names[c] if c < len(names) else c}"
        rows.append(text)
    return rows, [f"t={float(v):.2g}" for v in t]


# --------------------------------------------------------------------------- arithmetic

def candidates(model: Any, n: int = 64, *, seed: int = 0, label: int | None = None,
               out: str | Path | None = None, ncol: int = 8) -> tuple[Tensor, Tensor]:
    """The numbered latents ``z_0 .. z_{n-1}`` of ``seed`` and their images ``(n, C, H, W)``;
    writes a grid with each cell's index printed above it to ``out`` if given."""
    if n < 1:
        raise ConfigError(f"need at least one candidate, got n={n}")
    z = seeded_latents(model, range(n), seed)
    imgs = render(model, z, labels_for(model, n, label))
    if out is not None:
        save_numbered_grid(imgs, out, ncol=ncol)
    return z, imgs


@dataclasses.dataclass
class Arithmetic:
    """Result of ``mean(z_A) - mean(z_B) + mean(z_C)``.

    ``z (d,)`` the result latent; ``means (3, d)`` the three concept means; ``variations
    (V, d)`` ``z`` plus uniform noise; ``images (4, ncol, C, H, W)``: rows A, B, C (exemplars,
    then ``G(mean)`` in the last column; unused cells are blank) and the result row
    (``G(z)``, then the variations).
    """

    z: Tensor
    means: Tensor
    variations: Tensor
    images: Tensor
    path: Path | None = None


def arithmetic(model: Any, a: Sequence[int], b: Sequence[int], c: Sequence[int], *, seed: int = 0,
               label: int | None = None, noise: float = 0.25, variations: int = 3,
               out: str | Path | None = None, labelled: bool = False) -> Arithmetic:
    """Latent vector arithmetic over numbered latents of ``seed`` (indices from :func:`candidates`):
    ``z = mean(z_a) - mean(z_b) + mean(z_c)`` (three indices per concept, as in Radford et al.).
    Variations are ``z + u``, ``u ~ U[-noise, noise]^d`` drawn from ``seed``. With ``labelled``
    the PNG names each row: ``A: 3,7,12 | mean``, ..., ``A − B + C | variations``."""
    for name, idx in (("a", a), ("b", b), ("c", c)):
        if len(idx) == 0:
            raise ConfigError(f"concept {name} needs at least one latent index (three in Radford et al. 2016)")
    za, zb, zc = (seeded_latents(model, idx, seed) for idx in (a, b, c))
    z = latent_arithmetic(za, zb, zc)                                      # (d,)
    means = torch.stack([za.mean(0), zb.mean(0), zc.mean(0)])              # (3, d)
    gen = torch.Generator().manual_seed(_SEED_STRIDE * seed + 999_983)
    var = z + noise * (2 * torch.rand(variations, z.shape[0], generator=gen) - 1)  # (V, d)
    width = max(len(a) + 1, len(b) + 1, len(c) + 1, 1 + variations)    # columns of the grid
    lat = torch.cat([za, zb, zc, means, z[None], var])
    imgs = render(model, lat, labels_for(model, lat.shape[0], label))
    na, nb, nc = len(a), len(b), len(c)
    blank = torch.ones_like(imgs[0])                                       # white cell
    rows, start = [], 0
    for k, count in enumerate((na, nb, nc)):
        ex = list(imgs[start:start + count])
        start += count
        mean_img = imgs[na + nb + nc + k]
        rows.append(ex + [blank] * (width - 1 - count) + [mean_img])
    result = list(imgs[na + nb + nc + 3:])
    rows.append(result + [blank] * (width - len(result)))
    grid = torch.stack([torch.stack(r) for r in rows])                     # (4, W, C, H, W)
    # a small grid: cells of at least 64 px so the concepts can be told apart
    scale = max(1, 64 // imgs.shape[-1])
    rows_text = ([f"{n}: {','.join(str(i) for i in idx)} | mean" for n, idx in (("A", a), ("B", b), ("C", c))]
                 + ["A − B + C | variations"]) if labelled else None
    written = (save_image_grid(grid.flatten(0, 1), out, nrow=width, scale=scale, row_labels=rows_text)
               if out is not None else None)
    return Arithmetic(z, means, var, grid, written)


# --------------------------------------------------------------------------- drawing

def save_numbered_grid(images: Tensor, path: str | Path, ncol: int = 8, min_cell: int = 48) -> Path:
    """A grid of ``images (N, C, H, W)`` in [-1, 1], upscaled (nearest) to at least ``min_cell``
    pixels per cell, with each cell's index ``0..N-1`` (row-major) printed above it."""
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    scale = max(1, -(-min_cell // max(h, w)))
    font = ImageFont.load_default()
    label_h, pad = 12, 4
    cw, ch = w * scale, h * scale
    rows = -(-n // ncol)
    canvas = Image.new("RGB", (pad + ncol * (cw + pad), pad + rows * (label_h + ch + pad)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        arr = image_grid(images[i:i + 1], 1, 0)                            # (H, W, C) uint8
        cell = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).convert("RGB")
        r, c = divmod(i, ncol)
        x, y = pad + c * (cw + pad), pad + r * (label_h + ch + pad)
        draw.text((x, y), str(i), fill=(0, 0, 0), font=font)
        canvas.paste(cell.resize((cw, ch), Image.NEAREST), (x, y + label_h))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
