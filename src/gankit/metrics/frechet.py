"""Frechet distance between two Gaussians, the arithmetic behind FID.

    d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})        (Dowson & Landau 1982;
                                                                          Heusel et al. 2017)

The trace term is computed without ever forming a non-symmetric matrix square root:
``(S1 S2)^{1/2}`` is similar to ``(A S2 A)^{1/2}`` with ``A = S1^{1/2}``, and
``A S2 A = (B A)^T (B A)`` with ``B = S2^{1/2}``, so

    Tr((S1 S2)^{1/2}) = sum of the singular values of  S2^{1/2} S1^{1/2}  (its nuclear norm).

Both square roots come from symmetric eigendecompositions. Two choices keep near-singular
covariances (fewer samples than feature dimensions, dead ReLU units) accurate:

* eigenvalues below ``d * eps * max|l|`` are set to 0: they are rounding noise of a zero
  eigenvalue (eigh resolves eigenvalues only to ``eps * ||S||``), and the square root would
  blow a 1e-16 into a 1e-8;
* singular values of ``B A`` rather than square roots of the eigenvalues of ``A S2 A``,
  which would square the condition number and lose half of the digits the same way.

On sample covariances of rank < d this agrees with the feature-space identity
``Tr((S1 S2)^{1/2}) = ||Y_c X_c^T||_* / sqrt((n1-1)(n2-1))`` to ~1e-15 relative, where the
``scipy.linalg.sqrtm(S1 @ S2)`` formula is off by ~4e-8 (tests/metrics/test_frechet.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

Array = Tensor | np.ndarray


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


def trace_sqrt_product(cov1: Array, cov2: Array) -> float:
    """``Tr((S1 S2)^{1/2})`` for PSD ``S1, S2 (d, d)``: the nuclear norm of ``S2^{1/2} S1^{1/2}``."""
    return float(torch.linalg.svdvals(psd_sqrt(cov2) @ psd_sqrt(cov1)).sum())


def frechet_distance(mu1: Array, cov1: Array, mu2: Array, cov2: Array) -> float:
    """Squared Frechet (2-Wasserstein) distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``mu (d,)``, ``cov (d, d)``; computed in float64. Not clamped at 0, so rounding shows
    (about ``-1e-15 * Tr(S)`` for two identical covariances).
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
