"""Reductions: sum, amax, amin, logsumexp (primitives) and mean, max, min, softmax (composed).

The primitives take NumPy's parameters: ``axis`` None (all), an int or a tuple
of ints (negatives allowed) and ``keepdims`` a bool.  The public functions
accept PyTorch's ``dim``/``keepdim`` (or NumPy's ``axis``/``keepdims``), check
them with an error that names the operand, and pass them on normalised.
"""
import builtins
import math
from collections import namedtuple

import numpy

from ..backend import xp
from ..errors import OpError, here
from ..primitive import composite, primitive
from . import _references as ref
from ._util import nondifferentiable, normalize_axes, operand, pick
from .broadcast import reduce_sampler, reduce_sum, unreduce
from .elementwise import cast, exp, isnan, logical_or, where


_ref_sum = ref.reduction(math.fsum)
_ref_max = ref.reduction(builtins.max)
_ref_min = ref.reduction(builtins.min)
_ref_logsumexp = ref.reduction(ref.logsumexp_of)


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


@primitive(sampler=reduce_sampler("distinct"), reference=_ref_max)
def reduce_max(x, axis=None, keepdims=False):
    """The maximum primitive behind ``max``/``amax``; tied elements share the gradient equally."""
    return xp.max(x, axis=axis, keepdims=keepdims)


reduce_max.defvjp(_extremum_vjp)


@primitive(sampler=reduce_sampler("distinct"), reference=_ref_min)
def reduce_min(x, axis=None, keepdims=False):
    """The minimum primitive behind ``min``/``amin``; tied elements share the gradient equally."""
    return xp.min(x, axis=axis, keepdims=keepdims)


reduce_min.defvjp(_extremum_vjp)


@primitive(sampler=reduce_sampler(), reference=_ref_logsumexp)
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
    """(operand, normalised axes, keepdims) from PyTorch's or NumPy's spelling."""
    x = operand(x, opname)
    d = pick(dim, axis, opname)
    k = keepdim if keepdims is None else keepdims
    return x, normalize_axes(d, x.ndim, opname, x), bool(k)


def _public_sampler(draw, s, dtype, domain=None):
    x = draw(s.array(dtype, domain=domain))
    return (x,), {"dim": draw(s.dims(x.ndim)), "keepdim": draw(s.st.booleans())}


@composite(sampler=_public_sampler, reference=ref.torch_style(_ref_sum))
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Sum over ``dim`` (an int, a tuple, or None for all); ``keepdim`` keeps reduced dims as 1."""
    x, a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "sum")
    return reduce_sum(x, axis=a, keepdims=k)


@composite(sampler=_public_sampler,
           reference=ref.torch_style(ref.reduction(lambda v: math.fsum(v) / len(v))))
def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over ``dim`` (sum times 1/n, in the input's dtype).

    float16 is summed in float32, as NumPy and PyTorch do: a float16 sum
    overflows at 65504 long before the mean does.
    """
    x, a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "mean")
    n = 1
    for i in (range(x.ndim) if a is None else a):
        n *= x.shape[i]
    scale = 1.0 / n if n else float("nan")
    if x.dtype == numpy.float16:
        return cast(reduce_sum(cast(x, dtype=numpy.float32), axis=a, keepdims=k) * scale,
                    dtype=numpy.float16)
    return reduce_sum(x, axis=a, keepdims=k) * scale


@composite(sampler=_public_sampler, reference=ref.torch_style(_ref_logsumexp))
def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Numerically stable log(sum(exp(x))) over ``dim``."""
    x, a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "logsumexp")
    return reduce_logsumexp(x, axis=a, keepdims=k)


def _distinct_sampler(draw, s, dtype):
    return _public_sampler(draw, s, dtype, "distinct")


@composite(sampler=_distinct_sampler, reference=ref.torch_style(_ref_max))
def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Largest value over ``dim``; the gradient is shared equally among ties."""
    x, a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "amax")
    return reduce_max(x, axis=a, keepdims=k)


@composite(sampler=_distinct_sampler, reference=ref.torch_style(_ref_min))
def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Smallest value over ``dim``; the gradient is shared equally among ties."""
    x, a, k = _axes_kw(x, dim, keepdim, axis, keepdims, "amin")
    return reduce_min(x, axis=a, keepdims=k)


MaxMin = namedtuple("MaxMin", ["values", "indices"])
"""What ``max``/``min`` with a ``dim`` return: ``(values, indices)``, as in PyTorch."""


def _argext(fn, x, dim, keepdim, axis, keepdims, opname):
    x, a, k = _axes_kw(x, dim, keepdim, axis, keepdims, opname)
    if not a:                       # all elements, or a 0-d tensor's dim 0 / -1
        return fn(x)
    if len(a) > 1:
        raise OpError(f"{opname}: dim must be one int, got {pick(dim, axis, opname)!r}. "
                      f"At {here()}")
    return fn(x, axis=a[0], keepdims=k)


argmax_array = nondifferentiable(xp.argmax)
argmin_array = nondifferentiable(xp.argmin)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the largest value (over all elements when ``dim`` is None)."""
    return _argext(argmax_array, x, dim, keepdim, axis, keepdims, "argmax")


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the smallest value (over all elements when ``dim`` is None)."""
    return _argext(argmin_array, x, dim, keepdim, axis, keepdims, "argmin")


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's ``max``: the largest value, or with ``dim`` a (values, indices) pair."""
    d = pick(dim, axis, "max")
    k = keepdim if keepdims is None else keepdims
    if d is None:
        return amax(x)
    return MaxMin(amax(x, d, k), argmax(x, d, k))


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's ``min``: the smallest value, or with ``dim`` a (values, indices) pair."""
    d = pick(dim, axis, "min")
    k = keepdim if keepdims is None else keepdims
    if d is None:
        return amin(x)
    return MaxMin(amin(x, d, k), argmin(x, d, k))


def _softmax_sampler(draw, s, dtype):
    x = draw(s.array(dtype))
    n = builtins.max(x.ndim, 1)       # a 0-d tensor takes dim 0 or -1
    return (x,), {"dim": draw(s.st.integers(-n, n - 1))}


def _lanewise(fn):
    """Test reference: ``fn(list of floats) -> list`` applied along ``dim``, by lanes."""
    def reference(x, dim=-1):
        x = numpy.asarray(x, dtype=numpy.float64)
        d = dim % builtins.max(x.ndim, 1)
        moved = ref.permuted(x, [i for i in range(x.ndim) if i != d] + [d]) if x.ndim else x
        out = numpy.array([fn(values) for _, values in ref.lanes(moved, -1 if x.ndim else None)[1]])
        out = ref.reshaped(out, moved.shape)
        back = numpy.argsort([i for i in range(x.ndim) if i != d] + [d]) if x.ndim else ()
        return ref.permuted(out, back) if x.ndim else out
    return reference


def _softmax_lane(values):
    total = math.fsum(math.exp(v) for v in values)
    return [math.exp(v) / total for v in values]


@composite(sampler=_softmax_sampler, reference=_lanewise(_softmax_lane))
def softmax(x, dim=-1, *, axis=None):
    """exp(x - logsumexp(x)) along ``dim``: stable for any input magnitude."""
    return exp(log_softmax(x, dim, axis=axis))


@composite(sampler=_softmax_sampler,
           reference=_lanewise(lambda v: [u - ref.logsumexp_of(v) for u in v]))
def log_softmax(x, dim=-1, *, axis=None):
    """y - logsumexp(y) along ``dim`` for y = x - max(x): stable for any input magnitude.

    The shift by the maximum is a constant (log_softmax is shift-invariant, so
    the gradient is unchanged); without it, log(C) is rounded away once it is
    below the spacing of floats near max(x) (|x| ~ 1e7 in float32, ~ 1e16 in
    float64) and the softmax no longer sums to one.
    """
    x = operand(x, "log_softmax")
    axis = normalize_axes(dim if axis is None else axis, x.ndim, "log_softmax", x)
    m = xp.max(getattr(x, "_data", x), axis=axis, keepdims=True)
    y = x - xp.where(xp.isfinite(m), m, 0).astype(m.dtype)
    return y - reduce_logsumexp(y, axis=axis, keepdims=True)

