"""Opening an image file safely: Pillow reads the header first, and an image of more pixels
than :data:`MAX_PIXELS` is refused before any pixel is decoded (a decompression bomb)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gankit.errors import DataError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

MAX_PIXELS = 8192 * 8192


@contextlib.contextmanager
def open_image(path: Path) -> Iterator[PILImage]:
    """``PIL.Image.open(path)``, which reads only the header, refusing an image of more than
    :data:`MAX_PIXELS` pixels with a :class:`DataError` before any pixel is decoded."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS, below it, decides
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as e:  # over twice Pillow's limit: refused in open()
            raise DataError(f"image {path} is too large to load (a decompression bomb?): {e}") from None
    with im:
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise DataError(f"image {path} is too large to load: {w} x {h} = {w * h:,} pixels, over gankit's "
                            f"limit of {MAX_PIXELS:,} (8192 x 8192); shrink it or leave it out")
        yield im
