"""Reader for the IDX format of the MNIST / Fashion-MNIST files (LeCun et al. 1998).

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
int32 dimensions, then the values in row-major order, big-endian. The official files are
gzipped; we detect gzip by its two magic bytes, not by the file name, so a renamed file
still reads. MNIST images have magic 2051 (uint8, 3 dims), labels 2049 (uint8, 1 dim).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from gankit.errors import DataError

IMAGES_MAGIC = 0x0803  # 2051: uint8, (N, rows, cols)
LABELS_MAGIC = 0x0801  # 2049: uint8, (N,)

# IDX type byte -> numpy dtype (big-endian where it matters).
_TYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """The file's content, gunzipped if it starts with the gzip magic bytes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        z = zlib.decompressobj(wbits=31)  # 31: gzip container; faster than the gzip module
        out = z.decompress(raw)
        if not z.eof:
            raise EOFError("stream ends early")
        return out if not z.unused_data else gzip.decompress(raw)  # multi-member gzip: rare
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is a corrupt or truncated gzip file ({e})") from None


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Parse an IDX file (gzipped or not) into a read-only array of shape ``dims``.

    ``magic`` (e.g. :data:`IMAGES_MAGIC`) is checked when given. A wrong magic number, a
    file shorter or longer than its header announces -> :class:`DataError` naming the file.
    """
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise DataError(f"{path}: IDX magic number {found}, expected {magic}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated (header of {header} bytes, file has {len(data)})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(f"{path} is {what}: dims {dims} need {expected} bytes, file has {len(data)}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_images_and_labels(images: Path, labels: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(N, H, W)`` uint8 images and ``(N,)`` uint8 labels, their counts checked against each other."""
    x = read_idx(images, IMAGES_MAGIC)
    if labels is None:
        return x, None
    y = read_idx(labels, LABELS_MAGIC)
    if y.shape[0] != x.shape[0]:
        raise DataError(f"{labels} holds {y.shape[0]} labels but {images} holds {x.shape[0]} images")
    return x, y
