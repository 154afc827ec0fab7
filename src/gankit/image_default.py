"""The image default: what ``gankit train --set data=IMAGES`` trains when nothing else is set.

The default preset is a recipe for point data. When a GAN run names an image data set and no
preset, the layer below the user's is this one instead, derived from the data:

* the recipe: DCGAN (width 32, the non-saturating loss, Adam 5e-4 with betas (0.5, 0.999)),
  the settings of the ``dcgan-digits`` preset, the image recipe measured best here. R3GAN's
  objective (RpGAN + R1 + R2 with beta1 = 0) on the same networks and steps reached FID 74-88
  against DCGAN's 27 on digits, and 750 of 1000 Stacked Fashion-MNIST modes against 943
  (docs/modern-images.md): it stays an option (``--set loss=rpgan --set penalty=r1r2``), not the
  default, until a setting of it is measured to win on this machine's budgets;
* the size: the data's own side when it is a power of two from 8 to 64, padded to the next
  power of two when that adds at most 4 pixels (28 -> 32), else resized to the nearest power of
  two in 8..64 (the cost of a step grows with the pixels: 64x64 is four times 32x32);
* augmentation: ADA's adaptive probability (Karras et al. 2020) below 30,000 images, starting at
  p = 0 and raised only while D overfits; none above. DiffAugment on every image (p = 1) made
  digits worse (FID 49.9 against 27.4), ADA left them about as they were (29.7);
* the length: 3,000 steps of 64 images (1,500 at 64x64).

The choice was made on scikit-learn's digits (seed 0; docs/modern-images.md). One line says
what was chosen (:func:`describe`); every value is an ordinary config layer (``image default``
in ``--dry-run``), overridden by a preset, a file or ``--set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gankit.errors import GankitError

MEDIUM = 30_000


_FACTS: dict[str, tuple[str, int, int, int] | None] = {}


def data_facts(data: Mapping[str, Any]) -> tuple[str, int, int, int] | None:
    """``(kind, images, side, channels)`` of the data a raw ``data`` section names, or None when
    it cannot be told without reading it all (the caller then keeps the default preset).
    A folder is counted and one image header read; other data sets are built. Remembered per
    section for the process: resolving a config and saying what it chose ask more than once."""
    import json

    key = json.dumps(dict(data), sort_keys=True, default=str)
    if key not in _FACTS:
        _FACTS[key] = _data_facts(data)
    return _FACTS[key]


def _data_facts(data: Mapping[str, Any]) -> tuple[str, int, int, int] | None:
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
        "model": "gan", "conditional": False, "latent_dim": 32, "prior": "normal",
        "generator": {"name": "dcgan", "width": 32}, "discriminator": {"name": "dcgan", "width": 32},
        "loss": "ns", "penalty": "none",
        "optim_g": {"name": "adam", "lr": 5e-4, "betas": [0.5, 0.999]},
        "optim_d": {"name": "adam", "lr": 5e-4, "betas": [0.5, 0.999]},
        "train": {"steps": steps, "batch_size": 64, "d_steps": 1, "lr_decay": "none", "ema": 0.0,
                  "standardize": False, "sample_every": steps // 4},
        "mitigations": {},
    }
    if size != side:
        out["data"] = {"size": size}
    if n < MEDIUM:
        out["mitigations"] = {"augment": {"p": 0.0, "adaptive": True, "ada_kimg": 100.0}}
    return out


def describe(facts: tuple[str, int, int, int], chosen: Mapping[str, Any]) -> str:
    """One line: what the image default chose for this data and why."""
    _, n, side, _ = facts
    size = chosen.get("data", {}).get("size", side)
    how = "ADA (adaptive augmentation)" if chosen.get("mitigations", {}).get("augment") else "no augmentation"
    return (f"image default: {n:,} images of side {side} -> {size}x{size}, DCGAN width 32 (non-saturating loss), "
            f"{how} (for {'< 30,000' if n < MEDIUM else '>= 30,000'} images), "
            f"{chosen['train']['steps']:,} steps of 64; --preset or --set changes any of it")
