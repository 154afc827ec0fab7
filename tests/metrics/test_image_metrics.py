"""Image metrics against closed forms, exact constructions and independent implementations
(numpy loops, scikit-learn's NearestNeighbors, torchmetrics), and the METRICS plumbing on
scikit-learn's digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

from gankit.data.base import TensorSource
from gankit.errors import DataError
from gankit.metrics import METRICS, EvalContext
from gankit.metrics import image as im
from gankit.metrics.image import (class_statistics, density_coverage, evaluate_images, fid_from_features,
                                  kid_from_features, polynomial_mmd2, precision_recall)


def gaussian(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


# --------------------------------------------------------------------------- FID

def test_fid_of_a_set_against_itself_is_zero():
    x = gaussian(500, 32, 0) * 3 + 1
    trace = float(torch.trace(torch.cov(x.T)))
    assert abs(fid_from_features(x, x)) <= 1e-12 * trace


def test_fid_grows_exactly_as_the_squared_mean_shift():
    # shifted copies have identical covariances, so FID = ||delta||^2 for every shift
    x = gaussian(400, 16, 1)
    direction = torch.nn.functional.normalize(gaussian(1, 16, 2)[0], dim=0)
    for size in (0.1, 1.0, 5.0):
        assert fid_from_features(x, x + size * direction) == pytest.approx(size**2, rel=1e-9)


def test_fid_matches_scipy_reference_on_features():
    x, y = gaussian(600, 24, 3), gaussian(500, 24, 4) @ gaussian(24, 24, 5) * 0.3 + 0.2
    xn, yn = x.numpy(), y.numpy()
    s1, s2 = np.cov(xn, rowvar=False), np.cov(yn, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ref = ((xn.mean(0) - yn.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert fid_from_features(x, y) == pytest.approx(ref, rel=1e-6)


# --------------------------------------------------------------------------- KID

def numpy_mmd2_loops(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 written as the literal double sums, k(a, b) = (a.b/d + 1)^3."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_independent_numpy_loops_on_fixed_inputs():
    x, y = gaussian(30, 5, 6), gaussian(25, 5, 7, shift=0.4)
    ref = numpy_mmd2_loops(x.numpy(), y.numpy())
    assert polynomial_mmd2(x, y) == pytest.approx(ref, rel=1e-12)
    # one subset covering both whole sets is the same statistic; its std over subsets is 0
    mean, std = kid_from_features(x[:25], y, num_subsets=5, subset_size=1000)
    assert mean == pytest.approx(numpy_mmd2_loops(x[:25].numpy(), y.numpy()), rel=1e-12)
    assert std == 0.0


def test_kid_subsets_precomputed_kernels_equal_per_subset_kernels(monkeypatch):
    x, y = gaussian(80, 6, 8), gaussian(70, 6, 9, shift=0.3)
    full = kid_from_features(x, y, num_subsets=7, subset_size=30, seed=3)
    monkeypatch.setattr(im, "_FULL_KERNEL_MAX", 0)
    per_subset = kid_from_features(x, y, num_subsets=7, subset_size=30, seed=3)
    assert per_subset[0] == pytest.approx(full[0], rel=1e-12)
    assert per_subset[1] == pytest.approx(full[1], rel=1e-12)
    assert full[1] > 0


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_agrees_with_torchmetrics():
    tm = pytest.importorskip("torchmetrics.image.kid")
    x, y = gaussian(60, 8, 10), gaussian(60, 8, 11, shift=0.5)

    class Identity(torch.nn.Module):
        num_features = 8

        def forward(self, f):
            return f

    metric = tm.KernelInceptionDistance(feature=Identity(), subsets=1, subset_size=60)
    metric.update(x, real=True)
    metric.update(y, real=False)
    ref_mean, _ = metric.compute()
    assert kid_from_features(x, y)[0] == pytest.approx(float(ref_mean), rel=1e-9)


def _population_mmd2(support_p, p, support_q, q) -> float:
    d = support_p.shape[1]
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3
    return float(p @ k(support_p, support_p) @ p + q @ k(support_q, support_q) @ q
                 - 2 * p @ k(support_p, support_q) @ q)


@pytest.mark.parametrize("same", [True, False])
def test_kid_is_unbiased_for_the_population_mmd(same):
    # Discrete distributions: the population MMD^2 is a finite sum. The mean of the estimator
    # over 400 independent draws must sit within 4 standard errors of it, while the biased
    # V-statistic (diagonal included) must not (so the test can tell them apart).
    rng = np.random.default_rng(12)
    sp, sq = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)) + (0 if same else 0.7)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    sq, q = (sp, p) if same else (sq, np.array([0.4, 0.3, 0.2, 0.1]))
    target = _population_mmd2(sp, p, sq, q)
    unbiased, biased = [], []
    for _ in range(400):
        x = torch.from_numpy(sp[rng.choice(4, 40, p=p)])
        y = torch.from_numpy(sq[rng.choice(4, 40, p=q)])
        unbiased.append(polynomial_mmd2(x, y))
        kxx, kyy, kxy = im._poly(x, x), im._poly(y, y), im._poly(x, y)
        biased.append(float(kxx.mean() + kyy.mean() - 2 * kxy.mean()))
    u, b = np.array(unbiased), np.array(biased)
    se = u.std(ddof=1) / math.sqrt(len(u))
    assert abs(u.mean() - target) < 4 * se
    assert abs(b.mean() - target) > 4 * b.std(ddof=1) / math.sqrt(len(b))
    if same:
        assert target == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- precision/recall, density/coverage

def sklearn_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """Independent reference with scikit-learn's exact k-NN search."""
    def radii(x, k):
        return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)[0][:, k]

    dist = np.linalg.norm(real[:, None, :] - fake[None, :, :], axis=-1)   # (N, M)
    r3, f3, r5 = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    return {"precision": float((dist <= r3[:, None]).any(0).mean()),
            "recall": float((dist <= f3[None, :]).any(1).mean()),
            "density": float((dist < r5[:, None]).sum() / (k_dc * len(fake))),
            "coverage": float((dist.min(1) < r5).mean())}


def test_pr_dc_match_sklearn_reference_on_overlapping_gaussians():
    real, fake = gaussian(300, 4, 13), gaussian(250, 4, 14, shift=0.8)
    ref = sklearn_prdc(real.numpy(), fake.numpy())
    p, r = precision_recall(real, fake, 3)
    d, c = density_coverage(real, fake, 5)
    got = {"precision": p, "recall": r, "density": d, "coverage": c}
    assert got == pytest.approx(ref, abs=1e-12)
    assert 0.1 < p < 0.9 and 0.1 < r < 0.9   # a genuinely partial case


def test_identical_sets():
    x = gaussian(400, 8, 15)
    assert precision_recall(x, x, 3) == (1.0, 1.0)
    # open balls around each point hold exactly itself and its k-1 nearest neighbours
    assert density_coverage(x, x, 5) == (1.0, 1.0)


def test_disjoint_sets():
    x = gaussian(200, 8, 16)
    y = gaussian(200, 8, 17, shift=100.0)
    assert precision_recall(x, y, 3) == (0.0, 0.0)
    assert density_coverage(x, y, 5) == (0.0, 0.0)


def integer_clusters(centers: list[int], size: int = 20) -> torch.Tensor:
    """Clusters of points whose squared distances are exact integers, all distinct within a
    cluster (positions 2^i - 1 along one axis), clusters 1e6 apart along another."""
    pos = torch.tensor([2.0**i - 1 for i in range(size)], dtype=torch.float64)
    return torch.cat([torch.stack([pos, torch.full_like(pos, 1e6 * c)], 1) for c in centers])


def test_known_partial_overlap():
    # real: 10 clusters of 20; fake: exact copies of clusters 0..3 (80) and 40 points far away
    real = integer_clusters(list(range(10)))
    fake = torch.cat([integer_clusters([0, 1, 2, 3]), integer_clusters([50, 51])])
    p, r = precision_recall(real, fake, 3)
    assert p == pytest.approx(80 / 120, abs=1e-15)     # the copies, not the far points
    assert r == pytest.approx(80 / 200, abs=1e-15)     # real clusters 0..3
    d, c = density_coverage(real, fake, 5)
    assert c == pytest.approx(80 / 200, abs=1e-15)
    # each copy lies in exactly k = 5 open real balls (summed over the cluster), the far ones in none
    assert d == pytest.approx(80 * 5 / (5 * 120), abs=1e-15)


def test_knn_radius_needs_enough_samples():
    with pytest.raises(ValueError, match="k=3"):
        precision_recall(gaussian(3, 2, 0), gaussian(10, 2, 1), 3)


# --------------------------------------------------------------------------- classes

def test_class_statistics_on_constructed_labels():
    uniform = torch.full((10,), 100)
    one = class_statistics(torch.full((500,), 3), uniform)
    assert one == {"classes_generated": 1.0, "classes_kl": pytest.approx(math.log(10), rel=1e-12)}
    two = class_statistics(torch.tensor([0, 1] * 250), uniform)
    assert two["classes_generated"] == 2.0 and two["classes_kl"] == pytest.approx(math.log(5), rel=1e-12)
    every = class_statistics(torch.arange(10).repeat(50), uniform)
    assert every == {"classes_generated": 10.0, "classes_kl": pytest.approx(0.0, abs=1e-15)}
    # a class with 1 sample in 1000 (1% of its data share) is below min_share=0.1
    rare = class_statistics(torch.cat([torch.arange(9).repeat(111), torch.tensor([9])]), uniform)
    assert rare["classes_generated"] == 9.0


def test_class_statistics_against_a_skewed_data_histogram_and_accuracy():
    data = torch.tensor([50, 30, 20])
    pred = torch.tensor([0] * 60 + [1] * 40)                 # p_gen = (0.6, 0.4, 0)
    requested = torch.tensor([0] * 50 + [1] * 25 + [2] * 25)
    out = class_statistics(pred, data, requested=requested)
    kl = 0.6 * math.log(0.6 / 0.5) + 0.4 * math.log(0.4 / 0.3)
    assert out["classes_kl"] == pytest.approx(kl, rel=1e-12)
    assert out["classes_generated"] == 2.0
    # matches: indices 0..49 (0 = 0) and 60..74 (1 = 1)
    assert out["cond_accuracy"] == pytest.approx((50 + 15) / 100, rel=1e-15)
    # per requested class: 50 of 50 zeros, 15 of 25 ones, 0 of 25 twos
    assert (out["cond_accuracy_0"], out["cond_accuracy_1"], out["cond_accuracy_2"]) == (1.0, 0.6, 0.0)
    assert out["cond_accuracy_worst"] == 0.0
    only = class_statistics(pred[:75], data, requested=requested[:75])  # class 2 never requested
    assert "cond_accuracy_2" not in only and only["cond_accuracy_worst"] == 0.6


# --------------------------------------------------------------------------- METRICS on digits

@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """sklearn digits as [-1, 1] tensors: (train source, test images, test labels)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE_DIR", str(tmp_path_factory.mktemp("gankit-cache")))
    d = load_digits()
    x = torch.from_numpy(d.images / 8.0 - 1.0).float()[:, None]
    y = torch.from_numpy(d.target).long()
    test = torch.arange(len(y)) % 5 == 4
    yield TensorSource(x[~test], y[~test], name="digits-test-fixture", num_classes=10), x[test], y[test]
    mp.undo()


@pytest.mark.training
def test_metrics_share_one_generation_and_name_the_extractor(digits, record):
    train, xt, yt = digits
    calls = []

    def generate(n, labels):
        calls.append((n, labels))
        return xt[:n]

    ctx = EvalContext(train, generate, num_samples=300, seed=5)
    out = {}
    for name in ("fid", "kid", "pr", "dc", "classes"):
        out.update(METRICS.get(name)(ctx, **METRICS.resolve(name, {})))
    assert len(calls) == 1 and calls[0] == (300, None)       # unconditional: no labels asked for
    assert ctx.cache["feature_extractor"].startswith("gankit-classifier:digits-test-fixture:v1 (test acc ")
    assert "cond_accuracy" not in out
    # the real subset: 300 distinct training images
    real = ctx.cache["images.real"][0]
    rows = {r.numpy().tobytes() for r in train.x}
    assert len({r.numpy().tobytes() for r in real}) == 300 and all(r.numpy().tobytes() in rows for r in real)
    # the registered metrics are the arithmetic on the classifier features of exactly these sets
    clf = ctx.cache["extractor.classifier"]
    fr, ff = clf.features(real), clf.features(xt[:300])
    assert out["fid"] == pytest.approx(fid_from_features(fr, ff), rel=1e-12)
    assert (out["precision"], out["recall"]) == precision_recall(fr, ff, 3)
    assert (out["density"], out["coverage"]) == density_coverage(fr, ff, 5)
    assert out["kid"] == pytest.approx(polynomial_mmd2(fr, ff), rel=1e-12)   # 300 < subset_size: one subset
    # the classifier's histogram is (nearly) the true one of these 300 test digits
    true_kl = class_statistics(yt[:300], torch.bincount(train.y, minlength=10))["classes_kl"]
    assert out["classes_generated"] == 10.0
    assert record("|classes KL - true KL|", abs(out["classes_kl"] - true_kl), "<= 0.01")


@pytest.mark.training
def test_conditional_accuracy_of_label_following_and_label_ignoring_generators(digits, record):
    train, xt, yt = digits
    by_class = [xt[yt == c] for c in range(10)]

    def follows(n, labels):              # a perfect conditional generator: real digits of the label
        return torch.stack([by_class[int(c)][i % len(by_class[int(c)])] for i, c in enumerate(labels)])

    def ignores(n, labels):              # always a zero
        return by_class[0][torch.arange(n) % len(by_class[0])]

    res = {}
    for name, gen in (("follows", follows), ("ignores", ignores)):
        ctx = EvalContext(train, gen, num_samples=300, seed=5, cache={"conditional": True})
        res[name] = METRICS.get("classes")(ctx)
    clf_acc = ctx.cache["extractor.classifier"].test_accuracy
    assert record("classifier test accuracy", clf_acc, ">= 0.95")
    assert record("cond. accuracy of real digits", res["follows"]["cond_accuracy"], ">= 0.95")
    assert res["follows"]["classes_generated"] == 10.0
    assert res["ignores"]["classes_generated"] == 1.0
    share0 = float((train.y == 0).double().mean())
    assert record("|classes KL of zeros + log P(0)|", abs(res["ignores"]["classes_kl"] + math.log(share0)), "<= 0.02")
    # the requested labels follow the real subset (roughly uniform), so ~1 in 10 asked for a zero
    assert record("|cond. accuracy of zeros - P(0)|", abs(res["ignores"]["cond_accuracy"] - share0), "<= 0.04")


@pytest.mark.training
def test_evaluate_images_reports_numbers_and_extractor(digits, record):
    train, xt, yt = digits
    noise = torch.rand(xt.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    good = evaluate_images(train, xt, yt, num_real=359)
    bad = evaluate_images(train, noise, yt, num_real=359)
    assert good["feature_extractor"] == bad["feature_extractor"]
    assert good["feature_extractor"].startswith("gankit-classifier:digits-test-fixture")
    assert record("FID noise / real", bad["fid"] / good["fid"], "> 10")
    assert record("KID noise / |real|", bad["kid"] / max(abs(good["kid"]), 1e-30), "> 10")
    assert record("cond. accuracy real", good["cond_accuracy"], ">= 0.95")
    assert record("cond. accuracy noise", bad["cond_accuracy"], "< 0.3")
    assert record("precision noise", bad["precision"], "< 0.3") and record("precision real", good["precision"], "> 0.8")


def test_evaluate_images_rejects_wrong_shapes_and_unlabeled_data(digits):
    train, xt, _ = digits
    with pytest.raises(DataError, match="shape"):
        evaluate_images(train, xt[:, :, :4, :4])
    unlabeled = TensorSource(train.x, None, name="nolabels")
    with pytest.raises(DataError, match="no class labels"):
        evaluate_images(unlabeled, xt, metrics=("fid",))
