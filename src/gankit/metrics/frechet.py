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
factorizations, one product and one values-only SVD (``gesdd``), all in float64; the SVD is
most of the time. Three choices keep singular and near-singular covariances (fewer samples
than feature dimensions, dead ReLU units, duplicated features, features of very different
scales) accurate:

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
import torch
from torch import Tensor

Array = Tensor | np.ndarray

_EPS = float(np.finfo(np.float64).eps)


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


def psd_factor(cov: Array) -> Tensor:
    """A factor ``F (d, r)`` with ``F F^T = cov`` for PSD ``cov (d, d)``, in float64.

    Features of zero variance (``cov_ii <= 0``) are rows of zeros. The others are scaled to
    unit variance, ``R = D^{-1/2} cov D^{-1/2}`` with ``D = diag(cov)``, and ``R`` is factored
    by pivoted Cholesky (LAPACK ``dpstrf``), stopping once every remaining pivot is below the
    rounding level ``m * eps`` (``m`` features left): ``F = D^{1/2} P L``. Scaling first makes
    the rank decision and the errors follow each feature's own variance rather than the
    largest one. An indefinite input is factored only as far as its pivots stay above that
    level; non-finite entries raise ``ValueError``."""
    c = _as_f64(cov).numpy()
    d = c.shape[0]
    if c.shape != (d, d):
        raise ValueError(f"psd_factor: expected a square matrix, got {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("psd_factor: covariance has non-finite entries")
    var = np.diag(c).copy()
    live = np.flatnonzero(var > 0)
    m = live.size
    if m == 0:
        return torch.zeros(d, 0, dtype=torch.float64)
    sd = np.sqrt(var[live])
    r = c[np.ix_(live, live)] if m < d else c.copy()
    r = (r + r.T) / 2
    r /= sd[:, None]
    r /= sd[None, :]
    # r.T: the same (symmetric) matrix in the Fortran order LAPACK works in, so it is not
    # copied again. lower=1: the factor is in the lower triangle; past column `rank` lies the
    # unfinished Schur complement (the part dropped), above the diagonal the input.
    low, piv, rank, info = scipy.linalg.lapack.dpstrf(r.T, tol=m * _EPS, lower=1, overwrite_a=1)
    if info < 0:
        raise ValueError(f"psd_factor: dpstrf argument {-info} invalid")
    out = np.zeros((d, rank))
    out[live[piv - 1]] = np.tril(low[:, :rank]) * sd[piv - 1, None]   # P^T R P = L L^T
    return torch.from_numpy(out)


def trace_sqrt_product(cov1: Array, cov2: Array) -> float:
    """``Tr((S1 S2)^{1/2})`` for PSD ``S1, S2 (d, d)``: the nuclear norm of ``F2^T F1`` for
    factors ``S = F F^T`` (:func:`psd_factor`). Non-finite entries give ``nan``."""
    c1, c2 = _as_f64(cov1), _as_f64(cov2)
    if not (torch.isfinite(c1).all() and torch.isfinite(c2).all()):
        return float("nan")
    f1, f2 = psd_factor(c1), psd_factor(c2)
    return float(torch.linalg.svdvals(f2.T @ f1).sum())


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
