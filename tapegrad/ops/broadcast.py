"""Broadcasting and its transpose, side by side: ``broadcast_to``/``expand`` and ``reduce_sum``.

They are each other's vjp (and ``sum_to_shape``, which the engine applies to
every cotangent of a broadcast input, is a ``reduce_sum``), so they live in one
module; the other reductions in `.reduce` build on these.
"""
import math

import numpy

from ..backend import xp
from ..primitive import composite, primitive
from . import _references as ref
from .shape import reshape


def reduce_sampler(domain=None):
    """Test sampler of a reduction primitive: an array, ``axis`` and ``keepdims``."""
    def sampler(draw, s, dtype):
        x = draw(s.array(dtype, domain=domain, min_dims=0))
        axis = draw(s.axes(x.ndim))
        keepdims = draw(s.st.booleans())
        return (x,), {"axis": axis, "keepdims": keepdims}
    return sampler


def _kept_shape(shape, axis):
    """Shape of a keepdims reduction of ``shape`` over ``axis`` (None, an int or a tuple)."""
    ndim = len(shape)
    if axis is None:
        return (1,) * ndim
    axes = {a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def unreduce(g, x_shape, axis, keepdims):
    """Cotangent of a reduction of ``x_shape``, reshaped so it broadcasts against the input."""
    if keepdims:
        return g
    return reshape(g, _kept_shape(x_shape, axis))


# ------------------------------------------------------------- broadcast_to
def _broadcast_sampler(draw, s, dtype):
    x = draw(s.array(dtype))
    return (x,), {"shape": draw(s.broadcast_target(x.shape))}


@primitive(sampler=_broadcast_sampler, reference=ref.broadcast, saves=())
def broadcast_to(x, *, shape):
    """``x`` broadcast to ``shape``; the gradient sums back over the broadcast dimensions."""
    return xp.broadcast_to(x, shape)


@broadcast_to.defvjp
def _(g, out, x, shape):
    return sum_to_shape(g, x.shape)


# --------------------------------------------------------------- reduce_sum
@primitive(sampler=reduce_sampler(), saves=(), reference=ref.reduction(math.fsum))
def reduce_sum(x, axis=None, keepdims=False):
    """The summing primitive behind ``sum`` and ``mean``, with NumPy's ``axis``/``keepdims``."""
    return xp.sum(x, axis=axis, keepdims=keepdims)


@reduce_sum.defvjp
def _(g, out, x, axis=None, keepdims=False):
    return broadcast_to(unreduce(g, x.shape, axis, keepdims), x.shape)


def sum_to_shape(g, shape):
    """Sum ``g`` over the axes along which ``shape`` was broadcast to ``g.shape``."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = reduce_sum(g, axis=axes)
    if g.shape != tuple(shape):
        g = reshape(g, shape=tuple(shape))
    return g


# ------------------------------------------------------------------- expand
def _expand_sampler(draw, s, dtype):
    x = draw(s.array(dtype))
    return (x,) + tuple(draw(s.broadcast_target(x.shape))), {}


@composite(sampler=_expand_sampler, reference=lambda x, *shape: ref.broadcast(x, shape))
def expand(x, *sizes):
    """PyTorch's ``expand``: broadcast to ``sizes``; -1 keeps a dimension's size."""
    if len(sizes) == 1 and not isinstance(sizes[0], (int, numpy.integer)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape=shape)
