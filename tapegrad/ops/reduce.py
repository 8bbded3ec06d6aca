"""Reductions: sum, amax, amin, logsumexp (primitives) and mean, max, min, softmax (composed).

The primitives take NumPy's parameters: ``axis`` None (all), an int or a tuple
of ints (negatives allowed) and ``keepdims`` a bool.  The public functions
accept PyTorch's ``dim``/``keepdim`` (or NumPy's ``axis``/``keepdims``), check
them with an error that names the operand, and pass them on normalised.
"""
from collections import namedtuple

import numpy

from ..backend import xp
from ..primitive import composite, primitive
from ._util import nondifferentiable, normalize_axes, pick
from .broadcast import reduce_sampler, reduce_sum, unreduce
from .elementwise import cast, exp, isnan, logical_or, where


def _extremum_vjp(g, out, x, axis=None, keepdims=False):
    """Gradient of max/min: shared equally among the elements that attain it.

    A NaN makes the extremum NaN (as in NumPy and PyTorch), so the NaN elements
    attain it and share the gradient (PyTorch's max() and max(dim) do the same).
    """
    out_k = unreduce(out, x.shape, axis, keepdims)
    g_k = unreduce(g, x.shape, axis, keepdims)
    hit = logical_or(x == out_k, isnan(x))
    # the count in g's dtype: float32 / int64 would promote the gradient to float64
    count = cast(reduce_sum(hit, axis=axis, keepdims=True), dtype=g_k.dtype)
    return where(hit, g_k / count, 0.0)


@primitive(sampler=reduce_sampler("distinct"),
           reference=lambda x, axis=None, keepdims=False: numpy.amax(x, axis, keepdims=keepdims))
def reduce_max(x, axis=None, keepdims=False):
    """The maximum primitive behind ``max``/``amax``; tied elements share the gradient equally."""
    return xp.max(x, axis=axis, keepdims=keepdims)


reduce_max.defvjp(_extremum_vjp)


@primitive(sampler=reduce_sampler("distinct"),
           reference=lambda x, axis=None, keepdims=False: numpy.amin(x, axis, keepdims=keepdims))
def reduce_min(x, axis=None, keepdims=False):
    """The minimum primitive behind ``min``/``amin``; tied elements share the gradient equally."""
    return xp.min(x, axis=axis, keepdims=keepdims)


reduce_min.defvjp(_extremum_vjp)


def _naive_logsumexp(x, axis=None, keepdims=False):
    return numpy.log(numpy.sum(numpy.exp(x), axis=axis, keepdims=keepdims))


@primitive(sampler=reduce_sampler(), reference=_naive_logsumexp)
def reduce_logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, shifted by the maximum so it never overflows."""
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    s = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else xp.squeeze(s, axis=axis)


@reduce_logsumexp.defvjp
def _(g, out, x, axis=None, keepdims=False):
    return unreduce(g, x.shape, axis, keepdims) * exp(x - unreduce(out, x.shape, axis, keepdims))


# -------------------------------------------------------------- public API
def _axes_kw(x, dim, keepdim, axis, keepdims, opname):
    d = pick(dim, axis, opname)
    k = keepdim if keepdims is None else keepdims
    return normalize_axes(d, x.ndim, opname, x), bool(k)


def _public_sampler(draw, s, dtype, domain=None):
    x = draw(s.array(dtype, domain=domain, min_dims=1))
    return (x,), {"dim": draw(s.axes(x.ndim)), "keepdim": draw(s.st.booleans())}


@composite(sampler=_public_sampler,
           reference=lambda x, dim=None, keepdim=False: numpy.sum(x, dim, keepdims=keepdim))
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Sum over ``dim`` (an int, a tuple, or None for all); ``keepdim`` keeps reduced dims as 1."""
    a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "sum")
    return reduce_sum(x, axis=a, keepdims=k)


@composite(sampler=_public_sampler,
           reference=lambda x, dim=None, keepdim=False: numpy.mean(x, dim, keepdims=keepdim))
def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over ``dim`` (sum times 1/n, in the input's dtype).

    float16 is summed in float32, as NumPy and PyTorch do: a float16 sum
    overflows at 65504 long before the mean does.
    """
    a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "mean")
    n = 1
    for i in (range(x.ndim) if a is None else a):
        n *= x.shape[i]
    scale = 1.0 / n if n else float("nan")
    if x.dtype == numpy.float16:
        return cast(reduce_sum(cast(x, dtype=numpy.float32), axis=a, keepdims=k) * scale,
                    dtype=numpy.float16)
    return reduce_sum(x, axis=a, keepdims=k) * scale


@composite(sampler=_public_sampler,
           reference=lambda x, dim=None, keepdim=False: numpy.log(
               numpy.sum(numpy.exp(x), dim, keepdims=keepdim)))
def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Numerically stable log(sum(exp(x))) over ``dim``."""
    a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "logsumexp")
    return reduce_logsumexp(x, axis=a, keepdims=k)


def _distinct_sampler(draw, s, dtype):
    return _public_sampler(draw, s, dtype, "distinct")


@composite(sampler=_distinct_sampler,
           reference=lambda x, dim=None, keepdim=False: numpy.amax(x, dim, keepdims=keepdim))
def amax(x, dim=None, keepdim=False):
    """Largest value over ``dim``; the gradient is shared equally among ties."""
    return reduce_max(x, axis=normalize_axes(dim, x.ndim, "amax", x), keepdims=bool(keepdim))


@composite(sampler=_distinct_sampler,
           reference=lambda x, dim=None, keepdim=False: numpy.amin(x, dim, keepdims=keepdim))
def amin(x, dim=None, keepdim=False):
    """Smallest value over ``dim``; the gradient is shared equally among ties."""
    return reduce_min(x, axis=normalize_axes(dim, x.ndim, "amin", x), keepdims=bool(keepdim))


MaxMin = namedtuple("MaxMin", ["values", "indices"])
"""What ``max``/``min`` with a ``dim`` return: ``(values, indices)``, as in PyTorch."""


def _argext(fn, x, dim, keepdim, opname):
    if dim is None:
        return fn(x)
    axis = normalize_axes(dim, x.ndim, opname, x)[0]
    return fn(x, axis=axis, keepdims=keepdim)


argmax_array = nondifferentiable(xp.argmax)
argmin_array = nondifferentiable(xp.argmin)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest value (over all elements when ``dim`` is None)."""
    return _argext(argmax_array, x, dim, keepdim, "argmax")


def argmin(x, dim=None, keepdim=False):
    """Index of the smallest value (over all elements when ``dim`` is None)."""
    return _argext(argmin_array, x, dim, keepdim, "argmin")


def max(x, dim=None, keepdim=False):
    """PyTorch's ``max``: the largest value, or with ``dim`` a (values, indices) pair."""
    if dim is None:
        return amax(x)
    return MaxMin(amax(x, dim, keepdim), argmax(x, dim, keepdim))


def min(x, dim=None, keepdim=False):
    """PyTorch's ``min``: the smallest value, or with ``dim`` a (values, indices) pair."""
    if dim is None:
        return amin(x)
    return MaxMin(amin(x, dim, keepdim), argmin(x, dim, keepdim))


def _softmax_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    return (x,), {"dim": draw(s.st.integers(-x.ndim, x.ndim - 1))}


def _softmax_ref(x, dim=-1):
    e = numpy.exp(x - numpy.max(x, dim, keepdims=True))
    return e / numpy.sum(e, dim, keepdims=True)


@composite(sampler=_softmax_sampler, reference=_softmax_ref)
def softmax(x, dim=-1):
    """exp(x - logsumexp(x)) along ``dim``: stable for any input magnitude."""
    return exp(log_softmax(x, dim))


@composite(sampler=_softmax_sampler, reference=lambda x, dim=-1: numpy.log(_softmax_ref(x, dim)))
def log_softmax(x, dim=-1):
    """y - logsumexp(y) along ``dim`` for y = x - max(x): stable for any input magnitude.

    The shift by the maximum is a constant (log_softmax is shift-invariant, so
    the gradient is unchanged); without it, log(C) is rounded away once it is
    below the spacing of floats near max(x) (|x| ~ 1e7 in float32, ~ 1e16 in
    float64) and the softmax no longer sums to one.
    """
    axis = normalize_axes(dim, x.ndim, "log_softmax", x)
    m = xp.max(getattr(x, "_data", x), axis=axis, keepdims=True)
    y = x - xp.where(xp.isfinite(m), m, 0).astype(m.dtype)
    return y - reduce_logsumexp(y, axis=axis, keepdims=True)

