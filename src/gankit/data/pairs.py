"""Data for image-to-image translation: paired sets (pix2pix) and two unpaired domains (CycleGAN).

Two source types, each with a held-out split that only the metrics see:

* :class:`PairedSource`: pairs ``(a, b)`` of an input image and its target. Batches of pairs
  come from :meth:`PairedSource.sample_pairs`; ``sample`` (the DataSource contract) gives
  the targets ``b`` with their labels, the distribution a translator's outputs should match.
* :class:`DomainsSource`: two unpaired sets ``A`` and ``B``, each with its own epoch order;
  :meth:`DomainsSource.sample_domains` draws a batch of each; ``sample`` gives ``B``.

Registered data sets:

* ``pairs:DIR``: a user's own pairs. ``DIR/A/`` and ``DIR/B/`` hold images matched by file
  name without suffix (``A/0001.png`` <-> ``B/0001.jpg``); ``DIR/test/A`` and ``DIR/test/B``
  (same layout), when present, are the held-out pairs, else a fixed seeded ``test_fraction``
  of the pairs is held out. Every image of a side must have the same size (``size`` resizes
  the shorter side and centre-crops, as ``folder`` does).
* ``pair-task``: built-in paired tasks from Fashion-MNIST (or MNIST / scikit-learn's digits):
  ``edges`` (a Sobel edge map -> the image), ``masked`` (the centre square blanked -> the
  image), ``lowres`` (4x average-pooled then nearest-upsampled -> the image); the base set's
  test split is the held-out split.
* ``domains:DIR``: two unpaired domains ``DIR/A/`` and ``DIR/B/`` (CycleGAN's ``trainA`` /
  ``trainB`` are also accepted), held out: ``DIR/test/A`` / ``DIR/test/B`` (or ``testA`` /
  ``testB``), else a fixed ``test_fraction`` of each.
* ``fashion-domains``: two Fashion-MNIST classes as the domains (``a=Sneaker b="Ankle boot"``),
  the test split's images of those classes held out; the class indices are kept so that
  gankit's Fashion-MNIST classifier can say whether a translation changed the class.

Every problem with a folder is one line (:class:`~gankit.errors.DataError`) naming it: missing
``A``/``B``, an empty side, names without a partner, images of different sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.base import DATASETS, DataSource, TensorSource
from gankit.data.images import (
    FASHION_CLASSES,
    MAX_SIZE,
    ImageSize,
    load_image,
    to_unit_range,
)
from gankit.data.decode import open_image
from gankit.errors import DataError
from gankit.registry import Bounds, Fraction, NonNegativeInt, Seed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
FolderSize = Annotated[int, Bounds(ge=0, le=MAX_SIZE)]


class PairedSource(TensorSource):
    """Training pairs ``inputs (N, Ca, H, W)`` -> ``x (N, Cb, H, W)`` (labels ``y`` or None) and
    held-out pairs ``test_inputs`` -> ``test_x`` (``test_y``). ``x`` is the target side, so
    ``shape`` is a translation's shape and the image metrics compare outputs with targets."""

    def __init__(self, inputs: Tensor, x: Tensor, y: Tensor | None, *, name: str, test_inputs: Tensor,
                 test_x: Tensor, test_y: Tensor | None = None, num_classes: int = 0,
                 class_names: list[str] | None = None) -> None:
        super().__init__(x, y, name=name, num_classes=num_classes, class_names=class_names)
        assert inputs.shape[0] == x.shape[0] and test_inputs.shape[0] == test_x.shape[0]
        self.inputs, self.test_inputs, self.test_x, self.test_y = inputs, test_inputs, test_x, test_y
        self.input_shape = tuple(inputs.shape[1:])

    def sample_pairs(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """The next ``n`` training pairs ``(a (n, Ca, H, W), b (n, Cb, H, W))`` of the epoch order."""
        idx = self.indices(n, generator)
        return self.inputs[idx], self.x[idx]


class DomainsSource(DataSource):
    """Two unpaired image sets: ``a`` and ``b`` (:class:`TensorSource` each, own epoch order),
    held out ``test_a`` / ``test_b``. ``classes``: the class index of each domain in
    ``base_spec``'s label space (``fashion-domains``), else None."""

    kind = "images"

    def __init__(self, a: TensorSource, b: TensorSource, test_a: Tensor, test_b: Tensor, *, name: str,
                 classes: tuple[int, int] | None = None,
                 base_spec: tuple[str, dict[str, Any]] | None = None) -> None:
        self.a, self.b, self.test_a, self.test_b = a, b, test_a, test_b
        self.name, self.classes, self.base_spec = name, classes, base_spec
        self.shape, self.input_shape = tuple(b.shape), tuple(a.shape)
        self.num_classes = 0
        self.x = b.x  # the image metrics' real set: domain B, what G's outputs should match

    def __len__(self) -> int:
        return min(len(self.a), len(self.b))

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        return self.b.sample(n, generator)[0], None

    def sample_domains(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` images of each domain, ``(a (n, Ca, H, W), b (n, Cb, H, W))``, unpaired."""
        return self.a.sample(n, generator)[0], self.b.sample(n, generator)[0]

    def state_dict(self) -> dict[str, Any]:
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.a.load_state_dict(state.get("a", {}))
        self.b.load_state_dict(state.get("b", {}))


# --------------------------------------------------------------------------- built-in tasks

SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_edges(x: Tensor) -> Tensor:
    """Sobel gradient magnitude of images ``x (N, 1, H, W)`` in [-1, 1], scaled so each image's
    strongest edge is 1, mapped to [-1, 1] (no edge -1). Borders replicate the image."""
    u = (x + 1.0) / 2.0
    k = torch.stack([SOBEL, SOBEL.T])[:, None]                          # (2, 1, 3, 3): d/dx, d/dy
    g = F.conv2d(F.pad(u, (1, 1, 1, 1), mode="replicate"), k)          # (N, 2, H, W)
    mag = g.pow(2).sum(1, keepdim=True).sqrt()                          # (N, 1, H, W)
    top = mag.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return (mag / top) * 2.0 - 1.0


def centre_masked(x: Tensor, fraction: float = 0.5) -> Tensor:
    """``x`` with its centre square (``fraction`` of the side) set to 0, the middle grey."""
    out = x.clone()
    h, w = x.shape[-2:]
    mh, mw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top, left = (h - mh) // 2, (w - mw) // 2
    out[..., top:top + mh, left:left + mw] = 0.0
    return out


def low_resolution(x: Tensor, factor: int = 4) -> Tensor:
    """``factor``-times average-pooled, then nearest-upsampled back to the same size."""
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise DataError(f"lowres: the image side {h}x{w} is not divisible by the factor {factor}")
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="nearest")


TASKS = {"edges": sobel_edges, "masked": centre_masked, "lowres": low_resolution}


def _base(base: str, split: str, size: int, path: str | None) -> TensorSource:
    options: dict[str, Any] = {"split": split, "size": size}
    if base != "digits":
        options["path"] = path
    return DATASETS.build(base, options)


def _subset(n: int, num: int, seed: int) -> Tensor | None:
    if not num or num >= n:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:num].sort().values


@DATASETS.register("pair-task", paper="Isola et al. 2017 (edges->photo); Xiao et al. 2017 (Fashion-MNIST)")
def pair_task(*, task: Literal["edges", "masked", "lowres"] = "edges",
              base: Literal["fashion-mnist", "mnist", "digits"] = "fashion-mnist", path: str | None = None,
              size: ImageSize = 32, num: NonNegativeInt = 0, test_num: NonNegativeInt = 2000,
              seed: Seed = 0) -> PairedSource:
    """A paired task made from a labelled image set: edges, masked or low-resolution -> image.

    ``num`` training pairs (0: all), ``test_num`` held-out pairs from the base's test split
    (0: all), both a fixed seeded subset; ``size`` pads 28 -> 32 (the U-Net halves the side
    down to 1 pixel, so a power of two)."""
    make = TASKS[task]
    train = _base(base, "train", size, path)
    test = _base(base, "test", size, path)
    parts = []
    for src, k, s in ((train, num, seed), (test, test_num, seed + 1)):
        idx = _subset(len(src), k, s)
        x, y = (src.x, src.y) if idx is None else (src.x[idx], None if src.y is None else src.y[idx])
        parts.append((make(x), x, y))
    (a, b, y), (ta, tb, ty) = parts
    return PairedSource(a, b, y, name=f"pair-task:{task}:{base}", test_inputs=ta, test_x=tb, test_y=ty,
                        num_classes=train.num_classes, class_names=train.class_names)


def fashion_class(value: str | int, option: str) -> int:
    """A Fashion-MNIST class by index or (case-insensitive) name."""
    names = [n.casefold() for n in FASHION_CLASSES]
    text = str(value).strip()
    if text.isdigit() and 0 <= int(text) < len(names):
        return int(text)
    if text.casefold() in names:
        return names.index(text.casefold())
    raise DataError(f"fashion-domains: {option}={value!r} is not a Fashion-MNIST class; choose an index "
                    f"0..9 or one of: {', '.join(FASHION_CLASSES)}")


@DATASETS.register("fashion-domains", paper="Zhu et al. 2017 (unpaired translation); Xiao et al. 2017")
def fashion_domains(*, a: str | int = "Sneaker", b: str | int = "Ankle boot", path: str | None = None,
                    size: ImageSize = 32, num: NonNegativeInt = 0, seed: Seed = 0) -> DomainsSource:
    """Two Fashion-MNIST classes as unpaired domains A and B (6000 training images each; the
    test split's 1000 each held out). ``num``: at most this many training images per domain
    (0: all), a fixed seeded subset."""
    ka, kb = fashion_class(a, "a"), fashion_class(b, "b")
    if ka == kb:
        raise DataError(f"fashion-domains: a and b are the same class ({FASHION_CLASSES[ka]}); choose two")
    train, test = _base("fashion-mnist", "train", size, path), _base("fashion-mnist", "test", size, path)
    assert train.y is not None and test.y is not None
    sides = []
    for k, offset in ((ka, 0), (kb, 1)):
        x = train.x[train.y == k]
        idx = _subset(len(x), num, seed + offset)
        sides.append(TensorSource(x if idx is None else x[idx], None, name=f"fashion-mnist:{FASHION_CLASSES[k]}"))
    spec = ("fashion-mnist", {"size": size, "path": path, "split": "train"})
    return DomainsSource(sides[0], sides[1], test.x[test.y == ka], test.x[test.y == kb],
                         name=f"fashion-domains:{FASHION_CLASSES[ka]}->{FASHION_CLASSES[kb]}",
                         classes=(ka, kb), base_spec=spec)


# --------------------------------------------------------------------------- folders

def _images_in(d: Path) -> dict[str, Path]:
    """Image files directly in ``d`` by name without suffix; hidden files skipped. Two files of
    one stem (``1.png``, ``1.jpg``) are ambiguous."""
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in out:
                raise DataError(f"{d}: two images named {p.stem!r} ({out[p.stem].name}, {p.name}); "
                                "names (without suffix) must be unique")
            out[p.stem] = p
    return out


def _side(root: Path, names: tuple[str, ...], what: str) -> Path:
    for n in names:
        if (root / n).is_dir():
            return root / n
    raise DataError(f"{what} folder {root} has no {' or '.join(n + '/' for n in names)} subfolder "
                    f"(layout: {root}/A/*.png and {root}/B/*.png)")


def _load_all(files: list[Path], size: int, channels: int, where: Path) -> Tensor:
    """Images ``(N, C, H, W)`` in [-1, 1]; ``size`` 0 keeps their own size, which must agree."""
    arrays = []
    for f in files:
        try:
            if size:
                arr = load_image(f, size, channels)
            else:
                arr = _load_native(f, channels)
        except DataError:
            raise
        except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError, ... on bad files
            raise DataError(f"{f}: not a readable image ({type(e).__name__})") from None
        if arrays and arr.shape != arrays[0].shape:
            raise DataError(f"{where}: {f.name} is {arr.shape[1]}x{arr.shape[0]}, {files[0].name} is "
                            f"{arrays[0].shape[1]}x{arrays[0].shape[0]}; images must have one size "
                            "(or set data.size to resize them)")
        arrays.append(arr)
    return to_unit_range(np.stack(arrays).transpose(0, 3, 1, 2), 255.0)


def _load_native(path: Path, channels: int) -> np.ndarray:
    with open_image(path) as im:  # refuses a decompression bomb from its header
        arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def _matched(dir_a: Path, dir_b: Path) -> list[tuple[Path, Path]]:
    fa, fb = _images_in(dir_a), _images_in(dir_b)
    for d, f in ((dir_a, fa), (dir_b, fb)):
        if not f:
            raise DataError(f"paired folder side {d} holds no images ({', '.join(IMAGE_SUFFIXES[:3])}, ...)")
    only_a, only_b = sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa))
    if only_a or only_b:
        side, names, other = (dir_a, only_a, dir_b) if only_a else (dir_b, only_b, dir_a)
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        raise DataError(f"paired folders: {side / fa.get(names[0], fb.get(names[0], Path(names[0]))).name}"
                        f"{more} has no partner of the same name in {other}")
    return [(fa[k], fb[k]) for k in sorted(fa)]


def _split(n: int, fraction: float, seed: int, where: Path) -> tuple[Tensor, Tensor]:
    k = round(n * fraction)
    if fraction > 0 and k == 0:
        k = 1
    if n - k < 1:
        raise DataError(f"{where}: {n} item(s) are too few to hold out test_fraction={fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[k:].sort().values, perm[:k].sort().values


def _check_sizes(a: Tensor, b: Tensor, where: Path) -> None:
    if a.shape[-2:] != b.shape[-2:]:
        raise DataError(f"{where}: A images are {a.shape[-1]}x{a.shape[-2]} and B images {b.shape[-1]}x"
                        f"{b.shape[-2]}; both sides need one size (or set data.size)")


@DATASETS.register("pairs", paper="Isola et al. 2017 (paired image-to-image translation)")
def pairs(*, path: str, size: FolderSize = 0, channels: Literal[1, 3] = 3, b_channels: Literal[0, 1, 3] = 0,
          test_fraction: Fraction = 0.1, seed: Seed = 0) -> PairedSource:
    """A folder of pairs: ``DIR/A/<name>.png`` -> ``DIR/B/<name>.png`` (matched by name), held
    out ``DIR/test/{A,B}`` or a seeded ``test_fraction``. ``size`` 0 keeps the images' size;
    ``channels``: of A (1 grey, 3 RGB), ``b_channels`` of B (0: as A)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"paired folder {root} does not exist or is not a directory")
    cb = b_channels or channels

    def load(base: Path) -> tuple[Tensor, Tensor]:
        pairs_ = _matched(_side(base, ("A",), "paired"), _side(base, ("B",), "paired"))
        a = _load_all([p for p, _ in pairs_], size, channels, base / "A")
        b = _load_all([q for _, q in pairs_], size, cb, base / "B")
        _check_sizes(a, b, base)
        return a, b

    a, b = load(root)
    if (root / "test").is_dir():
        ta, tb = load(root / "test")
        _check_sizes(a, ta, root / "test")
    else:
        tr, te = _split(a.shape[0], test_fraction, seed, root)
        a, b, ta, tb = a[tr], b[tr], a[te], b[te]
    return PairedSource(a, b, None, name=f"pairs:{root}", test_inputs=ta, test_x=tb)


@DATASETS.register("domains", paper="Zhu et al. 2017 (unpaired image-to-image translation)")
def domains(*, path: str, size: FolderSize = 0, channels: Literal[1, 3] = 3, b_channels: Literal[0, 1, 3] = 0,
            test_fraction: Fraction = 0.1, seed: Seed = 0) -> DomainsSource:
    """Two unpaired image folders ``DIR/A`` and ``DIR/B`` (or CycleGAN's ``trainA`` / ``trainB``),
    held out ``DIR/test/{A,B}`` (or ``testA`` / ``testB``) or a seeded ``test_fraction`` of each."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"domains folder {root} does not exist or is not a directory")
    cb = b_channels or channels
    out = []
    for side, ch, train_names, test_names in (("A", channels, ("A", "trainA"), (("test", "A"), ("testA",))),
                                              ("B", cb, ("B", "trainB"), (("test", "B"), ("testB",)))):
        d = _side(root, train_names, "domains")
        files = list(_images_in(d).values())
        if not files:
            raise DataError(f"domain folder {d} holds no images ({', '.join(IMAGE_SUFFIXES[:3])}, ...)")
        x = _load_all(files, size, ch, d)
        test_dir = next((root.joinpath(*t) for t in test_names if root.joinpath(*t).is_dir()), None)
        if test_dir is not None:
            tfiles = list(_images_in(test_dir).values())
            if not tfiles:
                raise DataError(f"domain test folder {test_dir} holds no images")
            tx = _load_all(tfiles, size, ch, test_dir)
            _check_sizes(x, tx, test_dir)
        else:
            tr, te = _split(x.shape[0], test_fraction, seed + (side == "B"), d)
            x, tx = x[tr], x[te]
        out.append((TensorSource(x, None, name=f"domains:{d}"), tx))
    (a, ta), (b, tb) = out
    _check_sizes(a.x, b.x, root)
    return DomainsSource(a, b, ta, tb, name=f"domains:{root}")


__all__ = ["DomainsSource", "PairedSource", "centre_masked", "low_resolution", "sobel_edges"]
