"""Feature extractors for the image metrics: a small CNN classifier that gankit trains on the
data set itself, or any TorchScript network the user supplies (Inception-v3 under gankit's
protocol lives in :mod:`gankit.metrics.inception`).

Without the ``gankit[inception]`` extra there are no Inception weights (nothing is
downloaded), and Inception features of 8x8 digits or 28x28 clothing are a poor fit anyway;
a classifier trained on the data set's own training split gives features that separate exactly the classes a generator should cover (the "domain
classifier" used for MNIST FIDs, e.g. by Lucic et al. 2018 for their mode counts). Its
numbers are NOT comparable with published Inception FIDs, so every extractor carries a
``description`` that reports print next to the numbers.

The classifier is trained on first use (seconds for digits, about a minute for Fashion-MNIST
on two CPU cores) and cached under ``$GANKIT_CACHE_DIR/features/`` (default
``~/.cache/gankit/features/``) in a folder keyed by the data set's name, a fingerprint of its
training and test tensors and :data:`ARCH_VERSION`. The folder holds ``weights.pt`` and
``meta.json`` (test accuracy, sha256 of the weights), both written atomically; a checksum
mismatch on load retrains with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import tempfile
import warnings
import weakref
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import DataError

ARCH_VERSION = "v1"
"""Bump when the network or its training recipe changes: old cache entries are then ignored."""


class FeatureExtractor(Protocol):
    description: str

    def features(self, x: Tensor) -> Tensor:
        """Images ``(N, C, H, W)`` in [-1, 1] -> features ``(N, F)`` float32 on the CPU."""
        ...


def cache_dir() -> Path:
    """``$GANKIT_CACHE_DIR/features`` or ``~/.cache/gankit/features``."""
    root = os.environ.get("GANKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "gankit")
    return Path(root) / "features"


# --------------------------------------------------------------------------- the classifier

class ClassifierNet(nn.Module):
    """Three 3x3 conv layers, adaptive 2x2 average pooling, a 128-d hidden layer whose
    activations are the FID features, and a linear head.

    ``x (B, C, H, W)`` in [-1, 1] -> logits ``(B, num_classes)``. The first convolution is
    strided for images of 16 px and more (``image_size``), which makes 28/32 px training
    four times cheaper; any input size works thanks to the adaptive pooling.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: int = 32, width: int = 32,
                 feature_dim: int = 128) -> None:
        super().__init__()
        s = 2 if image_size >= 16 else 1
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, s, 1), nn.BatchNorm2d(width), nn.ReLU(),               # (B, w, H/s, W/s)
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),            # (B, 2w, H/2s, W/2s)
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1), nn.BatchNorm2d(4 * width), nn.ReLU(),        # (B, 4w, H/4s, W/4s)
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),                                                   # (B, 16w)
            nn.Linear(16 * width, feature_dim), nn.ReLU(),                                           # (B, feature_dim)
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return h, self.head(h)


@dataclasses.dataclass(frozen=True)
class TrainRecipe:
    """Adam with a cosine-decayed learning rate; ``epochs`` passes, at least ``min_steps`` steps."""

    epochs: float = 2.0
    min_steps: int = 200
    max_steps: int = 3000
    batch_size: int = 128
    lr: float = 2e-3
    width: int = 32
    seed: int = 0

    def steps(self, n: int) -> int:
        return int(min(self.max_steps, max(self.min_steps, math.ceil(self.epochs * n / self.batch_size))))


def train_classifier(x: Tensor, y: Tensor, num_classes: int, recipe: TrainRecipe = TrainRecipe(), *,
                     device: torch.device | str = "cpu", progress: bool | None = None,
                     desc: str = "classifier") -> ClassifierNet:
    """Fit a :class:`ClassifierNet` to images ``x (N, C, H, W)`` and labels ``y (N,)`` (cross-entropy)."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(recipe.seed)
    # the layers' initialisation draws from the global RNG; fork it so that training the
    # classifier in the middle of a GAN run leaves the run's random stream untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ClassifierNet(x.shape[1], num_classes, min(x.shape[-2:]), width=recipe.width).to(device)
    steps = recipe.steps(x.shape[0])
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    perm, pos = torch.randperm(x.shape[0], generator=gen), 0
    net.train()
    # disable=None: a bar on a terminal, silence in logs and CI
    for _ in tqdm(range(steps), desc=f"training {desc}", unit="step", disable=None if progress is None else not progress,
                  leave=False):
        if pos + recipe.batch_size > x.shape[0]:
            perm, pos = torch.randperm(x.shape[0], generator=gen), 0
        idx = perm[pos:pos + recipe.batch_size]
        pos += recipe.batch_size
        loss = F.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def _batched(fn: Any, x: Tensor, batch: int, device: torch.device) -> list[Tensor]:
    outs = [fn(x[i:i + batch].to(device)) for i in range(0, x.shape[0], batch)]
    if outs and isinstance(outs[0], tuple):
        return [torch.cat([o[k].float().cpu() for o in outs]) for k in range(len(outs[0]))]
    return [torch.cat([o.float().cpu() for o in outs])] if outs else [torch.empty(0)]


def accuracy(net: ClassifierNet, x: Tensor, y: Tensor, batch: int = 1000) -> float:
    """Fraction of ``x`` whose argmax logit equals ``y``."""
    net.eval()
    logits = _batched(net, x, batch, next(net.parameters()).device)[0]
    return float((logits.argmax(1) == y).double().mean())


class ClassifierExtractor:
    """Penultimate-layer features and logits of a trained :class:`ClassifierNet`."""

    def __init__(self, net: ClassifierNet, *, name: str, test_accuracy: float, num_classes: int,
                 device: torch.device | str = "cpu", path: Path | None = None) -> None:
        self.net = net.to(device).eval()
        self.device = torch.device(device)
        self.name, self.test_accuracy, self.num_classes, self.path = name, test_accuracy, num_classes, path
        self.description = f"gankit-classifier:{name}:{ARCH_VERSION} (test acc {100 * test_accuracy:.1f}%)"

    def features_and_logits(self, x: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
        """``x (N, C, H, W)`` in [-1, 1] -> features ``(N, 128)`` and logits ``(N, K)``, float32 CPU."""
        feats, logits = _batched(self.net.features_and_logits, x, batch, self.device)
        return feats, logits

    def features(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[0]


# --------------------------------------------------------------------------- cache

# id(tensor) -> (weak reference, tensor version, digest): hashing 60k images takes ~0.3 s,
# too long to repeat at every periodic evaluation; the version counter catches in-place edits
_FINGERPRINTS: dict[int, tuple[weakref.ref[Tensor], int, str]] = {}


def tensor_fingerprint(t: Tensor | None) -> str:
    """sha256 of a tensor's dtype, shape and bytes (memoised per tensor object)."""
    if t is None:
        return "none"
    hit = _FINGERPRINTS.get(id(t))
    if hit is not None and hit[0]() is t and hit[1] == t._version:
        return hit[2]
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    # a chunk at a time: a data set's images may be an archive larger than memory
    chunks = t.byte_chunks() if not isinstance(t, Tensor) else _tensor_chunks(t)
    for chunk in chunks:
        h.update(chunk)
    _FINGERPRINTS[id(t)] = (weakref.ref(t), t._version, h.hexdigest())
    return h.hexdigest()


def _tensor_chunks(t: Tensor, size: int = 1 << 26) -> Iterator[bytes]:
    """The bytes of ``t`` in C order, about ``size`` bytes at a time (rows of its first axis)."""
    if t.dim() == 0 or t.shape[0] == 0:
        yield t.detach().cpu().contiguous().numpy().tobytes()
        return
    step = max(1, size // max(1, t[0].numel() * t.element_size()))
    for i in range(0, t.shape[0], step):
        yield t[i:i + step].detach().cpu().contiguous().numpy().tobytes()


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read 1 MB at a time (weights files are about 100 MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)   # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def holdout_split(n: int, fraction: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Fixed (train, test) index split of ``range(n)``, used when a data set has no test split."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(1, int(round(n * fraction)))
    return perm[k:], perm[:k]


def load_or_train_classifier(x: Tensor, y: Tensor, num_classes: int, *, name: str,
                             test: tuple[Tensor, Tensor] | None = None, root: Path | None = None,
                             device: torch.device | str = "cpu", progress: bool | None = None,
                             recipe: TrainRecipe = TrainRecipe()) -> ClassifierExtractor:
    """The classifier for training images ``x (N, C, H, W)`` / labels ``y (N,)``, from the
    cache or trained now. ``test = (x_test, y_test)`` measures its accuracy; without one a
    fixed 10% of ``x`` is held out (and not trained on).
    """
    if y is None or num_classes < 2:
        raise DataError(f"data set {name!r} has no class labels, so gankit cannot train its feature "
                        "classifier; give a TorchScript Inception file (--inception PATH) instead")
    root = Path(root) if root is not None else cache_dir()
    recipe_id = json.dumps(dataclasses.asdict(recipe), sort_keys=True)
    key_src = "|".join([ARCH_VERSION, recipe_id, str(num_classes), tensor_fingerprint(x), tensor_fingerprint(y),
                        tensor_fingerprint(None if test is None else test[0]),
                        tensor_fingerprint(None if test is None else test[1])])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    folder = root / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{ARCH_VERSION}-{key}"
    ext = _load(folder, x.shape[1], num_classes, min(x.shape[-2:]), recipe.width, name=name, device=device)
    if ext is None:
        ext = _train_and_save(folder, x, y, num_classes, test, name=name, device=device,
                              progress=progress, recipe=recipe)
    return ext


def _load(folder: Path, channels: int, num_classes: int, image_size: int, width: int, *, name: str,
          device: torch.device | str) -> ClassifierExtractor | None:
    meta_path, weights = folder / "meta.json", folder / "weights.pt"
    if not (meta_path.is_file() and weights.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if file_digest(weights) != meta["sha256"]:
            warnings.warn(f"{weights}: sha256 does not match meta.json; retraining the feature classifier",
                          stacklevel=3)
            return None
        net = ClassifierNet(channels, num_classes, image_size, width=width)
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        warnings.warn(f"{folder}: cannot load the cached feature classifier ({e}); retraining", stacklevel=3)
        return None
    return ClassifierExtractor(net, name=name, test_accuracy=float(meta["test_accuracy"]),
                               num_classes=num_classes, device=device, path=folder)


def _train_and_save(folder: Path, x: Tensor, y: Tensor, num_classes: int, test: tuple[Tensor, Tensor] | None,
                    *, name: str, device: torch.device | str, progress: bool | None,
                    recipe: TrainRecipe) -> ClassifierExtractor:
    held_out = test is None
    if test is None:
        tr, te = holdout_split(x.shape[0])
        (x, y), test = (x[tr], y[tr]), (x[te], y[te])
    net = train_classifier(x, y, num_classes, recipe, device=device, progress=progress,
                           desc=f"{name} feature classifier (once: cached in {folder.parent})")
    acc = accuracy(net, *test)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "weights.pt"
    state = {k: v.cpu() for k, v in net.state_dict().items()}
    _atomic_write(weights, lambda p: torch.save(state, p))
    meta = {"name": name, "arch_version": ARCH_VERSION, "test_accuracy": acc, "num_train": int(x.shape[0]),
            "num_test": int(test[0].shape[0]), "held_out_from_train": held_out,
            "recipe": dataclasses.asdict(recipe), "sha256": file_digest(weights)}
    # meta.json is written last: its presence, with a matching checksum, marks a finished entry
    _atomic_write(folder / "meta.json", lambda p: Path(p).write_text(json.dumps(meta, indent=2) + "\n"))
    return ClassifierExtractor(net, name=name, test_accuracy=acc, num_classes=num_classes,
                               device=device, path=folder)


# --------------------------------------------------------------------------- Inception

class TorchScriptExtractor:
    """Any TorchScript feature network the user supplies (``extractor=torchscript:PATH``), outside
    gankit's Inception protocol (:mod:`gankit.metrics.inception` has that one).

    Images in [-1, 1] are replicated to 3 channels, resized to 299x299 (bilinear) and mapped
    to 0..255, the input convention of the ``inception-2015-12-05.pt`` TorchScript file used
    by StyleGAN2-ADA and clean-fid; its ``return_features=True`` call gives the 2048-d pool
    features. A script whose ``forward`` has no such argument is called as ``model(x)`` and
    must return ``(N, F)`` features.
    """

    def __init__(self, path: str | os.PathLike[str], device: torch.device | str = "cpu") -> None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(f"Inception file {str(p)!r} not found (give a TorchScript file; gankit never downloads one)")
        try:
            with warnings.catch_warnings():
                # torch >= 2.10 deprecates TorchScript; the Inception files in use are TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(p), map_location=device).eval()
        except (RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(f"{p}: not a TorchScript model ({first})") from None
        self.device = torch.device(device)
        self.path = p
        self.description = f"torchscript:{p}"
        try:
            args = [a.name for a in self.model.forward.schema.arguments]
        except AttributeError:
            args = []
        self._kwargs = {"return_features": True} if "return_features" in args else {}

    def prepare(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` in [-1, 1] -> ``(N, 3, 299, 299)`` in [0, 255]."""
        if x.shape[1] not in (1, 3):
            raise DataError(f"Inception features need 1- or 3-channel images, got {x.shape[1]} channels")
        x = F.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False)
        x = (x.clamp(-1, 1) + 1) * 127.5
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x  # gray: resize once, then replicate

    def _forward(self, x: Tensor) -> Tensor:
        out = self.model(self.prepare(x), **self._kwargs)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(out.shape[0], -1)

    def features(self, x: Tensor, batch: int = 100) -> Tensor:
        return _batched(self._forward, x, batch, self.device)[0]


InceptionExtractor = TorchScriptExtractor  # the name it had before gankit's Inception protocol
