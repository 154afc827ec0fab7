"""The two-sample distances: unbiased RBF MMD^2 against independent implementations (a
double loop, scikit-learn's kernel), its expectation (0 under equal distributions, the
closed form between Gaussians), the median heuristic against scipy, and the ``twosample``
metric's reference and baseline samples (held-out split, halves, independent draws)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import rbf_kernel

from gankit.data import DATASETS
from gankit.data.points import split_points
from gankit.data.base import TensorSource
from gankit.metrics import METRICS, EvalContext
from gankit.metrics.twosample import energy_distance, gaussian_mmd2, heldout_pair, median_bandwidth


def _mmd2_loops(x: np.ndarray, y: np.ndarray, h: float) -> float:
    """Gretton et al. 2012, eq. 3, written as the sums it is (i != j within a sample)."""
    k = lambda a, b: math.exp(-float(np.sum((a - b) ** 2)) / (2 * h * h))
    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return kxx + kyy - 2 * kxy


def _energy_loops(x: np.ndarray, y: np.ndarray) -> float:
    d = lambda a, b: float(np.linalg.norm(a - b))
    n, m = len(x), len(y)
    xy = sum(d(a, b) for a in x for b in y) / (n * m)
    xx = sum(d(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(d(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    return 2 * xy - xx - yy


def test_mmd2_equals_a_double_loop_and_scikit_learn_s_kernel():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, (40, 3)), rng.normal(0.5, 2, (30, 3))
    h = 1.7
    ours = gaussian_mmd2(torch.tensor(x), torch.tensor(y), h)
    assert ours == pytest.approx(_mmd2_loops(x, y, h), rel=1e-12)
    g = 1 / (2 * h * h)
    kxx, kyy, kxy = rbf_kernel(x, x, gamma=g), rbf_kernel(y, y, gamma=g), rbf_kernel(x, y, gamma=g)
    n, m = len(x), len(y)
    sk = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
          - 2 * kxy.mean())
    assert ours == pytest.approx(sk, rel=1e-12)
    # torch.cdist computes distances through |a|^2 + |b|^2 - 2 a.b past 25 rows: ~1e-9 relative
    assert energy_distance(torch.tensor(x), torch.tensor(y)) == pytest.approx(_energy_loops(x, y), rel=1e-8)


def _draws(stat, sample_p, sample_q, reps: int = 400) -> tuple[float, float]:
    vals = np.array([stat(sample_p(g), sample_q(g)) for g in (torch.Generator().manual_seed(s) for s in range(reps))])
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(reps))


def test_unbiased_estimators_average_to_zero_under_equal_distributions():
    p = lambda g: torch.randn(40, 2, generator=g, dtype=torch.float64)
    for stat in (lambda a, b: gaussian_mmd2(a, b, 1.0), energy_distance):
        mean, se = _draws(stat, p, p)
        assert abs(mean) < 3 * se, (mean, se)
    # the biased (V-statistic) MMD^2, with the diagonal kept, sits well above 0: the test can tell
    biased = lambda a, b: float(torch.exp(-torch.cdist(a, a) ** 2 / 2).mean() + torch.exp(-torch.cdist(b, b) ** 2 / 2).mean()
                                - 2 * torch.exp(-torch.cdist(a, b) ** 2 / 2).mean())
    mean, se = _draws(biased, p, p)
    assert mean > 10 * se


def test_mmd2_averages_to_its_closed_form_between_gaussians():
    # N(0, s1^2 I) vs N(mu, s2^2 I) in d dimensions, kernel exp(-|a-b|^2 / (2 h^2)):
    # E k(X, X') = (h^2 / (h^2 + 2 s1^2))^(d/2); E k(X, Y) = (h^2 / (h^2 + s1^2 + s2^2))^(d/2) exp(-|mu|^2 / (2 (h^2 + s1^2 + s2^2)))
    d, s1, s2, h = 2, 1.0, 0.5, 0.8
    mu = torch.tensor([1.0, -0.5], dtype=torch.float64)
    e_same = lambda s: (h * h / (h * h + 2 * s * s)) ** (d / 2)
    v = h * h + s1 * s1 + s2 * s2
    exact = e_same(s1) + e_same(s2) - 2 * (h * h / v) ** (d / 2) * math.exp(-float(mu @ mu) / (2 * v))
    mean, se = _draws(lambda a, b: gaussian_mmd2(a, b, h),
                      lambda g: s1 * torch.randn(30, d, generator=g, dtype=torch.float64),
                      lambda g: mu + s2 * torch.randn(50, d, generator=g, dtype=torch.float64))
    assert abs(mean - exact) < 3 * se and se < 0.05 * exact


def test_median_bandwidth_is_scipy_s_median_distance():
    x = torch.randn(301, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 7
    assert median_bandwidth(x) == pytest.approx(float(np.median(pdist(x.numpy()))), rel=1e-12)
    assert median_bandwidth(torch.zeros(5, 2)) == 1.0  # one repeated point: no scale, a unit kernel
    assert median_bandwidth(torch.tensor([[0.0], [0.0], [0.0], [2.0]])) == pytest.approx(1.0)  # mean 6 / 6


def _ctx(data, generate, n: int = 2500) -> EvalContext:
    return EvalContext(data, generate, num_samples=n, seed=5)


def test_on_a_points_file_the_reference_is_the_held_out_split_and_the_baseline_the_training_split():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (300, 2)) * [100.0, 0.01] + [1e3, 0.0]
    src = split_points(x, None, [], name="p", test_fraction=0.1, seed=0, where="p")
    fake = torch.tensor(rng.normal(0, 1, (270, 2)) * [120.0, 0.01] + [1e3, 0.0], dtype=torch.float32)
    out = METRICS.get("twosample")(_ctx(src, lambda n, y: fake[:n]))
    train, test = src.x.double().numpy(), src.test_x.double().numpy()
    h = float(np.median(pdist(test)))
    assert out["mmd2_bandwidth"] == pytest.approx(h, rel=1e-6)
    # num_samples exceeds both splits: the whole held-out split against the whole training split / 270 fakes
    assert out["energy_baseline"] == pytest.approx(_energy_loops(train, test), rel=1e-9)
    assert out["energy"] == pytest.approx(_energy_loops(fake.double().numpy(), test), rel=1e-9)
    assert out["mmd2_baseline"] == pytest.approx(_mmd2_loops(train, test, h), rel=1e-9, abs=1e-12)
    assert out["mmd2"] == pytest.approx(_mmd2_loops(fake.double().numpy(), test, h), rel=1e-9, abs=1e-12)
    # fewer samples: the first n of seeded orders; the same numbers every time
    small = METRICS.get("twosample")(_ctx(src, lambda n, y: fake[:n], n=20))
    assert small == METRICS.get("twosample")(_ctx(src, lambda n, y: fake[:n], n=20))
    ref, base = heldout_pair(_ctx(src, None, n=20), 20)
    assert ref.shape == base.shape == (20, 2)
    held = {tuple(r) for r in src.test_x.tolist()}
    assert all(tuple(r) in held for r in ref.tolist()) and not any(tuple(r) in held for r in base.tolist())


def test_a_perfect_sampler_scores_like_its_baseline_and_a_collapsed_one_does_not():
    ring = DATASETS.build("ring", {})
    g = torch.Generator().manual_seed(11)
    perfect = METRICS.get("twosample")(_ctx(ring, lambda n, y: ring.sample(n, g)[0], n=800))
    # both are unbiased estimates of 0 with the spread of one 800-vs-800 comparison
    assert abs(perfect["energy"]) < 5e-3 and abs(perfect["energy_baseline"]) < 5e-3
    collapsed = METRICS.get("twosample")(_ctx(ring, lambda n, y: ring.means[:1].float().expand(n, 2), n=800))
    assert collapsed["energy"] > 100 * abs(collapsed["energy_baseline"])
    assert collapsed["mmd2"] > 100 * abs(collapsed["mmd2_baseline"])


def test_a_finite_set_without_a_held_out_split_is_compared_in_disjoint_halves():
    x = torch.arange(40, dtype=torch.float32).reshape(20, 2)
    src = TensorSource(x, None, name="t", kind="points")
    ref, base = heldout_pair(_ctx(src, None), 2500)
    assert ref.shape == base.shape == (10, 2)
    rows = sorted(r[0] for r in torch.cat([ref, base]).tolist())
    assert rows == sorted(x[:, 0].tolist())  # every row once
