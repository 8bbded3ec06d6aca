"""Products and cumulative scans (primitives), variance, differences and sorting (composed).

``prod`` and ``cumprod`` differentiate as ``out / x``, like HIPS autograd:
exact away from zero, nan at an input that is exactly 0 (PyTorch handles
that case; tapegrad does not yet).
"""
import builtins
import math
from collections import namedtuple

import numpy

from ..backend import xp
from ..errors import OpError, here
from ..primitive import composite, primitive
from . import _references as ref
from ._util import nondifferentiable, normalize_axes, normalize_axis, operand, pick
from .broadcast import reduce_sum, unreduce
from .elementwise import sqrt
from .reduce import mean
from .shape import getitem, reshape


def _scan_sampler(domain=None):
    def sampler(draw, s, dtype):
        x = draw(s.array(dtype, domain=domain, min_dims=1))
        return (x,), {"axis": draw(s.st.integers(-x.ndim, x.ndim - 1))}
    return sampler


def _scan_reference(step):
    """Test reference: a running ``step`` along ``axis``, one Python float at a time."""
    def reference(x, axis):
        x = numpy.asarray(x, dtype=numpy.float64)
        out = numpy.empty(x.shape)
        axis %= x.ndim
        for idx in numpy.ndindex(*(n for i, n in enumerate(x.shape) if i != axis)):
            acc = None
            for k in range(x.shape[axis]):
                where = idx[:axis] + (k,) + idx[axis:]
                acc = x[where] if acc is None else step(acc, x[where])
                out[where] = acc
        return out
    return reference


# ---------------------------------------------------------------- primitives
def _prod_sampler(draw, s, dtype):
    """Magnitudes in [0.5, 1.5], at most 16 elements: products stay moderate, so finite
    differences of the second derivative are not swamped by rounding."""
    x = draw(s.array(dtype, domain="near_one", max_dims=2))
    return (x,), {"axis": draw(s.axes(x.ndim)), "keepdims": draw(s.st.booleans())}


@primitive(sampler=_prod_sampler, reference=ref.reduction(math.prod))
def reduce_prod(x, axis=None, keepdims=False):
    return xp.prod(x, axis=axis, keepdims=keepdims)


@reduce_prod.defvjp
def _(g, out, x, axis=None, keepdims=False):
    return unreduce(g * out, x.shape, axis, keepdims) / x


@primitive(sampler=_scan_sampler(), reference=_scan_reference(lambda a, b: a + b), saves=(),
           name="cumsum")
def cumsum_(x, *, axis):
    return xp.cumsum(x, axis=axis)


@cumsum_.defvjp
def _(g, out, x, axis):
    # the sum of g over positions >= i: the total minus the sum over positions < i
    return reduce_sum(g, axis=axis, keepdims=True) - cumsum_(g, axis=axis) + g


@primitive(sampler=_scan_sampler("near_one"), reference=_scan_reference(lambda a, b: a * b),
           name="cumprod")
def cumprod_(x, *, axis):
    return xp.cumprod(x, axis=axis)


@cumprod_.defvjp
def _(g, out, x, axis):
    h = g * out
    return (reduce_sum(h, axis=axis, keepdims=True) - cumsum_(h, axis=axis) + h) / x


# --------------------------------------------------------------- public API
def _dims_sampler(domain=None, max_dims=3):
    def sampler(draw, s, dtype):
        x = draw(s.array(dtype, domain=domain, max_dims=max_dims))
        return (x,), {"dim": draw(s.dims(x.ndim)), "keepdim": draw(s.st.booleans())}
    return sampler


@composite(sampler=_dims_sampler("near_one", max_dims=2),
           reference=ref.torch_style(ref.reduction(math.prod)))
def prod(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Product over ``dim`` (all elements when None)."""
    x = operand(x, "prod")
    a = normalize_axes(pick(dim, axis, "prod"), x.ndim, "prod", x)
    return reduce_prod(x, axis=a, keepdims=bool(keepdim if keepdims is None else keepdims))


def _one_dim_sampler(domain=None):
    def sampler(draw, s, dtype):
        x = draw(s.array(dtype, domain=domain))
        n = builtins.max(x.ndim, 1)
        return (x,), {"dim": draw(s.st.integers(-n, n - 1))}
    return sampler


def _scan(primitive_fn, x, dim, axis, opname):
    x = operand(x, opname)
    d = pick(dim, axis, opname)
    if d is None:
        raise OpError(f"{opname}: give the dim to scan along (PyTorch requires it). At {here()}")
    if x.ndim == 0:                     # dim 0 or -1 of a 0-d tensor: the tensor itself
        normalize_axes(d, 0, opname, x)
        return reshape(primitive_fn(reshape(x, shape=(1,)), axis=0), shape=())
    return primitive_fn(x, axis=normalize_axis(d, x.ndim, opname, x))


@composite(sampler=_one_dim_sampler(),
           reference=lambda x, dim: _scan_reference(lambda a, b: a + b)(x, dim)
           if numpy.ndim(x) else x)
def cumsum(x, dim=None, *, axis=None):
    """Running sum along ``dim``."""
    return _scan(cumsum_, x, dim, axis, "cumsum")


@composite(sampler=_one_dim_sampler("near_one"),
           reference=lambda x, dim: _scan_reference(lambda a, b: a * b)(x, dim)
           if numpy.ndim(x) else x)
def cumprod(x, dim=None, *, axis=None):
    """Running product along ``dim``."""
    return _scan(cumprod_, x, dim, axis, "cumprod")


def _var_reference(x, dim=None, correction=1, keepdim=False):
    def lane(values):
        m = math.fsum(values) / len(values)
        return math.fsum((v - m) ** 2 for v in values) / (len(values) - correction)
    return ref.reduction(lane)(x, dim, keepdim)


def _var_sampler(draw, s, dtype):
    x = draw(s.array(dtype, domain="distinct", min_dims=1))
    dim = draw(s.st.integers(-x.ndim, x.ndim - 1))
    x = numpy.concatenate([x, x + dtype.type(0.005)], axis=dim)   # >= 2 distinct values per lane
    correction = draw(s.st.sampled_from([0, 1]))
    return (x,), {"dim": dim, "correction": correction, "keepdim": draw(s.st.booleans())}


@composite(sampler=_var_sampler, reference=_var_reference)
def var(x, dim=None, *, correction=1, keepdim=False, axis=None, keepdims=None, ddof=None):
    """Variance over ``dim``: the mean squared deviation, divided by n - ``correction``.

    ``correction=1`` (the default, PyTorch's) is the unbiased estimate; NumPy's
    ``ddof`` is accepted as an alias.
    """
    x = operand(x, "var")
    a = normalize_axes(pick(dim, axis, "var"), x.ndim, "var", x)
    k = bool(keepdim if keepdims is None else keepdims)
    c = correction if ddof is None else ddof
    n = 1
    for i in (range(x.ndim) if a is None else a):
        n *= x.shape[i]
    centred = x - mean(x, a, True)
    return reduce_sum(centred * centred, axis=a, keepdims=k) * (
        1.0 / (n - c) if n > c else float("nan"))


@composite(sampler=_var_sampler,
           reference=lambda x, **kw: numpy.sqrt(_var_reference(x, **kw)))
def std(x, dim=None, *, correction=1, keepdim=False, axis=None, keepdims=None, ddof=None):
    """Standard deviation: the square root of ``var`` (same arguments)."""
    return sqrt(var(x, dim, correction=correction, keepdim=keepdim, axis=axis,
                    keepdims=keepdims, ddof=ddof))


def _diff_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    return (x,), {"n": draw(s.st.integers(1, 2)), "dim": draw(s.st.integers(-x.ndim, x.ndim - 1))}


def _diff_reference(x, n=1, dim=-1):
    for _ in range(n):
        k = x.shape[dim]
        x = numpy.take(x, range(1, k), axis=dim) - numpy.take(x, range(k - 1), axis=dim)
    return x


@composite(sampler=_diff_sampler, reference=_diff_reference)
def diff(x, n=1, dim=-1):
    """The ``n``-th forward difference along ``dim``: ``x[1:] - x[:-1]``, n times."""
    x = operand(x, "diff")
    d = normalize_axis(dim, x.ndim, "diff", x)
    before = (slice(None),) * d
    for _ in range(n):
        x = getitem(x, index=before + (slice(1, None),)) - getitem(x, index=before + (
            slice(None, -1),))
    return x


class Sorted(namedtuple("Sorted", ["values", "indices"])):
    """What ``sort`` returns: the sorted ``values`` and the ``indices`` they came from."""

    __slots__ = ()


@nondifferentiable
def _sorting_order(a, axis, descending):
    """Indices that sort ``a`` along ``axis``; ties keep their order either way."""
    if descending:    # reversing a stable ascending order would reverse the ties too
        return xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis) * -1 + \
            (a.shape[axis] - 1)
    return xp.argsort(a, axis=axis, kind="stable")


def _sort_sampler(draw, s, dtype):
    x = draw(s.array(dtype, domain="distinct", min_dims=1))
    return (x,), {"dim": draw(s.st.integers(-x.ndim, x.ndim - 1)),
                  "descending": draw(s.st.booleans())}


def _sort_reference(x, dim=-1, descending=False):
    def lane(values):
        return sorted(values, reverse=descending)
    moved = numpy.moveaxis(numpy.asarray(x, dtype=numpy.float64), dim, -1)
    out = numpy.array([lane(list(v)) for v in moved.reshape(-1, moved.shape[-1])])
    return numpy.moveaxis(out.reshape(moved.shape), -1, dim)


@composite(sampler=_sort_sampler, reference=_sort_reference)
def _sort_values(x, dim=-1, descending=False):
    """The values of ``sort`` alone: what the property tests check (indices are ints)."""
    return sort(x, dim, descending).values


def sort(x, dim=-1, descending=False, stable=False):
    """Sorted values along ``dim`` and the indices they came from, as (values, indices).

    Ties keep their order (a stable sort, whatever ``stable`` says); the
    gradient goes back to the position each value came from.
    """
    x = operand(x, "sort")
    if x.ndim == 0:
        normalize_axes(dim, 0, "sort", x)
        return Sorted(x, xp.zeros((), numpy.int64))
    d = normalize_axis(dim, x.ndim, "sort", x)
    order = _sorting_order(x, d, descending)
    data = getattr(order, "_data", order)
    grid = list(numpy.ogrid[tuple(slice(n) for n in x.shape)])
    grid[d] = data
    return Sorted(getitem(x, index=tuple(grid)), order)


def argsort(x, dim=-1, descending=False, stable=False):
    """The indices that sort ``x`` along ``dim`` (no gradient)."""
    return sort(x, dim, descending, stable).indices


__all__ = ["Sorted", "argsort", "cumprod", "cumsum", "diff", "prod", "reduce_prod", "sort",
           "std", "var"]
