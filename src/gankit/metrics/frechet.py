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
factorizations, one triangular product and one values-only SVD, all in float64 through scipy's
LAPACK. The SVD is most of the work; from ``min(r1, r2) = 384`` (``_BAND_MIN``) it is a
two-stage one (:func:`singular_values`): blocked Householder reduction of ``C`` to a band of
width 16-32 (matrix-matrix work), Givens reduction of the band to bidiagonal form (``dgbbrd``)
and dqds on the bidiagonal (``dlasq1``), all orthogonal or backward stable, so its absolute
error is ``O(eps ||C||)`` like ``gesdd``'s, at a third of ``gesdd``'s time for ``d = 2048``
(one thread: 0.65 s against 2.1 s; the whole distance 1.0 s, against 2.3 s for
torch-fidelity's ``eigvals(S1 @ S2)``). Smaller ``C`` go through ``gesdd`` (numpy's below
``r1 r2 = 256^2``, scipy's above). Three choices keep singular and near-singular covariances
(fewer samples than feature dimensions, dead ReLU units, duplicated features, features of very
different scales) accurate:

* each covariance is scaled to unit diagonal (a correlation matrix) before it is factored,
  so the rank decision and the rounding errors follow each feature's own variance: features
  whose variances span 1e-12..1e4 keep their small-scale directions, which a threshold at
  ``eps * ||S||`` would drop (and ``Tr((S1 S2)^{1/2})`` can hinge on them);
* the factorization stops once every remaining pivot is below ``m * eps`` (``m`` features of
  nonzero variance): the Schur complement left is rounding noise of a zero block, and keeping
  it would turn a 1e-16 into a 1e-8 under the square root;
* singular values of ``C`` from a backward-stable method on ``C`` itself rather than square
  roots of the eigenvalues of ``C^T C`` (or of ``S1^{1/2} S2 S1^{1/2}``, or of ``F1^T S2 F1``),
  which would square the condition number and lose half of the digits the same way: an
  eigenvalue's absolute error ``eps ||C||^2`` puts a zero singular value at ``sqrt(eps) ||C||``.

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
_BAND_MIN = 384     # min(r1, r2) from which singular_values' two-stage SVD beats gesdd (measured)


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


def _symmetrised(r: np.ndarray) -> np.ndarray:
    """``r + r^T`` (C-ordered), by 128 x 128 tiles above ``m = 256``: the transposed operand then
    stays in cache (13 ms against 37 ms for ``r + r.T`` at ``m = 2048``), bit-identical."""
    m = r.shape[0]
    if m <= 256:
        return r + r.T
    out = np.empty((m, m))
    t = 128
    for i in range(0, m, t):
        for j in range(0, m, t):
            np.add(r[i:i + t, j:j + t], r[j:j + t, i:i + t].T, out=out[i:i + t, j:j + t])
    return out


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
    a = _symmetrised(r)                           # r + r^T, then scaled to unit diagonal
    a *= half_inv[:, None]
    a *= (2.0 * half_inv)[None, :]
    # a.T: the same (symmetric) matrix in the Fortran order LAPACK works in, so not copied
    low, piv, rank, info = scipy.linalg.lapack.dpstrf(a.T, tol=m * _EPS, lower=1, overwrite_a=1)
    if info < 0:
        raise ValueError(f"dpstrf argument {-info} invalid")
    piv = piv - 1
    return low, live[piv], sd[piv], int(rank)


# --------------------------------------------------------------- values-only SVD via a band form
#
# scipy.linalg.cython_lapack exports LAPACK's routines as C function pointers (PyCapsules named by
# their C signature); ctypes calls them with plain pointers and leading dimensions, so the
# blocked reduction below works in place on sub-blocks of one Fortran array without the copies
# that scipy.linalg.lapack's f2py wrappers make of non-contiguous slices.

_ROUTINES = {"dgeqrf": 8, "dlarft": 9, "dlarfb": 15, "dgbbrd": 18, "dlasq1": 5}
_lapack: dict | None = None


def _lapack_routines() -> dict:
    """The LAPACK routines of :func:`singular_values`, or ``{}`` where they cannot be reached."""
    global _lapack
    if _lapack is None:
        try:
            import ctypes

            import scipy.linalg.cython_lapack as cl
            name = ctypes.pythonapi.PyCapsule_GetName
            name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
            ptr = ctypes.pythonapi.PyCapsule_GetPointer
            ptr.restype, ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
            found = {}
            for routine, nargs in _ROUTINES.items():
                cap = cl.__pyx_capi__[routine]
                sig = name(cap).decode()
                if sig.count("*") != nargs or not sig.startswith("void"):
                    raise RuntimeError(f"unexpected signature of {routine}: {sig}")
                found[routine] = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * nargs)(ptr(cap, name(cap)))
            _lapack = found
        except Exception:  # noqa: BLE001 -- any failure: scipy.linalg.svdvals instead
            _lapack = {}
    return _lapack


def _band_width(n: int) -> int:
    # measured on one thread (OpenBLAS 0.3.30, AVX-512): b = 16 is fastest below n ~ 768,
    # 24 up to ~2500 (0.66 s at n = 2048, against 0.73 s for 16 and 0.68 s for 32), 32 above
    return 16 if n < 768 else 24 if n < 2560 else 32


def _to_band(a: np.ndarray, b: int, la: dict) -> np.ndarray:
    """Reduce a Fortran-ordered ``a (m, n)``, ``m >= n``, in place to upper band form of
    bandwidth ``b`` by blocked Householder transformations from both sides, and return the band
    in LAPACK's band storage ``(b + 1, n)`` (entry ``(i, j)`` at ``[b + i - j, j]``)."""
    import ctypes

    m, n = a.shape
    c_int, byref = ctypes.c_int, ctypes.byref

    def at(i: int, j: int) -> int:                    # address of a[i, j]
        return base + 8 * (i + j * m)

    base = a.ctypes.data
    tau = np.empty(b)
    t = np.empty((b, b), order="F")
    work = np.empty((m + b) * b)
    panel = np.empty(n * b)
    info = c_int(0)
    L, R, T, N, F, C = b"L", b"R", b"T", b"N", b"F", b"C"
    lda, ldt, lwork = byref(c_int(m)), byref(c_int(b)), byref(c_int(work.size))
    for j0 in range(0, n, b):
        jb = min(b, n - j0)
        nt = n - j0 - jb
        rows = byref(c_int(m - j0))
        # column panel: a[j0:, j0:j0+jb] = Q R; R stays on the diagonal block, Q^T goes to the right
        la["dgeqrf"](rows, byref(c_int(jb)), at(j0, j0), lda, tau.ctypes.data, work.ctypes.data, lwork, byref(info))
        if nt == 0:
            break
        la["dlarft"](F, C, rows, byref(c_int(jb)), at(j0, j0), lda, tau.ctypes.data, t.ctypes.data, ldt)
        la["dlarfb"](L, T, F, C, rows, byref(c_int(nt)), byref(c_int(jb)), at(j0, j0), lda, t.ctypes.data, ldt,
                     at(j0, j0 + jb), lda, work.ctypes.data, byref(c_int(nt)))
        # row panel a[j0:j0+jb, j0+jb:]: QR of its transpose (a contiguous copy; LAPACK's LQ on the
        # strided rows measured 3x slower), so the panel becomes [R^T, 0], and the trailing block
        # a[j0+jb:, j0+jb:] is multiplied by Q from the right
        kb = min(jb, nt)
        p = np.ndarray((nt, jb), buffer=panel, order="F")
        p[...] = a[j0:j0 + jb, j0 + jb:].T
        pn = byref(c_int(nt))
        la["dgeqrf"](pn, byref(c_int(jb)), p.ctypes.data, pn, tau.ctypes.data, work.ctypes.data, lwork, byref(info))
        la["dlarft"](F, C, pn, byref(c_int(kb)), p.ctypes.data, pn, tau.ctypes.data, t.ctypes.data, ldt)
        a[j0:j0 + jb, j0 + jb:j0 + jb + kb] = np.tril(p[:kb].T)
        below = m - j0 - jb
        la["dlarfb"](R, N, F, C, byref(c_int(below)), pn, byref(c_int(kb)), p.ctypes.data, pn, t.ctypes.data, ldt,
                     at(j0 + jb, j0 + jb), lda, work.ctypes.data, byref(c_int(below)))
    band = np.zeros((b + 1, n), order="F")
    for s in range(min(b, n - 1) + 1):
        band[b - s, s:] = np.diagonal(a, s)[: n - s]
    return band


def _band_singular_values(band: np.ndarray, la: dict) -> np.ndarray | None:
    """Singular values of the upper band matrix in ``band (b + 1, n)`` (overwritten): ``dgbbrd``
    to bidiagonal form (Givens rotations, values only), then ``dlasq1`` (dqds). ``None`` if dqds
    did not converge."""
    import ctypes

    c_int, byref = ctypes.c_int, ctypes.byref
    kd, n = band.shape[0] - 1, band.shape[1]
    d, e = np.empty(n), np.zeros(max(n - 1, 1))
    work, dummy, info = np.empty(4 * n), np.zeros(1), c_int(0)
    one, zero = byref(c_int(1)), byref(c_int(0))
    la["dgbbrd"](b"N", byref(c_int(n)), byref(c_int(n)), zero, zero, byref(c_int(kd)), band.ctypes.data,
                 byref(c_int(kd + 1)), d.ctypes.data, e.ctypes.data, dummy.ctypes.data, one, dummy.ctypes.data, one,
                 dummy.ctypes.data, one, work.ctypes.data, byref(info))
    if info.value != 0:
        raise RuntimeError(f"dgbbrd: info {info.value}")
    la["dlasq1"](byref(c_int(n)), d.ctypes.data, e.ctypes.data, work.ctypes.data, byref(info))
    if info.value < 0:
        raise RuntimeError(f"dlasq1: info {info.value}")
    return d if info.value == 0 else None


def singular_values(a: np.ndarray, band: int | None = None, overwrite_a: bool = False) -> np.ndarray:
    """Singular values of a finite real matrix ``a (m, n)``, descending, in float64: a two-stage
    values-only SVD.

    Stage 1 reduces ``a`` (or its transpose, whichever is taller) to upper band form of bandwidth
    ``band`` by blocked Householder transformations, alternately from the left (QR of a column
    panel, ``dgeqrf``, applied to the trailing columns with ``dlarft`` + ``dlarfb``) and from the
    right (QR of the transposed row panel, applied to the trailing rows): matrix-matrix work
    throughout, where the one-stage bidiagonalization of ``gesdd``/``gesvd`` is half
    matrix-vector (memory-bound) work. Stage 2 takes the band to bidiagonal form with Givens
    rotations (``dgbbrd``, ``O(n^2 band)``) and the bidiagonal's singular values by dqds
    (``dlasq1``). Every step is an orthogonal transformation or a backward-stable algorithm, so
    the values carry an absolute error of ``O(eps ||a||)``, like ``gesdd``'s: nothing is squared.
    At ``n = 2048`` on one thread it is ~3x faster than ``gesdd`` (0.66 s against 2.1 s,
    OpenBLAS, AVX-512). Where scipy's LAPACK capsules cannot be reached, or dqds does not
    converge, ``scipy.linalg.svdvals`` answers instead."""
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"singular_values: expected a matrix, got shape {x.shape}")
    la = _lapack_routines()
    if not la or min(x.shape) < 2:
        return scipy.linalg.svdvals(x, check_finite=False)
    if x.shape[0] < x.shape[1]:
        x = x.T
    if not (overwrite_a and x.flags.f_contiguous and x.flags.writeable):
        x = np.array(x, order="F", copy=True)
    n = x.shape[1]
    b = min(band or _band_width(n), n - 1)
    bnd = _to_band(x, b, la)
    values = _band_singular_values(bnd.copy(order="F"), la)
    if values is None:                                # dqds failed: the band's dense SVD
        dense = np.zeros((n, n))
        for s in range(b + 1):
            i = np.arange(n - s)
            dense[i, i + s] = bnd[b - s, s:]
        values = scipy.linalg.svdvals(dense, check_finite=False)
    return values


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
    for j in range(1, r1):                        # L1: clear dpstrf's leftovers above the diagonal
        low1[:j, j] = 0.0                         # (in place, column by column: contiguous)
    both = rows >= 0
    if both.all():
        g = low1[rows, :r1]
        g *= (sd1[rows] * sd2)[:, None]
    else:
        g = np.zeros((feat2.size, r1))
        g[both] = low1[rows[both], :r1] * (sd1[rows[both]] * sd2[both])[:, None]
    if r1 * r2 < _SMALL:
        # small: numpy's product and SVD, which stay on one thread at these sizes (a threaded
        # BLAS call here costs more in waking threads than in arithmetic, most of all on busy cores)
        ct = g.T @ np.tril(low2[:, :r2])
        return float(np.linalg.svd(ct, compute_uv=False).sum())
    # large: a triangular product (trmm, half the flops of a general one) on L2's top square
    # plus a general one on the rest (G^T (r1, m2) is Fortran-ordered, as trmm wants it), then
    # the two-stage SVD (singular_values; scipy's gesdd below _BAND_MIN, where it is as fast).
    # Both stay in scipy's OpenBLAS (its threads, not OpenMP), which degrades far less on
    # oversubscribed cores than a route through torch
    ct = scipy.linalg.blas.dtrmm(1.0, low2[:r2, :r2], g[:r2].T, side=1, lower=1, overwrite_b=1)
    if r2 < feat2.size:
        ct += g[r2:].T @ low2[r2:, :r2]
    if min(r1, r2) < _BAND_MIN:
        return float(scipy.linalg.svdvals(ct, overwrite_a=True, check_finite=False).sum())
    return float(singular_values(ct, overwrite_a=True).sum())


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
