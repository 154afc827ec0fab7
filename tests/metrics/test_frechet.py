"""Frechet distance and the streaming feature statistics against independent references:
the scipy.linalg.sqrtm formula, closed forms, a feature-space identity (QR + SVD of the raw
features, no covariance formed), mpmath at 60 digits, and numpy's two-pass covariance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.metrics import frechet as frechet_module
from gankit.metrics.frechet import (
    frechet_distance,
    psd_factor,
    psd_sqrt,
    singular_values,
    trace_sqrt_product,
)
from gankit.metrics.stats import FeatureStats


def sqrtm_reference(mu1, s1, mu2, s2) -> float:
    """The formula of the original FID code: ``Tr(sqrtm(S1 S2))``, real part."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def random_gaussian_stats(rng, d, n, shift=0.0):
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + shift
    return x, x.mean(0), np.cov(x, rowvar=False)


def rotated_diagonals(rng, d, a, b):
    """Two commuting covariances Q diag(a) Q^T, Q diag(b) Q^T."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T


@pytest.mark.parametrize("d,n,seed", [(4, 50, 0), (16, 500, 1), (64, 400, 2), (128, 2000, 3)])
def test_matches_scipy_sqrtm_formula_on_random_covariances(d, n, seed):
    rng = np.random.default_rng(seed)
    _, m1, s1 = random_gaussian_stats(rng, d, n)
    _, m2, s2 = random_gaussian_stats(rng, d, n, shift=0.5)
    ref = sqrtm_reference(m1, s1, m2, s2)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-6)
    # torch and numpy inputs give the same number
    t = [torch.from_numpy(a) for a in (m1, s1, m2, s2)]
    assert frechet_distance(*t) == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("d,rank,seed", [(32, 8, 0), (128, 30, 1)])
def test_rank_deficient_commuting_covariances_closed_form(d, rank, seed):
    # S1, S2 share eigenvectors, each singular; d^2 = sum (sqrt(a) - sqrt(b))^2 exactly.
    rng = np.random.default_rng(seed)
    a, b = np.zeros(d), np.zeros(d)
    a[:rank] = rng.uniform(0.5, 2.0, rank)
    b[rank // 2:rank // 2 + rank] = rng.uniform(0.5, 2.0, rank)   # overlapping, partly disjoint supports
    s1, s2 = rotated_diagonals(rng, d, a, b)
    mu = rng.normal(size=d)
    exact = float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    # measured: ~1e-15 relative here, where sqrtm(S1 S2) is off by ~3e-8 and the eigenvalue
    # route sqrt(eig(A S2 A)) by ~2e-8
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(exact, rel=1e-12)
    assert frechet_distance(mu, s1, mu + 1.5, s2) == pytest.approx(exact + 1.5**2 * d, rel=1e-12)


@pytest.mark.parametrize("d,n1,n2,seed", [(64, 20, 30, 0), (256, 100, 60, 1)])
def test_fewer_samples_than_dimensions_matches_feature_space_identity(d, n1, n2, seed):
    # Sample covariances of rank n-1 < d. Independent reference without any matrix square
    # root: Tr((S1 S2)^{1/2}) = ||Yc Xc^T||_* / sqrt((n1-1)(n2-1)) (Xc, Yc: centred features).
    rng = np.random.default_rng(seed)
    x, m1, s1 = random_gaussian_stats(rng, d, n1)
    y, m2, s2 = random_gaussian_stats(rng, d, n2, shift=0.3)
    xc, yc = x - m1, y - m2
    nuclear = np.linalg.svd(yc @ xc.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    assert trace_sqrt_product(s1, s2) == pytest.approx(nuclear, rel=1e-12)
    ref = ((m1 - m2) ** 2).sum() + (xc**2).sum() / (n1 - 1) + (yc**2).sum() / (n2 - 1) - 2 * nuclear
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-12)
    # the same set against itself: 0 to within 1e-13 of the scale Tr(S), from both sides
    assert abs(frechet_distance(m1, s1, m1, s1)) <= 1e-13 * np.trace(s1)


def features_reference(x, y):
    """``Tr((S1 S2)^{1/2})`` and the Frechet distance from the raw features, no covariance formed:
    ``Xc = Q1 R1``, ``Yc = Q2 R2`` (QR), and ``||Yc Xc^T||_* = ||R2 R1^T||_*`` (SVD)."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    r1, r2 = np.linalg.qr(xc, mode="r"), np.linalg.qr(yc, mode="r")
    tr_sqrt = np.linalg.svd(r2 @ r1.T, compute_uv=False).sum() / np.sqrt((len(x) - 1) * (len(y) - 1))
    traces = (xc**2).sum() / (len(x) - 1) + (yc**2).sum() / (len(y) - 1)
    return tr_sqrt, ((x.mean(0) - y.mean(0)) ** 2).sum() + traces - 2 * tr_sqrt, traces


def singular_feature_sets(case, rng):
    if case == "dead-and-duplicated-units":          # constant features, exact copies, a multiple
        d, n = 96, 1500
        x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
        x[:, :8] = 0.1                                 # not a binary fraction: variance ~1e-34, not 0
        x[:, 8:20] = x[:, 20:32]
        y = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 1
        y[:, 40:50] = -1.0
        y[:, 50:56] = 3 * y[:, 60:66]
    elif case == "exact-low-rank":                     # rank 300 of 400, more samples than features
        d, k, n = 400, 300, 1200                       # (large enough for the trmm + scipy SVD path)
        x = rng.normal(size=(n, k)) @ rng.normal(size=(k, d))
        y = rng.normal(size=(n, k)) @ rng.normal(size=(k, d))
    elif case == "fewer-samples-than-features":        # rank n - 1, n close to d
        d = 160
        x = rng.normal(size=(d - 1, d)) @ rng.normal(size=(d, d))
        y = rng.normal(size=(d + 2, d)) * rng.uniform(0.1, 10, d)
    elif case == "near-singular":                      # full rank, singular values 1 .. 1e-7
        d, n = 128, 1000
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        sv = 10 ** np.linspace(0, -7, d)[:, None]
        x = rng.normal(size=(n, d)) @ (sv * q)
        y = rng.normal(size=(n, d)) @ (sv * q.T)
    else:                                              # feature variances 1e-12 .. 1e4
        d, n = 128, 1000
        scale = 10 ** np.linspace(-6, 2, d)
        x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d) * scale
        y = rng.normal(size=(n, d)) * scale[::-1]      # each feature's product of scales: equal
    return x, y


SINGULAR_CASES = ["dead-and-duplicated-units", "exact-low-rank", "fewer-samples-than-features",
                  "near-singular", "feature-scales-1e-12-to-1e4"]


@pytest.mark.parametrize("case", SINGULAR_CASES)
def test_singular_and_near_singular_covariances_match_features_reference(case):
    # measured ~1e-16..3e-15 relative (OpenBLAS/MKL, AVX-512, AVX2 and generic kernels); the
    # sqrtm(S1 S2) formula is off by 4e-9..6e-5 on these
    rng = np.random.default_rng(SINGULAR_CASES.index(case))
    x, y = singular_feature_sets(case, rng)
    m1, s1, m2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    tr_sqrt, fid, traces = features_reference(x, y)
    assert trace_sqrt_product(s1, s2) == pytest.approx(tr_sqrt, rel=1e-12)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(fid, rel=1e-12, abs=1e-13 * traces)
    if case != "near-singular":                        # the cases discriminate: sqrtm is far off
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sq = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
        assert abs(sq - tr_sqrt) > 1e-10 * tr_sqrt


@pytest.mark.parametrize("case", SINGULAR_CASES)
def test_singular_cases_through_the_two_stage_svd(case, monkeypatch):
    # the same five cases with every size routed through trmm + singular_values (at their own
    # sizes they take numpy's or gesdd's SVD): measured 1e-16..2e-15 relative
    monkeypatch.setattr(frechet_module, "_SMALL", 0)
    monkeypatch.setattr(frechet_module, "_BAND_MIN", 0)
    rng = np.random.default_rng(SINGULAR_CASES.index(case))
    x, y = singular_feature_sets(case, rng)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    tr_sqrt, _, _ = features_reference(x, y)
    assert trace_sqrt_product(s1, s2) == pytest.approx(tr_sqrt, rel=1e-12)


def test_rank_deficient_with_dead_units_at_the_two_stage_size():
    # d = 512, ranks 448 and 460 (>= _BAND_MIN): the route FID at 2048 features takes, by default
    rng = np.random.default_rng(12)
    d, n = 512, 1200
    x = rng.normal(size=(n, 448)) @ rng.normal(size=(448, d))
    y = rng.normal(size=(n, 460)) @ rng.normal(size=(460, d)) + 0.2
    x[:, :24] = 0.0
    y[:, 100:130] = 1.5
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert min(psd_factor(s1).shape[1], psd_factor(s2).shape[1]) >= frechet_module._BAND_MIN
    tr_sqrt, fid, traces = features_reference(x, y)
    assert trace_sqrt_product(s1, s2) == pytest.approx(tr_sqrt, rel=1e-12)
    assert trace_sqrt_product(s2, s1) == pytest.approx(tr_sqrt, rel=1e-12)   # the other orientation
    assert frechet_distance(x.mean(0), s1, y.mean(0), s2) == pytest.approx(fid, rel=1e-12, abs=1e-13 * traces)


def _orthonormal(rng, n, k):
    return np.linalg.qr(rng.normal(size=(n, k)))[0]


@pytest.mark.parametrize("shape", [(600, 600), (700, 450), (450, 700)])
@pytest.mark.parametrize("kind", ["random", "rank-2/3", "graded-singular-values", "graded-rows"])
def test_singular_values_two_stage_against_references(shape, kind):
    # the two-stage SVD (band reduction + dgbbrd + dqds) against numpy's gesdd and, where the
    # matrix is built as U diag(s) V^T, against s: absolute errors O(eps ||a||) like gesdd's
    # (measured <= 7e-15 ||a|| here, every band width), nothing squared
    assert frechet_module._lapack_routines(), "scipy's LAPACK capsules not reachable: fallback only"
    rng = np.random.default_rng(sum(shape) + len(kind))
    m, n = shape
    k = min(m, n)
    exact = None
    if kind == "random":
        a = rng.normal(size=shape)
    elif kind == "rank-2/3":
        exact = np.zeros(k)
        exact[: 2 * k // 3] = np.sort(rng.uniform(0.5, 2.0, 2 * k // 3))[::-1]
        a = _orthonormal(rng, m, k) * exact @ _orthonormal(rng, n, k).T
    elif kind == "graded-singular-values":
        exact = 10 ** np.linspace(0, -15, k)
        a = _orthonormal(rng, m, k) * exact @ _orthonormal(rng, n, k).T
    else:
        a = (10 ** np.linspace(0, -12, m))[:, None] * rng.normal(size=shape)
    ref = np.linalg.svd(a, compute_uv=False)
    before = a.copy()
    for band in (None, 1, 7, 32):
        sv = singular_values(a, band)
        assert sv.shape == (k,) and np.all(np.diff(sv) <= 0)
        np.testing.assert_allclose(sv, ref, rtol=0, atol=2e-14 * ref[0])
        if exact is not None:
            np.testing.assert_allclose(sv, exact, rtol=0, atol=2e-14 * ref[0])
        assert sv.sum() == pytest.approx(ref.sum(), rel=1e-14)
    np.testing.assert_array_equal(a, before)          # not overwritten by default
    if kind == "rank-2/3":
        assert np.all(sv[2 * k // 3:] <= 2e-14 * ref[0])


def test_singular_values_small_and_degenerate_shapes():
    rng = np.random.default_rng(5)
    for shape in [(1, 1), (1, 6), (6, 1), (2, 2), (3, 9), (40, 33)]:
        a = rng.normal(size=shape)
        np.testing.assert_allclose(singular_values(a), np.linalg.svd(a, compute_uv=False), rtol=1e-13)
    assert not singular_values(np.zeros((50, 40))).any()
    f = np.asfortranarray(rng.normal(size=(80, 60)))
    ref = np.linalg.svd(f, compute_uv=False)
    np.testing.assert_allclose(singular_values(f, overwrite_a=True), ref, rtol=1e-13)


def test_psd_factor_reproduces_the_covariance_and_finds_its_rank():
    rng = np.random.default_rng(4)
    x, y = singular_feature_sets("dead-and-duplicated-units", rng)
    x[:, :8] = 0.25       # exactly constant (0.1 leaves a variance ~1e-34, one more pivot, harmless)
    for feats, dead in ((x, range(8)), (y, range(40, 50))):
        s = np.cov(feats, rowvar=False)
        f = psd_factor(s).numpy()
        assert f.shape == (96, np.linalg.matrix_rank(feats - feats.mean(0)))
        np.testing.assert_allclose(f @ f.T, s, rtol=0, atol=1e-13 * np.abs(s).max())
        assert not f[list(dead)].any()
    z = rng.normal(size=(30, 50))                      # n < d: rank 29
    assert psd_factor(np.cov(z, rowvar=False)).shape == (50, 29)
    assert psd_factor(np.zeros((4, 4))).shape == (4, 0)
    assert frechet_distance(np.zeros(4), np.zeros((4, 4)), np.ones(4), 4 * np.eye(4)) == pytest.approx(4.0 + 16.0)
    bad = np.eye(3)
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        psd_factor(bad)
    assert np.isnan(frechet_distance(np.zeros(3), bad, np.zeros(3), np.eye(3)))


@pytest.mark.parametrize("d,seed", [(8, 0), (100, 1), (300, 2)])   # 300: the trmm + scipy SVD path
def test_agrees_with_the_eigendecomposition_route(d, seed):
    # the previous algorithm: nuclear norm of S2^{1/2} S1^{1/2}, square roots by eigh
    rng = np.random.default_rng(seed)
    _, _, s1 = random_gaussian_stats(rng, d, 3 * d)
    _, _, s2 = random_gaussian_stats(rng, d, 3 * d)
    ref = float(torch.linalg.svdvals(psd_sqrt(s2) @ psd_sqrt(s1)).sum())
    assert trace_sqrt_product(s1, s2) == pytest.approx(ref, rel=1e-12)
    assert trace_sqrt_product(s1, s2) == pytest.approx(trace_sqrt_product(s2, s1), rel=1e-12)


def test_ill_conditioned_full_rank_matches_mpmath():
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(7)
    d = 8
    q1, _ = np.linalg.qr(rng.normal(size=(d, d)))
    q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s1 = q1 @ np.diag(10 ** rng.uniform(-12, 0, d)) @ q1.T     # condition numbers up to 1e12
    s2 = q2 @ np.diag(10 ** rng.uniform(-12, 0, d)) @ q2.T
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    mu1, mu2 = rng.normal(size=d) * 1e-3, rng.normal(size=d) * 1e-3

    mpmath.mp.dps = 60
    a, b = mpmath.matrix(s1.tolist()), mpmath.matrix(s2.tolist())
    ev, vec = mpmath.eigsy(a)
    root = vec * mpmath.diag([mpmath.sqrt(e) for e in ev]) * vec.T
    m = root * b * root
    ev2, _ = mpmath.eigsy((m + m.T) / 2)
    tr_sqrt = sum(mpmath.sqrt(e) for e in ev2)
    ref = float(sum((mpmath.mpf(u) - mpmath.mpf(v)) ** 2 for u, v in zip(mu1, mu2))
                + sum(a[i, i] + b[i, i] for i in range(d)) - 2 * tr_sqrt)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-10)


def test_mean_shift_with_equal_covariances_is_squared_distance():
    rng = np.random.default_rng(3)
    _, mu, s = random_gaussian_stats(rng, 32, 300)
    delta = rng.normal(size=32)
    assert frechet_distance(mu, s, mu + delta, s) == pytest.approx(float(delta @ delta), rel=1e-10)


def test_univariate_closed_form():
    # d = 1: (m1 - m2)^2 + (sigma1 - sigma2)^2
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9.0 + 1.0, rel=1e-14)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_agrees_with_torchmetrics_fid_on_custom_features():
    tm = pytest.importorskip("torchmetrics.image.fid")
    rng = np.random.default_rng(11)
    x, m1, s1 = random_gaussian_stats(rng, 16, 400)
    y, m2, s2 = random_gaussian_stats(rng, 16, 300, shift=0.2)

    class Identity(torch.nn.Module):
        num_features = 16

        def forward(self, f):
            return f

    metric = tm.FrechetInceptionDistance(feature=Identity())
    metric.update(torch.from_numpy(x), real=True)
    metric.update(torch.from_numpy(y), real=False)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(float(metric.compute()), rel=1e-6)


# --------------------------------------------------------------------------- FeatureStats

def test_stats_streamed_in_chunks_equal_numpy_two_pass():
    rng = np.random.default_rng(0)
    # a mean 1e8 times the spread: the raw-sum formula (sum x x^T - n mu mu^T) / (n - 1) is
    # off by ~40 here (covariance entries ~1-10); the pairwise merge keeps ~1e-9
    x = rng.normal(size=(1000, 6)) @ rng.normal(size=(6, 6)) + 1e8
    stats = FeatureStats()
    for chunk in np.array_split(x, 7):
        stats.update(torch.from_numpy(chunk))
    mu, cov = stats.compute()
    assert stats.n == 1000
    np.testing.assert_allclose(mu.numpy(), x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(cov.numpy(), np.cov(x, rowvar=False), rtol=0, atol=1e-8)


def test_stats_merge_is_order_independent_and_matches_single_pass():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(500, 5)) * 3 + 2)
    parts = [FeatureStats().update(c) for c in torch.split(x, [7, 200, 1, 292])]
    forward, backward = FeatureStats(), FeatureStats()
    for p in parts:
        forward.merge(p)
    for p in reversed(parts):
        backward.merge(p)
    whole_mu, whole_cov = FeatureStats().update(x).compute()
    for s in (forward, backward):
        mu, cov = s.compute()
        torch.testing.assert_close(mu, whole_mu, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(cov, whole_cov, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(whole_cov.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-12)


def test_stats_state_dict_round_trip_and_too_few_samples():
    s = FeatureStats().update(torch.arange(6.0).reshape(3, 2))
    t = FeatureStats.from_state(s.state_dict())
    mu, cov = t.compute()
    torch.testing.assert_close(mu, torch.tensor([2.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(cov, torch.full((2, 2), 4.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 2"):
        FeatureStats().update(torch.zeros(1, 2)).compute()
    with pytest.raises(ValueError, match="dimension"):
        FeatureStats().update(torch.zeros(3, 2)).update(torch.zeros(3, 4))


def _sync_worker(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    x = torch.arange(60, dtype=torch.float64).reshape(20, 3) ** 1.5
    stats = FeatureStats().update(x[rank::world]).sync()      # each rank saw every other row
    if rank == 0:
        torch.save(stats.state_dict(), out)
    dist.destroy_process_group()


def test_stats_sync_across_two_processes_equals_single_pass(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "merged.pt"
    mp.spawn(_sync_worker, args=(2, f"file://{tmp_path / 'rendezvous'}", str(out)), nprocs=2)
    merged = FeatureStats.from_state(torch.load(out, weights_only=True))
    x = (torch.arange(60, dtype=torch.float64).reshape(20, 3) ** 1.5).numpy()
    mu, cov = merged.compute()
    assert merged.n == 20
    np.testing.assert_allclose(mu.numpy(), x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(cov.numpy(), np.cov(x, rowvar=False), rtol=1e-12)
