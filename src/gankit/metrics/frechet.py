"""Frechet distance between two Gaussians, the arithmetic behind FID.

    d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})        (Dowson & Landau 1982;
                                                                          Heusel et al. 2017)

The trace term is computed without ever forming a matrix square root or a non-symmetric
product. For any factors ``S1 = F1 F1^T`` and ``S2 = F2 F2^T`` (``F1 (d, r1)``, ``F2 (d, r2)``),
``S1 S2 = F1 (F1^T F2 F2^T)`` has the nonzero eigenvalues of ``C^T C`` with ``C = F2^T F1 (r2, r1)``,
so

    Tr((S1 S2)^{1/2}) = sum of the singular values of  C = F2^T F1  (its nuclear norm).

The factors are pivoted Cholesky factors (LAPACK ``dpstrf``, ``d^3/3`` flops each, against
about ``9 d^3`` for a symmetric eigendecomposition with vectors), so the work is two cheap
factorizations, one triangular product and one values-only SVD (``gesdd``), all in float64
through scipy's LAPACK; the SVD is most of the time. Three choices keep singular and
near-singular covariances (fewer samples than feature dimensions, dead ReLU units,
duplicated features, features of very different scales) accurate:

* each covariance is scaled to unit diagonal (a correlation matrix) before it is factored,
  so the rank decision and the rounding errors follow each feature's own variance: features
  whose variances span 1e-12..1e4 keep their small-scale directions, which a threshold at
  ``eps * ||S||`` would drop (and ``Tr((S1 S2)^{1/2})`` can hinge on them);
* the factorization stops once every remaining pivot is below ``m * eps`` (``m`` features of
  nonzero variance): the Schur complement left is rounding noise of a zero block, and keeping
  it would turn a 1e-16 into a 1e-8 under the square root;
* singular values of ``C`` rather than square roots of the eigenvalues of ``C^T C`` (or of
  ``S1^{1/2} S2 S1^{1/2}``), which would square the condition number and lose half of the
  digits the same way.

On sample covariances of rank < d this agrees with the feature-space identity
``Tr((S1 S2)^{1/2}) = ||Y_c X_c^T||_* / sqrt((n1-1)(n2-1))`` to ~1e-15 relative, where the
``scipy.linalg.sqrtm(S1 @ S2)`` and ``eigvals(S1 @ S2)`` formulas are off by ~1e-8
(tests/metrics/test_frechet.py; timings and errors against them: docs/bench-frechet.md).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.blas
import scipy.linalg.lapack
import torch
from torch import Tensor

Array = Tensor | np.ndarray

_EPS = float(np.finfo(np.float64).eps)
_SMALL = 256 * 256  # r1 * r2 below which the product and SVD go through numpy (see trace_sqrt_product)


def _as_f64(a: Array) -> Tensor:
    return torch.as_tensor(a).detach().to("cpu", torch.float64)


def psd_sqrt(cov: Array) -> Tensor:
    """Symmetric PSD square root ``V diag(sqrt(l)) V^T`` of ``cov (d, d)`` in float64, with
    eigenvalues below the rounding level ``d * eps * max|l|`` (and negative ones) set to 0."""
    c = _as_f64(cov)
    c = (c + c.T) / 2
    vals, vecs = torch.linalg.eigh(c)
    tol = c.shape[0] * torch.finfo(torch.float64).eps * vals.abs().max()
    vals = torch.where(vals > tol, vals, torch.zeros_like(vals))
    return (vecs * vals.sqrt()) @ vecs.T


def _pivoted_cholesky(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Scaled pivoted Cholesky of a finite symmetric ``c (d, d)``: ``(low, feature, sd, rank)``
    with ``c[feature][:, feature] ~= (sd L)(sd L)^T`` for ``L`` the lower triangle of
    ``low[:, :rank]`` (``low`` is Fortran-ordered; above its diagonal and past column ``rank``
    it holds leftovers). ``feature``: the features of nonzero variance in pivot order, ``sd``
    their standard deviations."""
    d = c.shape[0]
    var = np.diag(c)
    live = np.flatnonzero(var > 0)
    m = live.size
    if m == 0:
        return np.zeros((0, 0), order="F"), live, np.zeros(0), 0
    sd = np.sqrt(var[live])
    half_inv = 0.5 / sd
    r = c if m == d else c[np.ix_(live, live)]
    a = r + r.T                                   # symmetrised, then scaled to unit diagonal
    a *= half_inv[:, None]
    a *= (2.0 * half_inv)[None, :]
    # a.T: the same (symmetric) matrix in the Fortran order LAPACK works in, so not copied
    low, piv, rank, info = scipy.linalg.lapack.dpstrf(a.T, tol=m * _EPS, lower=1, overwrite_a=1)
    if info < 0:
        raise ValueError(f"dpstrf argument {-info} invalid")
    piv = piv - 1
    return low, live[piv], sd[piv], int(rank)


def _finite_f64(a: Array) -> np.ndarray | None:
    c = _as_f64(a).numpy()
    return c if np.isfinite(c).all() else None


def psd_factor(cov: Array) -> Tensor:
    """A factor ``F (d, r)`` with ``F F^T = cov`` for PSD ``cov (d, d)``, in float64.

    Features of zero variance (``cov_ii <= 0``) are rows of zeros. The others are scaled to
    unit variance, ``R = D^{-1/2} cov D^{-1/2}`` with ``D = diag(cov)``, and ``R`` is factored
    by pivoted Cholesky (LAPACK ``dpstrf``), stopping once every remaining pivot is below the
    rounding level ``m * eps`` (``m`` features left): ``F = D^{1/2} P L``. Scaling first makes
    the rank decision and the errors follow each feature's own variance rather than the
    largest one. An indefinite input is factored only as far as its pivots stay above that
    level; non-finite entries raise ``ValueError``."""
    c = _finite_f64(cov)
    if c is None:
        raise ValueError("psd_factor: covariance has non-finite entries")
    d = c.shape[0]
    if c.shape != (d, d):
        raise ValueError(f"psd_factor: expected a square matrix, got {c.shape}")
    low, feature, sd, rank = _pivoted_cholesky(c)
    out = np.zeros((d, rank))
    out[feature] = np.tril(low[:, :rank]) * sd[:, None]
    return torch.from_numpy(out)


def trace_sqrt_product(cov1: Array, cov2: Array) -> float:
    """``Tr((S1 S2)^{1/2})`` for PSD ``S1, S2 (d, d)``: the nuclear norm of ``F2^T F1`` for
    factors ``S = F F^T`` (:func:`psd_factor`). Non-finite entries give ``nan``."""
    c1, c2 = _finite_f64(cov1), _finite_f64(cov2)
    if c1 is None or c2 is None:
        return float("nan")
    d = c1.shape[0]
    if c1.shape != (d, d) or c2.shape != (d, d):
        raise ValueError(f"trace_sqrt_product: shapes {c1.shape}, {c2.shape}")
    low1, feat1, sd1, r1 = _pivoted_cholesky(c1)
    low2, feat2, sd2, r2 = _pivoted_cholesky(c2)
    if r1 == 0 or r2 == 0:
        return 0.0
    # F1 = P1 (sd1 L1) and F2 = P2 (sd2 L2) row-wise. C^T = F1^T F2 = G^T L2 with G the rows of
    # F1 in F2's pivot order times sd2 (zero for features dead in S1), and L2 lower-trapezoidal
    # (m2, r2).
    pos1 = np.full(d, -1)
    pos1[feat1] = np.arange(feat1.size)
    rows = pos1[feat2]
    f1 = np.tril(low1[:, :r1])
    f1 *= sd1[:, None]
    g = np.zeros((feat2.size, r1))
    both = rows >= 0
    g[both] = f1[rows[both]] * sd2[both, None]
    if r1 * r2 < _SMALL:
        # small: numpy's product and SVD, which stay on one thread at these sizes (a threaded
        # BLAS call here costs more in waking threads than in arithmetic, most of all on busy cores)
        ct = g.T @ np.tril(low2[:, :r2])
        return float(np.linalg.svd(ct, compute_uv=False).sum())
    # large: a triangular product (trmm, half the flops of a general one) on L2's top square
    # plus a general one on the rest (G^T (r1, m2) is Fortran-ordered, as trmm wants it), and
    # scipy's gesdd rather than torch's: as fast on one thread, and it keeps the route in one
    # BLAS (OpenBLAS threads, not OpenMP), which degrades far less on oversubscribed cores
    ct = scipy.linalg.blas.dtrmm(1.0, low2[:r2, :r2], g[:r2].T, side=1, lower=1, overwrite_b=1)
    if r2 < feat2.size:
        ct += g[r2:].T @ low2[r2:, :r2]
    return float(scipy.linalg.svdvals(ct, overwrite_a=True, check_finite=False).sum())


def frechet_distance(mu1: Array, cov1: Array, mu2: Array, cov2: Array) -> float:
    """Squared Frechet (2-Wasserstein) distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``mu (d,)``, ``cov (d, d)``; computed in float64. Not clamped at 0, so rounding shows
    (about ``-1e-15 * Tr(S)`` for two identical covariances). Non-finite entries give ``nan``.
    """
    m1, m2 = _as_f64(mu1).reshape(-1), _as_f64(mu2).reshape(-1)
    c1, c2 = _as_f64(cov1), _as_f64(cov2)
    d = m1.shape[0]
    if m2.shape != (d,) or c1.shape != (d, d) or c2.shape != (d, d):
        raise ValueError(f"shape mismatch: mu {tuple(m1.shape)}/{tuple(m2.shape)}, "
                         f"cov {tuple(c1.shape)}/{tuple(c2.shape)}")
    mean_term = float(((m1 - m2) ** 2).sum())
    cov_term = float(torch.trace(c1) + torch.trace(c2)) - 2.0 * trace_sqrt_product(c1, c2)
    return mean_term + cov_term
