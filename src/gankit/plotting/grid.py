"""Image grids as PNG, without torchvision."""

from __future__ import annotations

import math
from typing import Any
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.capabilities import DrawsSampleGrid


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


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, pad: int = 2, scale: int = 0) -> Path:
    """Write a grid PNG; small images are upscaled (nearest) to at least ~32 px per cell."""
    arr = image_grid(images, nrow, pad)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    h = images.shape[-1]
    scale = scale or max(1, 32 // h)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def save_run_grid(run: Any, path: Path, per_class: int = 10) -> None:
    recipe = run.recipe
    if isinstance(recipe, DrawsSampleGrid):  # a recipe's own picture of its samples (translation: input | output | target)
        imgs, nrow = recipe.sample_grid(32, seed=run.cfg.eval.seed)
        save_image_grid(imgs, path, nrow=nrow)
    elif recipe.num_classes:
        k = recipe.num_classes
        labels = torch.arange(k).repeat_interleave(per_class)
        imgs = recipe.generate(k * per_class, labels, seed=run.cfg.eval.seed)
        save_image_grid(imgs, path, nrow=per_class)
    else:
        save_image_grid(recipe.generate(64, seed=run.cfg.eval.seed), path, nrow=8)
