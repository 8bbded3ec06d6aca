"""Norms (``torch.linalg``'s ``vector_norm``, ``matrix_norm``, ``norm``), ``dist``, and the
functions composed from the decompositions: ``eigvalsh``, ``svdvals``, ``pinv``.

The 2-norm is one primitive, ``sqrt(sum(x * x))`` with the gradient ``x / norm``, taken as 0
at a zero vector (PyTorch's choice) where composing ``sqrt`` and ``sum`` would give 0/0.
"""
import builtins
import math

import numpy

from ..backend import xp
from ..errors import OpError, here
from ..primitive import composite, primitive
from . import _references as ref
from ._util import normalize_axes, operand
from .broadcast import unreduce
from .elementwise import abs, cast, where
from .linalg import matmul
from .matrix import (_gauss_jordan, _mT, _row, _svd_sampler, _symmetric_sampler, eigh, svd)
from .reduce import amax, amin, sum
from .shape import permute, reshape


# ------------------------------------------------------------- vector norms
def _away_from_ties(x):
    """Entries at least 0.1 from 0, no two magnitudes within 0.005 (from a "distinct" draw)."""
    return numpy.where(x >= 0, x + 0.1, x - 0.105).astype(x.dtype)


def _vector_norm_sampler(draw, s, dtype):
    x = _away_from_ties(draw(s.array(dtype, domain="distinct")))
    return (x,), {"ord": draw(s.st.sampled_from([2, 1, 3, 0.5, 0, math.inf, -math.inf])),
                  "dim": draw(s.dims(x.ndim)), "keepdim": draw(s.st.booleans())}


def _lane_norm(ord_):
    def norm_of(values):
        mags = [builtins.abs(v) for v in values]
        if ord_ == math.inf:
            return builtins.max(mags)
        if ord_ == -math.inf:
            return builtins.min(mags)
        if ord_ == 0:
            return float(builtins.sum(m != 0 for m in mags))
        return math.fsum(m ** ord_ for m in mags) ** (1.0 / ord_)
    return norm_of


def _norm2_sampler(draw, s, dtype):
    x = _away_from_ties(draw(s.array(dtype, domain="distinct")))
    return (x,), {"axis": draw(s.axes(x.ndim)), "keepdims": draw(s.st.booleans())}


@primitive(sampler=_norm2_sampler, reference=ref.reduction(_lane_norm(2)))
def reduce_norm2(x, axis=None, keepdims=False):
    """The 2-norm over ``axis``; its gradient ``x / norm`` is 0 where the norm is 0."""
    return xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims))


@reduce_norm2.defvjp
def _(g, out, x, axis=None, keepdims=False):
    zero = out == 0
    return x * unreduce(where(zero, 0.0, g / where(zero, 1.0, out)), x.shape, axis, keepdims)


def _vector_norm_reference(x, ord=2, dim=None, keepdim=False):
    return ref.reduction(_lane_norm(ord))(x, dim, keepdim)


@composite(sampler=_vector_norm_sampler, reference=_vector_norm_reference)
def vector_norm(x, ord=2, dim=None, keepdim=False):
    """The ``ord``-norm over ``dim`` (all elements when None): ``sum(|x|**ord)**(1/ord)``;
    ``inf``/``-inf`` the largest/smallest magnitude, 0 the count of nonzeros."""
    x = operand(x, "vector_norm")
    axes = normalize_axes(dim, x.ndim, "vector_norm", x)
    keep = bool(keepdim)
    if ord == 2:
        return reduce_norm2(x, axis=axes, keepdims=keep)
    if ord == math.inf:
        return amax(abs(x), axes, keep)
    if ord == -math.inf:
        return amin(abs(x), axes, keep)
    if ord == 0:
        return sum(cast(x != 0, dtype=x.dtype), axes, keep)
    if ord == 1:
        return sum(abs(x), axes, keep)
    return sum(abs(x) ** ord, axes, keep) ** (1.0 / ord)


def _dist_sampler(draw, s, dtype):
    x, y = s.elementwise(draw, dtype, 2, "distinct")
    return (x, y - 0.005), {"p": draw(s.st.sampled_from([2, 1, math.inf]))}


@composite(sampler=_dist_sampler, reference=lambda x, y, p=2: _lane_norm(p)(
    (numpy.asarray(x, dtype=numpy.float64) - y).ravel().tolist()))
def dist(x, y, p=2):
    """The ``p``-norm of ``x - y`` (broadcast), over all elements."""
    return vector_norm(operand(x, "dist", "input") - operand(y, "dist", "other"), p)


# ------------------------------------------------------------- matrix norms
def _matrix_norm_sampler(draw, s, dtype):
    ord_ = draw(s.st.sampled_from(["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]))
    if ord_ in ("fro", "nuc", 2, -2):
        return _svd_sampler(draw, s, dtype)[0], {"ord": ord_}
    m, n = draw(s.st.integers(1, 4)), draw(s.st.integers(1, 4))
    signs = draw(s.bool_array((m, n)))
    jitter = draw(s.array(numpy.float64, shape=(m, n), domain="positive"))
    i, j = numpy.indices((m, n))
    # |a| differs between rows by 0.37 n and between columns by 0.13 m (jitter < 0.03 n):
    # no ties among row or column sums, no entry near 0
    mags = 0.5 + 0.37 * i + 0.13 * j + 0.01 * jitter
    return (numpy.where(signs, mags, -mags).astype(dtype),), {"ord": ord_}


def _matrix_norm_reference(a, ord="fro"):
    a = numpy.asarray(a, dtype=numpy.float64)
    if ord == "fro":
        return math.sqrt(math.fsum(v * v for v in a.ravel()))
    if ord in ("nuc", 2, -2):
        values = numpy.sqrt(numpy.clip(numpy.real(numpy.linalg.eigvals(
            a.T @ a if a.shape[0] >= a.shape[1] else a @ a.T)), 0, None))
        return {"nuc": math.fsum(values), 2: builtins.max(values),
                -2: builtins.min(values)}[ord]
    sums = [math.fsum(builtins.abs(v) for v in line) for line in (a.T if ord in (1, -1) else a)]
    return builtins.max(sums) if ord in (1, math.inf) else builtins.min(sums)


@composite(sampler=_matrix_norm_sampler, reference=_matrix_norm_reference)
def matrix_norm(a, ord="fro", dim=(-2, -1), keepdim=False):
    """A matrix norm over the two dims ``dim``: "fro" (Frobenius), "nuc" (sum of singular
    values), 2 / -2 (largest / smallest singular value), 1 / -1 (largest / smallest
    column sum of |a|), inf / -inf (the same for row sums)."""
    a = operand(a, "matrix_norm")
    d = normalize_axes(dim, a.ndim, "matrix_norm", a)
    if d is None or len(d) != 2:
        raise OpError(f"matrix_norm: dim must name two dims, got {dim!r} for shape "
                      f"{tuple(a.shape)}. At {here()}")
    kept = tuple(1 if i in d else n for i, n in enumerate(a.shape))
    if ord == "fro":
        return vector_norm(a, 2, d, keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        summed, across = (d[0], d[1]) if ord in (1, -1) else (d[1], d[0])
        sums = sum(abs(a), summed, True)
        out = (amax if ord in (1, math.inf) else amin)(sums, across, True)
    elif ord in ("nuc", 2, -2):
        values = svdvals(permute(a, axes=tuple(i for i in range(a.ndim) if i not in d) + d))
        out = sum(values, -1) if ord == "nuc" else (amax if ord == 2 else amin)(values, -1)
        out = reshape(out, shape=kept)
    else:
        raise OpError(f"matrix_norm: ord {ord!r} is not one of 'fro', 'nuc', 2, -2, 1, -1, "
                      f"inf, -inf. At {here()}")
    return out if keepdim else reshape(out, shape=tuple(n for i, n in enumerate(a.shape)
                                                        if i not in d))


def _norm_sampler(draw, s, dtype):
    x = _away_from_ties(draw(s.array(dtype, domain="distinct", max_dims=2)))
    ords = [None] + ([2, 1, math.inf] if x.ndim else []) + (["fro"] if x.ndim == 2 else [])
    ord_ = draw(s.st.sampled_from(ords))    # an ord needs a vector or a matrix (as in PyTorch)
    return (x,), {"ord": ord_}


def _norm_reference(x, ord=None):
    if ord is None or ord == "fro":
        return _lane_norm(2)(numpy.asarray(x, dtype=numpy.float64).ravel().tolist())
    if numpy.ndim(x) == 2:
        return _matrix_norm_reference(x, ord)
    return _lane_norm(ord)(numpy.asarray(x, dtype=numpy.float64).ravel().tolist())


@composite(sampler=_norm_sampler, reference=_norm_reference)
def norm(x, ord=None, dim=None, keepdim=False):
    """``torch.linalg.norm``: with ``ord`` None, the 2-norm of all elements (Frobenius for a
    matrix) or over ``dim``; otherwise a vector norm (1-d ``x`` or an int ``dim``) or a
    matrix norm (2-d ``x`` or a pair ``dim``)."""
    x = operand(x, "norm")
    pair = dim is not None and not isinstance(dim, (int, numpy.integer)) and len(dim) == 2
    if ord is None:
        return vector_norm(x, 2, dim, keepdim)
    if pair or (dim is None and x.ndim == 2):
        return matrix_norm(x, ord, (-2, -1) if dim is None else dim, keepdim)
    if dim is None and x.ndim != 1:
        raise OpError(f"norm: ord={ord!r} needs a vector or a matrix (or dim), got shape "
                      f"{tuple(x.shape)}. Fix: give dim, or use vector_norm. At {here()}")
    return vector_norm(x, ord, dim, keepdim)


# ------------------------------------------------- from the decompositions
@composite(sampler=_symmetric_sampler,
           reference=lambda a: numpy.sort(numpy.real(numpy.linalg.eigvals(a))))
def eigvalsh(a):
    """The eigenvalues of a symmetric matrix, ascending."""
    return eigh(a)[0]


@composite(sampler=_svd_sampler,
           reference=lambda a: numpy.sqrt(numpy.clip(numpy.sort(numpy.real(numpy.linalg.eigvals(
               a.T @ a if a.shape[0] >= a.shape[1] else a @ a.T)))[::-1], 0, None)))
def svdvals(a):
    """The singular values, descending."""
    return svd(a)[1]


def _pinv_reference(a):
    a = numpy.asarray(a, dtype=numpy.float64)
    if a.shape[0] >= a.shape[1]:          # full column rank: (a^T a)^-1 a^T
        return _gauss_jordan(a.T @ a, a.T)
    return _gauss_jordan(a @ a.T, a).T    # full row rank: a^T (a a^T)^-1


@composite(sampler=_svd_sampler, reference=_pinv_reference)
def pinv(a):
    """The Moore-Penrose pseudo-inverse, ``V diag(1/S) U^T`` (full rank: no cut-off)."""
    u, s, vh = svd(a)
    return matmul(_mT(vh) / _row(s), _mT(u))
