"""Linear algebra primitives: inv, solve, det, slogdet, cholesky, eigh, svd, qr.

Each vjp is written with tapegrad functions (matmul, transposes, these
primitives themselves), so gradients go to any order.  They act on the last
two dims, with leading dims as a batch.  Where a decomposition is not unique
the forward fixes the choice so that the result is a smooth function of the
input (and finite differences agree):

* ``cholesky`` and ``eigh`` read the symmetric part ``(A + A^T) / 2``
  (LAPACK reads one triangle), so their gradients are symmetric;
* each eigenvector of ``eigh``, and each left singular vector of ``svd``,
  has its largest-magnitude entry positive; ``qr``'s ``R`` has a
  non-negative diagonal.

Gradients of ``eigh`` and ``svd`` divide by differences of eigenvalues
(squared singular values): they are infinite for repeated ones, where the
vectors are not determined -- a degenerate spectrum has no derivative.
``svd``'s gradient also needs nonzero singular values, ``qr``'s ``m >= n``.
"""
import numpy

from ..backend import xp
from ..errors import OpError
from ..primitive import primitive
from .linalg import matmul
from .shape import reshape, swapaxes


def _mT(x):
    return swapaxes(x, -1, -2)


def _col(v):
    """(..., n) -> (..., n, 1)."""
    return reshape(v, shape=tuple(v.shape) + (1,))


def _row(v):
    """(..., n) -> (..., 1, n)."""
    return reshape(v, shape=tuple(v.shape[:-1]) + (1, v.shape[-1]))


def _diag_embed(v):
    """Vectors (..., n) as diagonal matrices (..., n, n)."""
    return _col(v) * xp.eye(v.shape[-1], dtype=v.dtype)


def _tril_half(m):
    """The strict lower triangle of ``m`` plus half its diagonal (the Cholesky gradient's Phi)."""
    n = m.shape[-1]
    return m * (numpy.tril(numpy.ones((n, n)), -1) + 0.5 * numpy.eye(n)).astype(m.dtype)


def _symmetric(a):
    return (a + _mT(a)) * 0.5


def _zero_constant(g):
    """True for a cotangent that is all zeros and not differentiated itself (an output the
    loss does not use): its term is skipped, since 0 / 0 at a repeated eigenvalue is nan."""
    return not getattr(g, "requires_grad", False) and not xp.any(getattr(g, "_data", g))


def _positive_largest(v):
    """Signs (..., 1, k) that make each column's largest-magnitude entry positive."""
    pick = xp.argmax(xp.abs(v), axis=-2)[..., None, :]
    return xp.where(xp.take_along_axis(v, pick, axis=-2) < 0, -1.0, 1.0).astype(v.dtype)


# ----------------------------------------------------------------- samplers
def _batch(draw, s):
    return tuple(draw(s.st.lists(s.st.integers(1, 2), max_size=1)))


def _orthogonal(draw, s, n):
    """An orthogonal matrix: the Q of a full-rank draw (each entry at most 3 off 4 I)."""
    q, r = numpy.linalg.qr(draw(s.array(numpy.float64, shape=(n, n))) + 4.0 * numpy.eye(n))
    return q * numpy.where(numpy.diag(r) < 0, -1.0, 1.0)


def _near_identity(draw, s, n):
    """An orthogonal matrix whose every column has its diagonal entry largest by a clear
    margin (about 0.4), so a sign convention keyed on that entry cannot flip between
    nearby inputs (finite differences) or between two ways of computing it (references)."""
    q, r = numpy.linalg.qr(0.1 * draw(s.array(numpy.float64, shape=(n, n))) + numpy.eye(n))
    return q * numpy.where(numpy.diag(r) < 0, -1.0, 1.0)


def _well_conditioned(draw, s, dtype, n=None, batch=None):
    """Diagonally dominant matrices: 2 on the diagonal, the rest of each row below 1.8."""
    n = n or draw(s.st.integers(1, 4))
    batch = _batch(draw, s) if batch is None else batch
    x = draw(s.array(numpy.float64, shape=batch + (n, n)))
    return (0.6 / n * x + 2.0 * numpy.eye(n)).astype(dtype)


def _spectrum(draw, s, k):
    """``k`` distinct values on a grid of spacing 0.5 in [0.5, 4]."""
    return numpy.array(sorted(draw(s.st.lists(s.st.integers(1, 8), min_size=k, max_size=k,
                                              unique=True)))) * 0.5


def _square_sampler(draw, s, dtype):
    return (_well_conditioned(draw, s, dtype),), {}


def _solve_sampler(draw, s, dtype):
    a = _well_conditioned(draw, s, dtype, batch=())
    n = a.shape[-1]
    shape = draw(s.st.sampled_from([(n,), (n, draw(s.st.integers(1, 3)))]))
    return (a, draw(s.array(dtype, shape=shape))), {}


def _symmetric_sampler(draw, s, dtype, positive=False):
    n = draw(s.st.integers(1, 4))
    q = _near_identity(draw, s, n)
    w = _spectrum(draw, s, n) - (0.0 if positive else 2.25)
    return (((q * w) @ q.T).astype(dtype),), {}


def _spd_sampler(draw, s, dtype):
    return _symmetric_sampler(draw, s, dtype, positive=True)


def _svd_sampler(draw, s, dtype):
    m, n = draw(s.st.integers(1, 4)), draw(s.st.integers(1, 4))
    k = min(m, n)
    u = _near_identity(draw, s, m)[:, :k]
    v = _orthogonal(draw, s, n)[:, :k]
    return (((u * _spectrum(draw, s, k)) @ v.T).astype(dtype),), {}


def _qr_sampler(draw, s, dtype):
    n = draw(s.st.integers(1, 4))
    m = draw(s.st.integers(n, 4))
    x = draw(s.array(numpy.float64, shape=(m, n)))
    return ((0.3 * x + 2.0 * numpy.eye(m, n)).astype(dtype),), {}


# ---------------------------------------------------------- test references
def _gauss_jordan(a, b):
    """Solve a x = b (b a matrix) by Gauss-Jordan elimination with partial pivoting."""
    a = numpy.array(a, dtype=numpy.float64)
    b = numpy.array(b, dtype=numpy.float64)
    n = a.shape[0]
    for c in range(n):
        p = c + int(numpy.argmax(numpy.abs(a[c:, c])))
        a[[c, p]], b[[c, p]] = a[[p, c]], b[[p, c]]
        b[c] /= a[c, c]
        a[c] /= a[c, c]
        for r in range(n):
            if r != c:
                b[r] -= a[r, c] * b[c]
                a[r] -= a[r, c] * a[c]
    return b


def _batched(fn):
    """A reference on one matrix applied over the leading (batch) dims."""
    def reference(a, *rest):
        a = numpy.asarray(a, dtype=numpy.float64)
        if a.ndim == 2:
            return fn(a, *rest)
        return numpy.array([fn(m, *rest) for m in a.reshape((-1,) + a.shape[-2:])]).reshape(
            a.shape[:-2] + numpy.shape(fn(a.reshape((-1,) + a.shape[-2:])[0], *rest)))
    return reference


def _elimination_det(a):
    """The determinant as the signed product of the pivots of Gaussian elimination."""
    a = numpy.array(a, dtype=numpy.float64)
    n, det = a.shape[0], 1.0
    for c in range(n):
        p = c + int(numpy.argmax(numpy.abs(a[c:, c])))
        if p != c:
            a[[c, p]] = a[[p, c]]
            det = -det
        det *= a[c, c]
        a[c + 1:] -= numpy.outer(a[c + 1:, c] / a[c, c], a[c])
    return det


def _cholesky_banachiewicz(a):
    a = (a + a.T) / 2
    n = a.shape[0]
    low = numpy.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j] - low[i, :j] @ low[j, :j]
            low[i, j] = numpy.sqrt(s) if i == j else s / low[j, j]
    return low


def _jacobi_eigh(a, sweeps=30):
    """Eigenvalues (ascending) and vectors of a symmetric matrix by cyclic Jacobi rotations."""
    a = (numpy.array(a, dtype=numpy.float64) + numpy.array(a, dtype=numpy.float64).T) / 2
    n = a.shape[0]
    v = numpy.eye(n)
    for _ in range(sweeps):
        for p in range(n):
            for q in range(p + 1, n):
                if abs(a[p, q]) < 1e-14 * (abs(a[p, p]) + abs(a[q, q]) + 1e-300):
                    continue
                theta = (a[q, q] - a[p, p]) / (2 * a[p, q])
                t = numpy.sign(theta) / (abs(theta) + numpy.sqrt(theta * theta + 1)) \
                    if theta else 1.0
                c = 1 / numpy.sqrt(t * t + 1)
                rot = numpy.eye(n)
                rot[p, p] = rot[q, q] = c
                rot[p, q], rot[q, p] = c * t, -c * t
                a = rot.T @ a @ rot
                v = v @ rot
    order = numpy.argsort(numpy.diag(a))
    w, v = numpy.diag(a)[order], v[:, order]
    pick = numpy.argmax(numpy.abs(v), axis=0)
    return w, v * numpy.where(v[pick, range(n)] < 0, -1.0, 1.0)


# ---------------------------------------------------------------- primitives
@primitive(sampler=_square_sampler, saves=("out",),
           reference=_batched(lambda a: _gauss_jordan(a, numpy.eye(a.shape[0]))))
def inv(a):
    """The inverse of square matrices."""
    return xp.linalg.inv(a)


@inv.defvjp
def _(g, out, a):
    t = _mT(out)
    return -matmul(t, matmul(g, t))


def _solve_reference(a, b):
    x = _gauss_jordan(a, numpy.asarray(b, dtype=numpy.float64).reshape(a.shape[0], -1))
    return x.reshape(numpy.shape(b))


@primitive(sampler=_solve_sampler, reference=_solve_reference)
def solve(a, b):
    """x with ``a @ x = b``: ``b`` a vector (n,) or matrices (..., n, k)."""
    return xp.linalg.solve(a, b)


@solve.defvjp
def _(g, out, a, b, needs):
    gb = solve(_mT(a), g)
    ga = None
    if needs[0]:
        ga = -(_col(gb) * _row(out) if out.ndim == 1 else matmul(gb, _mT(out)))
    return ga, (gb if needs[1] else None)


@primitive(sampler=_square_sampler, reference=_batched(_elimination_det))
def det(a):
    """The determinant of square matrices."""
    return xp.linalg.det(a)


@det.defvjp
def _(g, out, a):
    return _col(_col(g * out)) * _mT(inv(a))


def _slogdet_reference(a):
    d = _batched(_elimination_det)(a)
    return numpy.sign(d), numpy.log(numpy.abs(d))


@primitive(multi=True, sampler=_square_sampler, reference=_slogdet_reference)
def slogdet(a):
    """(sign, log|det|) of square matrices: the log-determinant without overflow."""
    sign, logabs = xp.linalg.slogdet(a)
    return sign.astype(a.dtype), logabs


@slogdet.defvjp
def _(gs, outs, a):
    return _col(_col(gs[1])) * _mT(inv(a))


@primitive(sampler=_spd_sampler, reference=_batched(_cholesky_banachiewicz), saves=("out",))
def cholesky(a):
    """Lower-triangular L with ``L @ L^T = a`` for symmetric positive-definite ``a``."""
    return xp.linalg.cholesky((a + xp.swapaxes(a, -1, -2)) * 0.5)


@cholesky.defvjp
def _(g, out, a):
    low_inv = inv(out)
    phi = _tril_half(matmul(_mT(out), g * numpy.tril(numpy.ones(g.shape[-2:])).astype(g.dtype)))
    return _symmetric(matmul(_mT(low_inv), matmul(phi, low_inv)))


@primitive(multi=True, sampler=_symmetric_sampler, reference=_jacobi_eigh)
def eigh(a):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix.

    Each eigenvector's largest-magnitude entry is positive.  The gradient
    exists only for distinct eigenvalues (see the module docstring).
    """
    w, v = xp.linalg.eigh((a + xp.swapaxes(a, -1, -2)) * 0.5)
    return w, v * _positive_largest(v)


@eigh.defvjp
def _(gs, outs, a):
    gw, gv = gs
    w, v = outs
    n = w.shape[-1]
    off = 1.0 - numpy.eye(n, dtype=w.dtype)
    inner = _diag_embed(gw)
    if not _zero_constant(gv):
        gaps = _row(w) - _col(w) + numpy.eye(n, dtype=w.dtype)  # w_j - w_i, 1 on the diagonal
        inner = inner + off / gaps * matmul(_mT(v), gv)
    return _symmetric(matmul(v, matmul(inner, _mT(v))))


def _svd_reference(a):
    """From the eigen-decomposition of a^T a (or a a^T), by Jacobi rotations."""
    m, n = a.shape
    if m >= n:
        w, v = _jacobi_eigh(a.T @ a)
        s = numpy.sqrt(w[::-1])
        v = v[:, ::-1]
        u = a @ v / s
    else:
        w, u = _jacobi_eigh(a @ a.T)
        s = numpy.sqrt(w[::-1])
        u = u[:, ::-1]
        v = a.T @ u / s
    signs = numpy.where(u[numpy.argmax(numpy.abs(u), axis=0), range(len(s))] < 0, -1.0, 1.0)
    return u * signs, s, (v * signs).T


@primitive(multi=True, sampler=_svd_sampler, reference=_svd_reference)
def svd(a):
    """(U, S, Vh) with ``a = U @ diag(S) @ Vh``, reduced (``full_matrices=False``).

    S descends; each column of U has its largest-magnitude entry positive.
    """
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    signs = _positive_largest(u)
    return u * signs, s, vh * xp.swapaxes(signs, -1, -2)


@svd.defvjp
def _(gs, outs, a):
    gu, gs_, gvh = gs
    u, s, vh = outs
    if _zero_constant(gu) and _zero_constant(gvh):     # singular values only: U diag(gS) Vh
        return matmul(u * _row(gs_), vh)
    v, gv = _mT(vh), _mT(gvh)
    k = s.shape[-1]
    eye = numpy.eye(k, dtype=s.dtype)
    s2 = s * s
    gaps = (_row(s2) - _col(s2)) + eye                   # s_j^2 - s_i^2, 1 on the diagonal
    off = (1.0 - eye) / gaps
    uh_gu = matmul(_mT(u), gu)
    vh_gv = matmul(_mT(v), gv)
    j = off * (uh_gu - _mT(uh_gu))
    kk = off * (vh_gv - _mT(vh_gv))
    inner = j * _row(s) + _col(s) * kk + _diag_embed(gs_)
    ga = matmul(u, matmul(inner, vh))
    m, n = a.shape[-2], a.shape[-1]
    if m > k:
        ga = ga + matmul((gu - matmul(u, uh_gu)) / _row(s), vh)
    if n > k:
        ga = ga + matmul(u / _row(s), _mT(gv - matmul(v, vh_gv)))
    return ga


def _qr_reference(a):
    """Gram-Schmidt, twice (for orthogonality), on the columns."""
    a = numpy.asarray(a, dtype=numpy.float64)
    m, n = a.shape
    q = numpy.zeros((m, n))
    r = numpy.zeros((n, n))
    for j in range(n):
        v = a[:, j].copy()
        for _ in range(2):
            c = q[:, :j].T @ v
            v -= q[:, :j] @ c
            r[:j, j] += c
        r[j, j] = numpy.sqrt(v @ v)
        q[:, j] = v / r[j, j]
    return q, r


@primitive(multi=True, sampler=_qr_sampler, reference=_qr_reference)
def qr(a):
    """(Q, R), reduced: Q with orthonormal columns, R upper triangular with diagonal >= 0."""
    q, r = xp.linalg.qr(a)
    signs = xp.where(xp.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0).astype(a.dtype)
    return q * signs[..., None, :], r * signs[..., :, None]


@qr.defvjp
def _(gs, outs, a):
    if a.shape[-2] < a.shape[-1]:
        raise OpError(f"linalg.qr: the gradient needs a tall or square matrix (m >= n); got "
                      f"shape {tuple(a.shape)}. Fix: differentiate the qr of the transpose.")
    gq, gr = gs
    q, r = outs
    m = matmul(r, _mT(gr)) - matmul(_mT(gq), q)
    n = m.shape[-1]
    lower = numpy.tril(numpy.ones((n, n)), -1).astype(m.dtype)
    copyltu = m * lower + _mT(m * lower) + m * numpy.eye(n, dtype=m.dtype)
    return _mT(solve(r, _mT(gq + matmul(q, copyltu))))

