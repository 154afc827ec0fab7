"""The image default: what ``gankit train --set data=IMAGES`` trains when nothing else is set.

The default preset is a recipe for point data. When a GAN run names an image data set and no
preset, the layer below the user's is this one instead, derived from the data:

* the recipe: R3GAN's objective (Huang et al. 2024), RpGAN with R1 + R2 (one gamma, decayed along
  a cosine to a tenth), on DCGAN networks sized for a CPU (width 32; D without batch norm so
  the penalties stay per sample), Adam with beta1 = 0, the learning rate and beta2 on R3GAN's
  cosine schedules, an EMA of G by half-life with StyleGAN2's ramp;
* the size: the data's own side when it is a power of two from 8 to 64, padded to the next
  power of two when that adds at most 4 pixels (28 -> 32), else resized to the nearest power of
  two in 8..64 (the cost of a step grows with the pixels: 64x64 is four times 32x32);
* augmentation from the number of images: DiffAugment (color, translation, cutout) on every
  image below 5,000 images, ADA's adaptive probability from 5,000 to 30,000, none above, the
  regimes in which Zhao et al. 2020 and Karras et al. 2020 report their gains;
* the length: 3,000 steps of 64 images (1,500 at 64x64), about 5 minutes of training at 32x32 on
  two cores.

One line says what was chosen (:func:`describe`); every value is an ordinary config layer
(``image default`` in ``--dry-run``), overridden by a preset, a file or ``--set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gankit.errors import GankitError

SMALL, MEDIUM = 5_000, 30_000


def data_facts(data: Mapping[str, Any]) -> tuple[str, int, int, int] | None:
    """``(kind, images, side, channels)`` of the data a raw ``data`` section names, or None when
    it cannot be told without reading it all (the caller then keeps the default preset).
    A folder is counted and one image header read; other data sets are built."""
    from gankit.data import DATASETS

    name = str(data.get("name", ""))
    options = {k: v for k, v in data.items() if k != "name"}
    if ":" in name:   # folder:DIR, points:FILE: the shorthand's path
        name, options["path"] = name.split(":", 1)
    if name not in DATASETS:
        return None
    if name == "folder":
        return _folder_facts(options)
    try:
        src = DATASETS.build(name, options)
    except GankitError:
        return None           # training reports the problem with its own line
    shape = tuple(getattr(src, "shape", ()))
    if getattr(src, "kind", "points") != "images" or len(shape) != 3:
        return ("points", 0, 0, 0)
    return ("images", len(src), int(min(shape[1:])), int(shape[0]))  # type: ignore[arg-type]


def _folder_facts(options: Mapping[str, Any]) -> tuple[str, int, int, int] | None:
    from pathlib import Path

    from gankit.data.archive import list_images

    root = Path(str(options.get("path", ""))).expanduser()
    try:
        names = list_images(root)[0]
    except (GankitError, OSError):
        return None
    side = 0
    for n in names[:20]:      # the first readable header gives the side
        try:
            from PIL import Image

            with Image.open(root / n) as im:
                side = min(im.size)
                break
        except Exception:  # noqa: BLE001 - Pillow's errors on a bad file: try the next
            continue
    return ("images", len(names), side or 32, int(options.get("channels", 3)))


def choose_size(side: int) -> int:
    """The power of two the image default trains at (module docstring)."""
    up = 1 << max(3, (side - 1).bit_length())
    if 8 <= side <= 64 and side & (side - 1) == 0:
        return side
    if up - side <= 4 and up <= 64:
        return up
    down = up >> 1
    best = up if abs(up - side) < abs(side - down) else down
    return min(64, max(8, best))


def layer(facts: tuple[str, int, int, int]) -> dict[str, Any]:
    """The image default's config layer for ``(kind, images, side, channels)``."""
    _, n, side, _ = facts
    size = choose_size(side)
    steps = 1500 if size >= 64 else 3000
    out: dict[str, Any] = {
        "model": "gan", "conditional": False, "latent_dim": 64, "prior": "normal",
        "generator": {"name": "dcgan", "width": 32},
        "discriminator": {"name": "dcgan", "width": 32, "norm": "none"},
        "loss": "rpgan", "penalty": {"name": "r1r2", "gamma": 0.05},
        "optim_g": {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.9]},
        "optim_d": {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.9]},
        "train": {"steps": steps, "batch_size": 64, "lr_decay": "cosine", "lr_final": 0.25, "beta2_final": 0.99,
                  "penalty_final": 0.1, "ema": 0.0, "ema_half_life": 10_000.0, "ema_rampup": 0.05,
                  "standardize": False, "sample_every": steps // 4},
        "mitigations": {},
    }
    if size != side:
        out["data"] = {"size": size}
    if n < SMALL:
        out["mitigations"] = {"augment": {"p": 1.0}}
    elif n < MEDIUM:
        out["mitigations"] = {"augment": {"p": 0.0, "adaptive": True, "ada_kimg": 100.0}}
    return out


def describe(facts: tuple[str, int, int, int], chosen: Mapping[str, Any]) -> str:
    """One line: what the image default chose for this data and why."""
    _, n, side, _ = facts
    size = chosen.get("data", {}).get("size", side)
    aug = chosen.get("mitigations", {}).get("augment")
    how = ("DiffAugment on every image" if aug and not aug.get("adaptive") else
           "ADA (adaptive augmentation)" if aug else "no augmentation")
    return (f"image default: {n:,} images of side {side} -> {size}x{size}, DCGAN width 32 with RpGAN + R1 + R2, "
            f"{how} (for {'< 5,000' if n < SMALL else '< 30,000' if n < MEDIUM else '>= 30,000'} images), "
            f"{chosen['train']['steps']:,} steps of 64; --preset or --set changes any of it")
