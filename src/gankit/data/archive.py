"""Image sets larger than memory: decoded once into a uint8 archive, read a batch at a time.

A folder (or a ``.zip``) of images is decoded by worker processes, resized and cropped (or
padded) to ``size x size``, and written as one uint8 ``.npy`` array ``(N, C, S, S)`` in the cache
(``$GANKIT_CACHE_DIR``, else ``~/.cache/gankit``), keyed by the files' names, sizes and modification
times and by the options: later runs memory-map it and start at once. Training reads only the
rows of each batch (uint8, a quarter of float32) and converts them to float32 in ``[-1, 1]``,
so a 70,000-image 256x256 folder needs its 14 GB on disk, not 55 GB of memory. A prepared
uint8 ``.npy`` of one's own (``data=archive:FILE.npy``, ``(N, H, W, C)`` or ``(N, C, H, W)``) is
memory-mapped the same way.

Decoding: Pillow; transparency is composited onto black (the ``-1`` background of gankit's
images, as padding uses), palette images are expanded, 16-bit and 32-bit integer images are
scaled by their type's maximum (65535), float images by 1; then grayscale or RGB. Non-square
images: ``crop`` (default) scales the shorter side to ``size`` (bicubic) and keeps the centre;
``pad`` scales the longer side to ``size`` and centres the image on black.

The order is the one :class:`~gankit.data.base.TensorSource` draws (an epoch permutation from
the run's data generator), so a resumed run reads the same batches; ``flip=true`` mirrors each
drawn image left-right with probability 1/2, drawn from the same generator.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from gankit.data.base import DATASETS, TensorSource
from gankit.errors import DataError

Crop = Literal["crop", "pad"]
FORMAT_VERSION = 1
CHUNK = 256                  # files a worker decodes per task: bounds the memory in flight
IN_PROCESS_BELOW = 2000      # smaller sets decode in this process (starting workers costs seconds)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def cache_dir() -> Path:
    """Where prepared archives live: ``$GANKIT_CACHE_DIR`` or ``~/.cache/gankit``."""
    root = os.environ.get("GANKIT_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "gankit"


class Uint8Images:
    """``(N, C, H, W)`` uint8 images (an array or a memory map) that read as float32 in
    ``[-1, 1]`` when indexed: ``x[idx]`` converts only the rows asked for."""

    dtype = torch.float32
    device = torch.device("cpu")
    _version = 0            # never changes in place (read by gankit.metrics.features' memo)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = torch.Size(array.shape)
        # A batch of a memory-mapped archive is read with pread, not through the map: a page
        # fault reads ahead megabytes around each row, and every page touched stays in this
        # process's resident set (the whole archive after an epoch), so RSS measured the file.
        mapped = isinstance(array, np.memmap) and array.filename and array.flags.c_contiguous
        self._file = (str(array.filename), int(array.offset)) if mapped else None

    # What the metrics ask of a data set's ``x`` besides indexing: these keep the images uint8
    # (a fingerprint hashes the uint8 bytes) or read them all as float32 (``to``).
    def detach(self) -> Uint8Images:
        return self

    def cpu(self) -> Uint8Images:
        return self

    def contiguous(self) -> Uint8Images:
        return self

    def numpy(self) -> np.ndarray:
        return np.asarray(self.array)

    def byte_chunks(self, size: int = 1 << 26) -> Iterator[bytes]:
        """The uint8 bytes in C order, about ``size`` at a time, read without the memory map
        (a fingerprint of an archive larger than memory never holds it)."""
        if self._file is None:
            yield np.ascontiguousarray(self.array).tobytes()
            return
        path, offset = self._file
        total = int(np.prod(self.shape))
        with open(path, "rb") as f:
            f.seek(offset)
            done = 0
            while done < total:
                chunk = f.read(min(size, total - done))
                if not chunk:
                    raise DataError(f"image archive {path} is shorter than its header says (truncated?)")
                done += len(chunk)
                yield chunk

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        return self[slice(None)].to(*args, **kwargs)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, idx: Any) -> Tensor:
        if isinstance(idx, Tensor):
            idx = idx.cpu().numpy()
        if self._file is not None and isinstance(idx, np.ndarray) and idx.ndim == 1 and idx.dtype.kind in "iu":
            return _to_unit(self._read_rows(idx))
        rows = self.array[idx]
        if isinstance(rows, np.memmap) or not rows.flags.writeable or not rows.flags.c_contiguous:
            rows = np.array(rows)                                     # a copy of the rows read, in memory
        return _to_unit(rows)

    def _read_rows(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of the archive file, uint8 ``(len(idx), C, H, W)``, one pread each."""
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for {n} images")
        path, offset = self._file  # type: ignore[misc]
        rows = np.empty((idx.size, *self.shape[1:]), dtype=np.uint8)
        row_bytes = rows[0].nbytes if idx.size else 0
        fd = os.open(path, os.O_RDONLY)
        try:
            for k, i in enumerate(np.where(idx < 0, idx + n, idx).tolist()):
                if os.preadv(fd, [memoryview(rows[k]).cast("B")], offset + i * row_bytes) != row_bytes:
                    raise DataError(f"image archive {path} is shorter than its header says (truncated?)")
        finally:
            os.close(fd)
        return rows

    def double(self) -> Tensor:
        return self[slice(None)].double()

    def float(self) -> Tensor:
        return self[slice(None)]

    def reshape(self, *shape: int) -> Tensor:
        return self[slice(None)].reshape(*shape)


def _to_unit(rows: np.ndarray) -> Tensor:
    """uint8 rows -> float32 in ``[-1, 1]`` (``2 x / 255 - 1``)."""
    return torch.from_numpy(rows).to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


class ArchiveSource(TensorSource):
    """A :class:`TensorSource` over :class:`Uint8Images`; ``flip`` mirrors drawn images."""

    def __init__(self, images: np.ndarray, y: Tensor | None, *, name: str, num_classes: int = 0,
                 class_names: list[str] | None = None, flip: bool = False) -> None:
        super().__init__(Uint8Images(images), y, name=name, num_classes=num_classes, kind="images",  # type: ignore[arg-type]
                         class_names=class_names)
        self.flip = flip

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        x, y = super().sample(n, generator)
        if self.flip:
            mirror = torch.rand(n, generator=generator) < 0.5                      # (n,)
            x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
        return x, y


# --------------------------------------------------------------------------- decoding

def _to_array(im: Any, channels: int) -> np.ndarray:
    """A Pillow image of any mode -> uint8 ``(H, W, channels)`` (module docstring)."""
    from PIL import Image

    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        scale = 1.0 if im.mode == "F" else 65535.0
        a = np.clip(a / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        im = Image.fromarray(a, "L")
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        background = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(background, im.convert("RGBA"))
    im = im.convert("L" if channels == 1 else "RGB")
    return np.asarray(im, dtype=np.uint8).reshape(im.size[1], im.size[0], channels)


def decode(source: Any, size: int, channels: int, crop: Crop = "crop") -> np.ndarray:
    """One image file (a path or a file object) -> uint8 ``(channels, size, size)``; a file over
    the pixel limit is a :class:`DataError`, an unreadable one raises Pillow's error."""
    from PIL import Image

    from gankit.data.decode import open_image

    with open_image(source) as im:
        im.load()
        a = _to_array(im, channels)
    h, w = a.shape[:2]
    scale = size / (min(w, h) if crop == "crop" else max(w, h))
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    pil = Image.fromarray(a[:, :, 0] if channels == 1 else a)
    if (nw, nh) != (w, h):
        pil = pil.resize((nw, nh), Image.Resampling.BICUBIC)
    r = np.asarray(pil, dtype=np.uint8).reshape(nh, nw, channels)
    if crop == "crop":
        top, left = (nh - size) // 2, (nw - size) // 2
        r = r[top:top + size, left:left + size]
    else:
        out = np.zeros((size, size, channels), dtype=np.uint8)
        top, left = (size - nh) // 2, (size - nw) // 2
        out[top:top + nh, left:left + nw] = r
        r = out
    return np.ascontiguousarray(r.transpose(2, 0, 1))                             # (C, S, S)


def _decode_chunk(root: str, names: Sequence[str], size: int, channels: int, crop: Crop) -> list[np.ndarray | None]:
    """Decode ``names`` (files under a folder, or members of a zip) in a worker; None for a file
    Pillow cannot read."""
    out: list[np.ndarray | None] = []
    archive = zipfile.ZipFile(root) if root.endswith(".zip") else None
    try:
        for name in names:
            try:
                if archive is not None:
                    member = io.BytesIO(archive.read(name))
                    try:
                        out.append(decode(member, size, channels, crop))
                    except DataError as e:   # name the member, not the in-memory file
                        raise DataError(str(e).replace(str(member), f"{root}:{name}")) from None
                else:
                    out.append(decode(Path(root) / name, size, channels, crop))
            except DataError:
                raise
            except Exception:  # Pillow raises OSError, ValueError, SyntaxError, ... on bad files
                out.append(None)
    finally:
        if archive is not None:
            archive.close()
    return out


# --------------------------------------------------------------------------- listing

def list_images(root: Path) -> tuple[list[str], list[int], list[str], list[str]]:
    """``(names, labels, class_names, ignored)`` of a folder or zip: names relative to ``root``,
    sorted; with subfolders each immediate subfolder is a class (files collected recursively,
    loose top-level files ignored), otherwise every file is unlabelled (label -1). Hidden files
    and folders are skipped; in a zip, only files with an image suffix are listed."""
    if root.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(root) as z:
                names = [i.filename for i in z.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{root} is not a readable zip file ({e})") from None
        names = [n for n in names if not any(p.startswith((".", "__MACOSX")) for p in n.split("/"))
                 and Path(n).suffix.lower() in IMAGE_SUFFIXES]
    else:
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                 and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    names.sort()
    tops = sorted({n.split("/")[0] for n in names if "/" in n})
    if not tops:
        return names, [-1] * len(names), [], []
    kept = [n for n in names if "/" in n]
    return kept, [tops.index(n.split("/")[0]) for n in kept], tops, [n for n in names if "/" not in n]


def _fingerprint(root: Path, names: list[str], options: dict[str, Any]) -> str:
    h = hashlib.sha1(json.dumps({"root": str(root.resolve()), "options": options, "v": FORMAT_VERSION}).encode())
    if root.suffix.lower() == ".zip":   # the zip's own size and time stand for its members
        st = root.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}\n".encode())
        h.update("\n".join(names).encode())
        return h.hexdigest()[:20]
    for n in names:
        st = (root / n).stat()
        h.update(f"{n}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def prepare(root: Path, *, size: int, channels: int, crop: Crop = "crop", workers: int = 0,
            progress: bool = True) -> Path:
    """Decode the images under ``root`` (a folder or a zip) into the cache once and return the
    archive's path (``.npy``, with a ``.json`` beside it: labels, class names, the files left out)."""
    names, labels, classes, ignored = list_images(root)
    if not names:
        raise DataError(f"image folder {root} holds no readable images (no files)")
    options = {"size": size, "channels": channels, "crop": crop}
    target = cache_dir() / "archives" / f"{_fingerprint(root, names, options)}.npy"
    if target.is_file() and target.with_suffix(".json").is_file():
        return target
    made = _make_dirs(target.parent)
    tmp = target.with_suffix(f".tmp{os.getpid()}.npy")
    if not workers:   # automatic: one process a core for large sets, this one for small ones
        workers = min(os.cpu_count() or 1, 8) if len(names) >= IN_PROCESS_BELOW else 1
    chunks = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)]
    bar = _bar(len(names), f"decoding {root.name}", progress)
    done = False
    try:
        kept = _write_rows(tmp, _decode_all(str(root), chunks, size, channels, crop, workers), len(names),
                           (channels, size, size), bar)
        if not kept:
            raise DataError(f"image folder {root} holds no readable images ({len(names)} file(s) skipped)")
        _finish(tmp, target, names, labels, kept, classes, ignored, options)
        done = True
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
        if not done:   # a refused folder leaves nothing behind, not even the cache's folders
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    d.rmdir()
    return target


def _make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; the folders it created, outermost first."""
    made = []
    d = folder
    while not d.exists():
        made.append(d)
        d = d.parent
    folder.mkdir(parents=True, exist_ok=True)
    return made[::-1]


def _npy_header(shape: tuple[int, ...], length: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header for uint8 ``shape``, padded to a multiple of 64 bytes or to
    ``length`` (a smaller shape's header padded to the first one's length, so rows stay put)."""
    d = repr({"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    length = length or -(-(10 + len(d) + 1) // 64) * 64
    return b"\x93NUMPY\x01\x00" + (length - 10).to_bytes(2, "little") + (d.ljust(length - 11) + "\n").encode()


def _write_rows(tmp: Path, results: Iterator[list[np.ndarray | None]], n: int, row: tuple[int, int, int],
                bar: Any) -> list[int]:
    """Write the decoded images to the ``.npy`` file ``tmp`` with pwrite and return the indices of
    those kept. Written through a file, not a memory map: every page written to a map would count
    in this process's resident set (the whole archive, 9 GB for 50,000 images at 256x256)."""
    header = _npy_header((n, *row))
    row_bytes = row[0] * row[1] * row[2]
    kept: list[int] = []
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.pwrite(fd, header, 0)
        for i, decoded in enumerate(results):
            for j, a in enumerate(decoded):
                if a is not None:
                    os.pwrite(fd, memoryview(np.ascontiguousarray(a)).cast("B"), len(header) + len(kept) * row_bytes)
                    kept.append(i * CHUNK + j)
            bar.update(len(decoded))
        os.ftruncate(fd, len(header) + len(kept) * row_bytes)                 # left-out files: fewer rows
        os.pwrite(fd, _npy_header((len(kept), *row), len(header)), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return kept


def _decode_all(root: str, chunks: list[list[str]], size: int, channels: int, crop: Crop, workers: int):
    """Decoded chunks in order: in this process, or by ``workers`` spawned processes."""
    if workers <= 1:
        for c in chunks:
            yield _decode_chunk(root, c, size, channels, crop)
        return
    ctx = multiprocessing.get_context("spawn")   # no fork of a process that holds torch's threads
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_decode_chunk, root, c, size, channels, crop) for c in chunks[:2 * workers]]
        for i in range(len(chunks)):
            result = futures[i].result()
            if i + 2 * workers < len(chunks):                 # keep 2 chunks a worker in flight
                futures.append(pool.submit(_decode_chunk, root, chunks[i + 2 * workers], size, channels, crop))
            futures[i] = None  # type: ignore[call-overload]
            yield result


def _finish(tmp: Path, target: Path, names: list[str], labels: list[int], kept: list[int],
            classes: list[str], ignored: list[str], options: dict[str, Any]) -> None:
    """Publish the archive atomically with its sidecar (labels, class names, files left out)."""
    side = {"labels": [labels[i] for i in kept] if classes else None, "class_names": classes,
            "skipped": [names[i] for i in sorted(set(range(len(names))) - set(kept))], "ignored": ignored,
            "options": options, "version": FORMAT_VERSION}
    sidecar = target.with_suffix(".json.tmp")
    sidecar.write_text(json.dumps(side))
    os.replace(tmp, target)
    os.replace(sidecar, target.with_suffix(".json"))


def _bar(total: int, desc: str, on: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not on or total < IN_PROCESS_BELOW, leave=False)


# --------------------------------------------------------------------------- sources

def folder_source(path: str, *, size: int, channels: int, crop: Crop = "crop", flip: bool = False,
                  workers: int = 0) -> ArchiveSource:
    """A folder or zip of images as an :class:`ArchiveSource` (prepared into the cache once)."""
    import warnings

    root = Path(path).expanduser()
    if not (root.is_dir() or (root.is_file() and root.suffix.lower() == ".zip")):
        raise DataError(f"image folder {root} does not exist or is not a directory (or a .zip)")
    target = prepare(root, size=size, channels=channels, crop=crop, workers=workers)
    side = json.loads(target.with_suffix(".json").read_text())
    left_out = side["skipped"] + side["ignored"]
    if left_out:
        warnings.warn(f"folder {root}: skipped {len(left_out)} unreadable or unlabelled file(s), e.g. "
                      f"{', '.join(left_out[:3])}", stacklevel=2)
    images = np.load(target, mmap_mode="r")
    y, classes = None, side["class_names"] or []
    if side["labels"] is not None:
        used, codes = np.unique(np.array(side["labels"]), return_inverse=True)
        classes, y = [classes[k] for k in used], torch.from_numpy(codes.astype(np.int64))
    return ArchiveSource(images, y, name=f"folder:{root}", num_classes=len(classes), class_names=classes or None,
                         flip=flip)


def array_source(path: str, *, labels: str | None = None, layout: Literal["auto", "nchw", "nhwc"] = "auto",
                 flip: bool = False) -> ArchiveSource:
    """A prepared uint8 ``.npy`` of images, memory-mapped; ``labels``: an ``.npy`` of integers."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"image archive {p} does not exist")
    try:
        a = np.load(p, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{p} is not a readable .npy array ({e})") from None
    if a.dtype != np.uint8 or a.ndim != 4:
        raise DataError(f"{p}: an image archive is a uint8 array (N, H, W, C) or (N, C, H, W), got {a.dtype} "
                        f"of shape {a.shape}")
    if layout == "auto":
        layout = "nhwc" if a.shape[-1] in (1, 3) else "nchw" if a.shape[1] in (1, 3) else ""  # type: ignore[assignment]
        if not layout:
            raise DataError(f"{p}: cannot tell the channel axis of shape {a.shape} (1 or 3 channels); set layout")
    if layout == "nhwc":
        raise DataError(f"{p}: (N, H, W, C) archives cannot be read a batch at a time without a copy; save it as "
                        f"(N, C, H, W) (numpy: np.save(f, a.transpose(0, 3, 1, 2)))")
    y = None
    if labels:
        raw = np.load(Path(labels).expanduser(), allow_pickle=False)
        if raw.shape != (a.shape[0],) or not np.issubdtype(raw.dtype, np.integer) or (raw.size and raw.min() < 0):
            raise DataError(f"{labels}: labels must be {a.shape[0]} non-negative integers, got {raw.dtype} {raw.shape}")
        y = torch.from_numpy(raw.astype(np.int64))
    k = int(y.max()) + 1 if y is not None and len(y) else 0
    return ArchiveSource(a, y, name=f"archive:{p}", num_classes=k, flip=flip)


@DATASETS.register("archive", paper="")
def archive(*, path: str, labels: str | None = None, layout: Literal["auto", "nchw", "nhwc"] = "auto",
            flip: bool = False) -> ArchiveSource:
    """A prepared uint8 .npy of images (N, C, H, W), memory-mapped and read a batch at a time;
    ``labels``: a .npy of N integers; ``flip``: random left-right mirroring."""
    return array_source(path, labels=labels, layout=layout, flip=flip)
