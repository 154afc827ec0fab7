"""Image grids as PNG, without torchvision; optionally with a label beside each row and
above each column (class names, "input | output | target", interpolation steps), drawn into
the PNG so the picture explains itself wherever it is shown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from gankit.capabilities import DrawsSampleGrid

LABEL_FONT_PX = 12   # the labels' size: as large as the report's own small print
MAX_LABEL_CHARS = 24  # a longer class name is cut (with an ellipsis) so the margin stays narrow


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """``images (N, C, H, W)`` in [-1, 1] -> uint8 array ``(H', W', C)`` (C = 1 or 3)."""
    x = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte().cpu()
    n, c, h, w = x.shape
    ncol = nrow
    nrows = math.ceil(n / ncol)
    grid = torch.full((c, nrows * (h + pad) + pad, ncol * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    return grid.permute(1, 2, 0).numpy()


def _short(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL_CHARS else text[:MAX_LABEL_CHARS - 1] + "…"


def label_margins(row_labels: Sequence[str] | None, col_labels: Sequence[str] | None,
                  font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> tuple[int, int]:
    """The ``(left, top)`` margins in pixels that the row and column labels need."""
    left = 0 if not row_labels else 8 + max(int(font.getlength(_short(t))) for t in row_labels)
    top = 0 if not col_labels else LABEL_FONT_PX + 8
    return left, top


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, pad: int = 2, scale: int = 0, *,
                    row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None) -> Path:
    """Write a grid PNG; small images are upscaled (nearest) to at least ~32 px per cell.
    ``row_labels`` (one per grid row) are written left of the rows, ``col_labels`` (one per
    column) above the columns, each centred on its row or column."""
    arr = image_grid(images, nrow, pad)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    h = images.shape[-1]
    scale = scale or max(1, 32 // h)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    if row_labels or col_labels:
        img = _with_labels(img, images.shape[-2] * scale, images.shape[-1] * scale, pad * scale,
                           row_labels, col_labels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def _with_labels(grid: Image.Image, cell_h: int, cell_w: int, pad: int, row_labels: Sequence[str] | None,
                 col_labels: Sequence[str] | None) -> Image.Image:
    """``grid`` on a white canvas with room for the labels on the left and at the top."""
    font = ImageFont.load_default(size=LABEL_FONT_PX)
    left, top = label_margins(row_labels, col_labels, font)
    mode = "RGB" if grid.mode == "RGB" else "L"
    canvas = Image.new(mode, (grid.width + left, grid.height + top), "white")
    canvas.paste(grid, (left, top))
    draw = ImageDraw.Draw(canvas)
    ink = (0, 0, 0) if mode == "RGB" else 0
    for r, text in enumerate(row_labels or ()):
        y = top + pad + r * (cell_h + pad) + cell_h / 2
        draw.text((left - 4, y), _short(text), fill=ink, font=font, anchor="rm")
    for c, text in enumerate(col_labels or ()):
        x = left + pad + c * (cell_w + pad) + cell_w / 2
        draw.text((x, top - 3), _short(text), fill=ink, font=font, anchor="md")
    return canvas


def run_grid_labels(run: Any, n: int, nrow: int) -> tuple[list[str] | None, list[str] | None]:
    """The labels of a run's own sample grid of ``n`` images in rows of ``nrow``: a translator's
    columns (pix2pix: input | output | target; CycleGAN: input | translated | back, with rows
    A -> B -> A, then B -> A -> B), InfoGAN's rows (one categorical code value each)."""
    recipe = run.recipe
    return recipe.sample_grid_labels(n, nrow) if isinstance(recipe, DrawsSampleGrid) else (None, None)


def save_run_grid(run: Any, path: Path, per_class: int = 10) -> None:
    """The run's samples as a labelled grid: the recipe's own picture (:class:`DrawsSampleGrid`),
    a row per class named by the data set, or 64 samples."""
    recipe = run.recipe
    if isinstance(recipe, DrawsSampleGrid):  # a recipe's own picture of its samples (translation: input | output | target)
        imgs, nrow = recipe.sample_grid(32, seed=run.cfg.eval.seed)
        rows, cols = run_grid_labels(run, imgs.shape[0], nrow)
        save_image_grid(imgs, path, nrow=nrow, row_labels=rows, col_labels=cols)
    elif recipe.num_classes:
        k = recipe.num_classes
        labels = torch.arange(k).repeat_interleave(per_class)
        imgs = recipe.generate(k * per_class, labels, seed=run.cfg.eval.seed)
        names = list(run.data.class_names)
        save_image_grid(imgs, path, nrow=per_class,
                        row_labels=[names[c] if c < len(names) else str(c) for c in range(k)])
    else:
        save_image_grid(recipe.generate(64, seed=run.cfg.eval.seed), path, nrow=8)
