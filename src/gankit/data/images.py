"""Image data sets: ``digits``, ``mnist``, ``fashion-mnist``, ``folder``, ``npz`` and
``stacked`` (three images of one of the first three as the channels of one).

Every loader returns a :class:`TensorSource` with ``x`` float32 ``(N, C, H, W)`` in
``[-1, 1]`` (the range of a tanh generator) and ``y`` long ``(N,)`` or None. Integer pixels
map linearly with ``0 -> -1`` and the maximum (255, or 16 for digits) ``-> 1``.

Changing the size (``size`` option) follows ``fit``:

* ``pad``: centre the image on a canvas of background ``-1`` (28 -> 32 for DCGAN, the
  usual MNIST convention); the extra pixel of an odd gap goes to the bottom/right;
* ``resize``: ``torch.nn.functional.interpolate(mode="bilinear", antialias=True,
  align_corners=False)``, clamped back to ``[-1, 1]``;
* ``auto``: pad when the image grows by at most 4 pixels, resize otherwise.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.base import DATASETS, TensorSource
from gankit.data.decode import open_image
from gankit.data.fetch import locate
from gankit.data.idx import read_images_and_labels
from gankit.errors import DataError
from gankit.registry import Bounds, Seed

Fit = Literal["auto", "pad", "resize"]
# Side of the images a data set may be padded or resized to (0: keep the stored size). Larger
# images are beyond what gankit's networks and CPU training are meant for, and a typo such as
# size=32000 would otherwise allocate N x 32000^2 floats before the first step.
MAX_SIZE = 1024
ImageSize = Annotated[int, Bounds(ge=0, le=MAX_SIZE)]
# Pixels of one image file, read from its header before anything is decoded: a PNG of a few
# hundred bytes can claim gigapixels. Below Pillow's own limit (89.5 M, where it only warns).
MAX_STACKED = 1_000_000  # stacked images held in memory (3 x 28 x 28 float32 each: 9.4 GB at the bound)

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def to_unit_range(x: np.ndarray, vmax: float) -> Tensor:
    """Integer pixels in ``[0, vmax]`` -> float32 tensor in ``[-1, 1]``: ``2 x / vmax - 1``."""
    x = np.ascontiguousarray(x)
    t = torch.from_numpy(x if x.flags.writeable else x.copy())  # frombuffer arrays are read-only
    return t.to(torch.float32).mul_(2.0 / vmax).sub_(1.0)


def fit_size(x: Tensor, size: int, fit: Fit = "auto") -> Tensor:
    """``(N, C, H, W) -> (N, C, size, size)`` by padding with -1 or resizing (module docstring)."""
    _, _, h, w = x.shape
    if size <= 0 or (h == size and w == size):
        return x
    if fit == "auto":
        fit = "pad" if h <= size <= h + 4 and w <= size <= w + 4 else "resize"
    if fit == "pad":
        if h > size or w > size:
            raise DataError(f"cannot pad {h}x{w} images down to size {size}; use fit=resize")
        top, left = (size - h) // 2, (size - w) // 2
        return F.pad(x, (left, size - w - left, top, size - h - top), value=-1.0)
    chunks = [F.interpolate(c, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
              for c in x.split(4096)]  # chunked: bounds the temporary memory of large sets
    return torch.cat(chunks).clamp_(-1.0, 1.0)


def _labels(y: np.ndarray | None) -> Tensor | None:
    return None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64))


# --------------------------------------------------------------------------- digits

def digits_split(n: int, split: str) -> np.ndarray:
    """Indices of a split of scikit-learn's digits: every 5th example (index % 5 == 4) is
    ``test`` (359 of 1797), the rest ``train`` (1438); fixed, no random state involved."""
    idx = np.arange(n)
    if split == "all":
        return idx
    test = idx % 5 == 4
    return idx[test] if split == "test" else idx[~test]


@DATASETS.register("digits", paper="Alpaydin & Kaynak 1998 (UCI optdigits), via scikit-learn")
def digits(*, size: ImageSize = 8, split: Literal["train", "test", "all"] = "train", fit: Fit = "auto") -> TensorSource:
    """scikit-learn's 8x8 handwritten digits (values 0..16), 10 classes; no download needed."""
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = digits_split(len(d.target), split)
    x = to_unit_range(d.images[idx][:, None], 16.0)                     # (N, 1, 8, 8)
    x = fit_size(x, size, fit)                                           # (N, 1, size, size)
    return TensorSource(x, _labels(d.target[idx]), name="digits", num_classes=10,
                        class_names=[str(i) for i in range(10)])


# --------------------------------------------------------------------------- MNIST-like IDX sets

def idx_dataset(name: str, path: str | None, size: int, split: str, fit: Fit,
                class_names: list[str]) -> TensorSource:
    """An MNIST-format data set found by :func:`gankit.data.fetch.locate`."""
    images, labels = locate(name, split, path)
    raw_x, raw_y = read_images_and_labels(images, labels)
    x = fit_size(to_unit_range(raw_x[:, None], 255.0), size, fit)      # (N, 1, size, size)
    y = _labels(raw_y)
    if y is not None and int(y.max()) >= len(class_names):
        raise DataError(f"{labels}: label {int(y.max())} out of range for {len(class_names)} classes")
    return TensorSource(x, y, name=name, num_classes=len(class_names) if y is not None else 0,
                        class_names=class_names if y is not None else None)


@DATASETS.register("mnist", paper="LeCun et al. 1998")
def mnist(*, path: str | None = None, size: ImageSize = 28, split: Literal["train", "test"] = "train",
          fit: Fit = "auto") -> TensorSource:
    """MNIST handwritten digits from the official IDX files (60k train / 10k test, 28x28)."""
    return idx_dataset("mnist", path, size, split, fit, [str(i) for i in range(10)])


@DATASETS.register("fashion-mnist", paper="Xiao, Rasul & Vollgraf 2017")
def fashion_mnist(*, path: str | None = None, size: ImageSize = 28, split: Literal["train", "test"] = "train",
                  fit: Fit = "auto") -> TensorSource:
    """Zalando's Fashion-MNIST from the official IDX files (60k train / 10k test, 28x28)."""
    return idx_dataset("fashion-mnist", path, size, split, fit, FASHION_CLASSES)


# --------------------------------------------------------------------------- Stacked MNIST

class StackedSource(TensorSource):
    """A :class:`TensorSource` of stacked images that keeps its base data set: ``base`` (the
    one-channel source) and ``base_spec`` (its registry name and options), from which the
    ``stacked_modes`` metric trains, or loads, the classifier for one channel."""

    def __init__(self, x: Tensor, y: Tensor, *, name: str, num_classes: int, class_names: list[str],
                 base: TensorSource, base_spec: tuple[str, dict[str, object]]) -> None:
        super().__init__(x, y, name=name, num_classes=num_classes, class_names=class_names)
        self.base, self.base_spec = base, base_spec


@DATASETS.register("stacked", paper="Metz et al. 2017; Srivastava et al. 2017 (VEEGAN); Lin et al. 2018 (PacGAN)")
def stacked(*, base: Literal["mnist", "mnist5k", "fashion-mnist", "digits"] = "mnist", path: str | None = None,
            size: ImageSize = 0, split: Literal["train", "test"] = "train", fit: Fit = "auto",
            num: Annotated[int, Bounds(le=MAX_STACKED)] = 0, seed: Seed = 0) -> TensorSource:
    """Stacked MNIST: three random images of ``base`` as the channels of one, 1000 modes.

    ``num`` images (0: as many as the base set has); the label of channels of classes
    ``a, b, c`` is ``(a K + b) K + c`` (``100 a + 10 b + c`` for K = 10 classes). The channel
    images are drawn independently and uniformly (with replacement, from a generator seeded
    by ``seed``), so every one of the ``K**3`` modes has probability ``K**-3`` up to the base
    set's class frequencies. ``size`` 0 keeps the base set's size."""
    if num < 0:
        raise DataError(f"stacked: num must be >= 0, got {num}")
    options: dict[str, object] = {"split": split, "fit": fit}
    if size:
        options["size"] = size
    if base not in ("digits", "mnist5k"):     # the two that are read from an installed package
        options["path"] = path
    src = DATASETS.build(base, options)
    if src.y is None or src.x.shape[1] != 1:
        raise DataError(f"stacked: the base set {base!r} needs labels and one channel")
    k, n = src.num_classes, num or src.x.shape[0]
    idx = torch.randint(src.x.shape[0], (n, 3), generator=torch.Generator().manual_seed(seed))   # (n, 3)
    x = src.x[idx, 0]                                                    # (n, 3, H, W): channel j = image idx[:, j]
    ya, yb, yc = src.y[idx].unbind(1)
    names = src.class_names
    return StackedSource(x, (ya * k + yb) * k + yc, name=f"stacked-{base}", num_classes=k ** 3,
                         class_names=[f"{a} | {b} | {c}" for a in names for b in names for c in names],
                         base=src, base_spec=(base, options))


# --------------------------------------------------------------------------- folder of images

def load_image(path: Path, size: int, channels: int) -> np.ndarray:
    """Pillow: convert to L/RGB, resize the shorter side to ``size`` (bicubic), centre-crop.
    Returns uint8 ``(size, size, channels)``; raises ``OSError``/``ValueError`` (or another of
    Pillow's errors) if unreadable and :class:`DataError` for an image over Pillow's pixel limit
    (``Image.MAX_IMAGE_PIXELS``): a few hundred bytes of PNG can claim gigapixels."""
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow only warns between the limit and twice it; either way the file is refused.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _load_image(path, size, channels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise DataError(f"image {path} is too large to load (a decompression bomb?): {e}") from None


def _load_image(path: Path, size: int, channels: int) -> np.ndarray:
    from PIL import Image

    with open_image(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        w, h = im.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if (nw, nh) != (w, h):
            im = im.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
        arr = np.asarray(im, dtype=np.uint8)
    return arr.reshape(size, size, channels)


@DATASETS.register("folder", paper="")
def folder(*, path: str, size: Annotated[int, Bounds(ge=1, le=MAX_SIZE)] = 32, channels: Literal[1, 3] = 3,
           crop: Literal["crop", "pad"] = "crop", flip: bool = False, workers: Annotated[int, Bounds(ge=0, le=64)] = 0
           ) -> TensorSource:
    """A folder or .zip of images (anything Pillow reads), optionally one subfolder per class;
    decoded once by ``workers`` processes (0: one a core) into a uint8 archive in the cache and
    read a batch at a time (:mod:`gankit.data.archive`); ``crop``/``pad`` non-square images;
    ``flip``: random left-right mirroring."""
    from gankit.data.archive import folder_source

    return folder_source(path, size=size, channels=channels, crop=crop, flip=flip, workers=workers)


# --------------------------------------------------------------------------- .npz arrays

def _to_nchw(a: np.ndarray, layout: str, where: str) -> np.ndarray:
    if a.ndim == 3:
        return a[:, None]
    if a.ndim != 4:
        raise DataError(f"{where}: images must be (N,H,W), (N,H,W,C) or (N,C,H,W), got shape {a.shape}")
    if layout == "auto":
        layout = "nhwc" if a.shape[-1] in (1, 3, 4) else "nchw" if a.shape[1] in (1, 3, 4) else ""
        if not layout:
            raise DataError(f"{where}: cannot tell the channel axis of shape {a.shape}; set layout=nchw or nhwc")
    return a.transpose(0, 3, 1, 2) if layout == "nhwc" else a


def _npz_unit_range(a: np.ndarray, where: str) -> Tensor:
    """uint8 / integers in 0..255 -> ``2 x / 255 - 1``; floats in [0, 1] -> ``2 x - 1``;
    floats already in [-1, 1] (some value < 0) -> unchanged. Anything else -> DataError."""
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_):
        raise DataError(f"{where}: images must be numbers (integers in 0..255, floats in [0, 1] or [-1, 1]), "
                        f"got dtype {a.dtype}")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        if lo < 0 or hi > 255:
            raise DataError(f"{where}: integer images must lie in 0..255, found {lo:g}..{hi:g}")
        return to_unit_range(a, 255.0)
    if not np.isfinite(a).all() or lo < -1 or hi > 1:
        raise DataError(f"{where}: float images must lie in [0, 1] or [-1, 1], found [{lo:g}, {hi:g}]")
    x = torch.from_numpy(np.asarray(a, dtype=np.float32))
    return x if lo < 0 else x.mul_(2.0).sub_(1.0)


@DATASETS.register("npz", paper="")
def npz(*, path: str, key: str = "x", labels: str = "y", size: ImageSize = 0,
        layout: Literal["auto", "nchw", "nhwc"] = "auto") -> TensorSource:
    """Images (and optional labels) from a ``.npz`` file (``numpy.savez``).

    ``labels`` names the label array; when the default ``"y"`` is absent the set is
    unlabelled, an explicitly named missing key (or ``labels=""`` to ignore) is honoured.
    ``size`` > 0 pads/resizes as in the module docstring; 0 keeps the stored size.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"npz file {p} does not exist")
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{p} is not a readable .npz file ({e})") from None
    found = ", ".join(arrays) or "none"
    if key not in arrays:
        raise DataError(f"{p}: no array {key!r} (arrays found: {found}); set data.key")
    if labels and labels not in arrays and labels != "y":
        raise DataError(f"{p}: no label array {labels!r} (arrays found: {found}); set data.labels")
    x = _npz_unit_range(_to_nchw(arrays[key], layout, str(p)), str(p))  # (N, C, H, W)
    y = None
    if labels and labels in arrays:
        raw = arrays[labels]
        if raw.shape != (x.shape[0],) or not np.issubdtype(raw.dtype, np.integer) or (raw.size and raw.min() < 0):
            raise DataError(f"{p}: labels {labels!r} must be {x.shape[0]} non-negative integers, "
                            f"got {raw.dtype} of shape {raw.shape}")
        y = _labels(raw)
    k = int(y.max()) + 1 if y is not None and len(y) else 0
    return TensorSource(fit_size(x, size, "auto"), y, name=f"npz:{p}", num_classes=k)
