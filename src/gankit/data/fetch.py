"""Where the IDX data sets live on disk, and downloading the official files with checksums.

Search order for ``mnist`` / ``fashion-mnist`` (first hit wins):

1. an explicit ``path`` (a directory holding the standard files, or one images file);
2. ``$GANKIT_DATA_DIR/<name>/``;
3. ``<cache>/gankit/data/<name>/`` with ``<cache>`` = ``$XDG_CACHE_HOME`` or ``~/.cache``;
4. system copies: ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist``).

``gankit data fetch NAME`` downloads into :func:`data_dir` ``/<name>``. A file is accepted
when the MD5 of the ``.gz`` matches the one the data set's authors publish, or when the
SHA-256 of its decompressed content matches the official content (Debian recompresses the
official files, which changes the ``.gz`` bytes but not the data).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from gankit.data.idx import read_bytes
from gankit.errors import DataError

SPLIT_STEMS = {"train": "train", "test": "t10k"}
FILES = tuple(f"{stem}-{kind}" for stem in ("train", "t10k") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"))


@dataclasses.dataclass(frozen=True)
class IdxSet:
    """An IDX data set: where to download it, its checksums, and where systems install it."""

    name: str
    mirrors: tuple[str, ...]
    md5: dict[str, str]                  # official MD5 of each ``<file>.gz``
    sha256: dict[str, str]               # SHA-256 of each decompressed file ("" = unknown)
    system_dirs: tuple[str, ...] = ()
    install_hint: str = ""               # how to install a system copy, if there is one


IDX_SETS: dict[str, IdxSet] = {
    "mnist": IdxSet(
        "mnist",
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"),
        # The MD5s torchvision and the original site publish.
        md5={"train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c"},
        sha256={f: "" for f in FILES},
    ),
    "fashion-mnist": IdxSet(
        "fashion-mnist",
        # The S3 website endpoint speaks plain http only; the MD5 check guards its content.
        mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                 "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        # MD5s from the Fashion-MNIST README (Xiao et al. 2017).
        md5={"train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
             "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
             "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
             "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310"},
        # Computed from the decompressed files of Debian's dataset-fashion-mnist 0.0~git20200523.
        sha256={"train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        install_hint="install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)",
    ),
}


def data_dir() -> Path:
    """gankit's data directory: ``$GANKIT_DATA_DIR`` if set, else ``<cache>/gankit/data``."""
    env = os.environ.get("GANKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "gankit" / "data"


def search_dirs(name: str) -> list[Path]:
    """Directories searched for data set ``name``, in order (explicit paths excluded)."""
    dirs = [data_dir() / name]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    if cache / "gankit" / "data" / name not in dirs:
        dirs.append(cache / "gankit" / "data" / name)
    dirs += [Path(d) for d in IDX_SETS[name].system_dirs]
    return dirs


def _candidates(directory: Path, base: str) -> list[Path]:
    dotted = base.replace("-idx", ".idx")  # the naming some mirrors (Kaggle) use
    return [directory / f"{b}{gz}" for b in (base, dotted) for gz in (".gz", "")]


def _first(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def locate(name: str, split: str, path: str | None = None) -> tuple[Path, Path | None]:
    """``(images_file, labels_file)`` of ``split`` (``train`` / ``test``) of IDX set ``name``.

    With ``path`` a file, that file is the images and the labels are its sibling named
    ``...labels-idx1-ubyte[.gz]`` (None if absent). Missing -> one-line :class:`DataError`.
    """
    stem = SPLIT_STEMS[split]
    images, labels = f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte"
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            sibling = p.name.removesuffix(".gz").replace("images", "labels").replace("idx3", "idx1")
            if sibling == p.name.removesuffix(".gz"):
                return p, None
            return p, _first(_candidates(p.parent, sibling))
        if not p.is_dir():
            raise DataError(f"{name}: data.path {p} does not exist")
        dirs = [p]
    else:
        dirs = search_dirs(name)
    for d in dirs:
        img = _first(_candidates(d, images))
        if img is not None:
            lab = _first(_candidates(d, labels))
            if lab is None:
                raise DataError(f"{name}: found {img} but not {labels}[.gz] next to it")
            return img, lab
    raise DataError(missing_message(name, split, dirs))


def missing_message(name: str, split: str, searched: list[Path]) -> str:
    spec = IDX_SETS[name]
    stem = SPLIT_STEMS[split]
    return (f"{name} not found (searched {', '.join(map(str, searched))}): " + _either(
        spec.install_hint, f"run `gankit data fetch {name}`",
        f"pass data.path=DIR holding {stem}-images-idx3-ubyte[.gz] and {stem}-labels-idx1-ubyte[.gz]"))


def _either(*options: str) -> str:
    """'a, b or c' over the non-empty options."""
    opts = [o for o in options if o]
    return opts[0] if len(opts) == 1 else f"{', '.join(opts[:-1])} or {opts[-1]}"


def _digest(data: bytes, algo: str) -> str:
    return hashlib.new(algo, data).hexdigest()


def verify(spec: IdxSet, base: str, path: Path) -> bool:
    """True when ``path`` holds the official content of ``base`` (see the module docstring)."""
    raw = path.read_bytes()
    if _digest(raw, "md5") == spec.md5[base]:
        return True
    if not spec.sha256.get(base):
        return False
    try:
        return _digest(read_bytes(path), "sha256") == spec.sha256[base]
    except DataError:
        return False


def _download(url: str, timeout: float) -> bytes:
    with urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URLs)
        return response.read()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename: no half-written files."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(name: str, directory: str | Path | None = None, *, timeout: float = 60.0,
          log: Callable[[str], None] | None = None) -> Path:
    """Make the four official files of ``name`` available, verifying checksums, and return
    the directory that holds them.

    Without ``directory``, a system copy whose files all verify (Debian's
    ``dataset-fashion-mnist``) is used where it is, as the data sets find it: nothing is
    downloaded or copied. Otherwise the files go into ``directory`` (default ``data_dir()/name``):
    files already there and valid are kept, a valid system copy of a file is copied, the rest
    is downloaded. Offline -> :class:`DataError` saying what to install or where to put the
    files; a checksum mismatch on every mirror -> :class:`DataError`; nothing partial is left
    behind, and no directory is created unless a file is written into it.
    """
    if name not in IDX_SETS:
        raise DataError(f"cannot fetch {name!r}; fetchable data sets: {', '.join(IDX_SETS)}")
    spec = IDX_SETS[name]
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if directory is None:
        for system in map(Path, spec.system_dirs):
            found = [_valid_copy(spec, base, system) for base in FILES]
            if all(found):
                log(f"{system}: system copy, all {len(FILES)} files present, checksums ok")
                return system
    out = Path(directory).expanduser() if directory is not None else data_dir() / name
    for base in FILES:
        target = out / f"{base}.gz"
        if target.is_file() and verify(spec, base, target):
            log(f"{target}: present, checksum ok")
            continue
        local = next((c for c in (_valid_copy(spec, base, Path(d)) for d in spec.system_dirs) if c), None)
        if local is not None:
            _make_dir(out)
            _write_atomic(target, local.read_bytes())
            log(f"{target}: copied from {local}, checksum ok")
            continue
        _fetch_one(spec, base, target, timeout, log)
    return out


def _valid_copy(spec: IdxSet, base: str, directory: Path) -> Path | None:
    """The gzipped file ``base`` in ``directory`` if it holds the official content."""
    path = directory / f"{base}.gz"
    try:
        return path if path.is_file() and verify(spec, base, path) else None
    except OSError:  # unreadable: as if absent
        return None


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {out}: {e.strerror or e}") from None


def _fetch_one(spec: IdxSet, base: str, target: Path, timeout: float, log: Callable[[str], None]) -> None:
    errors = []
    for mirror in spec.mirrors:
        url = f"{mirror}{base}.gz"
        try:
            data = _download(url, timeout)
        except (URLError, OSError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        got = _digest(data, "md5")
        if got != spec.md5[base]:
            errors.append(f"{url}: checksum mismatch (md5 {got}, expected {spec.md5[base]})")
            continue
        _make_dir(target.parent)
        _write_atomic(target, data)
        log(f"{target}: downloaded from {url} ({len(data) / 1e6:.1f} MB), md5 ok")
        return
    mismatches = [e for e in errors if "checksum mismatch" in e]
    if mismatches:
        raise DataError(f"{spec.name}: {'; '.join(mismatches)}")
    raise DataError(f"cannot download {spec.name} (offline? {errors[0]}): " + _either(
        spec.install_hint, f"put {', '.join(f + '.gz' for f in FILES)} into {target.parent}"))
