"""Test references: each operation computed another way, for the property tests.

A reference must not be the forward it checks (the registry's metadata test
enforces that it calls none of the forward's NumPy functions): these compute
with Python's ``math`` on scalars, with loops over positions, or from a known
identity.  Slow, and only ever run on the tests' tiny arrays.
"""
import builtins
import math

import numpy

_F64 = numpy.float64


def _floats(a):
    return numpy.asarray(a, dtype=_F64)


def scalar_map(fn):
    """``fn`` on Python floats at every broadcast position of the inputs."""
    def reference(*xs, **params):
        arrays = numpy.broadcast_arrays(*[numpy.asarray(x) for x in xs])
        out = numpy.empty(arrays[0].shape)
        for idx in numpy.ndindex(out.shape):
            out[idx] = fn(*(a[idx].item() for a in arrays), **params)
        return out
    return reference


def reduced_axes(axis, ndim):
    """The set of axes a reduction over ``axis`` (None, int or tuple) covers."""
    if axis is None:
        return set(range(ndim))
    if ndim == 0:
        return set()
    return {a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))}


def lanes(x, axis):
    """(kept shape, [(index of the kept dims, the values along ``axis`` as a list)])."""
    x = _floats(x)
    axes = reduced_axes(axis, x.ndim)
    keep = [i for i in range(x.ndim) if i not in axes]
    out = []
    for idx in numpy.ndindex(*[x.shape[i] for i in keep]):
        select = [slice(None)] * x.ndim
        for i, j in zip(keep, idx):
            select[i] = j
        out.append((idx, x[tuple(select)].ravel().tolist()))
    return tuple(x.shape[i] for i in keep), out


def reduction(fn):
    """``fn(list of floats) -> float`` over ``axis``, NumPy's ``keepdims`` semantics."""
    def reference(x, axis=None, keepdims=False):
        shape, parts = lanes(x, axis)
        out = numpy.empty(shape)
        for idx, values in parts:
            out[idx] = fn(values)
        if keepdims:
            axes = reduced_axes(axis, numpy.ndim(x))
            out = reshaped(out, tuple(1 if i in axes else n for i, n in enumerate(numpy.shape(x))))
        return out
    return reference


def torch_style(reference):
    """A NumPy-style ``reference(x, axis, keepdims)`` under PyTorch's ``dim``/``keepdim``."""
    return lambda x, dim=None, keepdim=False: reference(x, dim, keepdim)


def logsumexp_of(values):
    return math.log(math.fsum(math.exp(v) for v in values))


def reshaped(x, shape):
    """``x``'s elements in C order laid out in ``shape`` (one -1 allowed), by position."""
    x = numpy.asarray(x)
    shape = tuple(shape)
    if -1 in shape:
        known = int(numpy.prod([n for n in shape if n != -1]))
        shape = tuple(x.size // known if n == -1 else n for n in shape)
    out = numpy.empty(shape, x.dtype)
    out.flat[:] = list(x.flat)
    return out


def permuted(x, axes):
    """Output position ``idx`` takes input position with ``idx[i]`` at dim ``axes[i]``."""
    x = numpy.asarray(x)
    axes = [a % x.ndim for a in axes]
    out = numpy.empty([x.shape[a] for a in axes], x.dtype)
    for idx in numpy.ndindex(out.shape):
        source = [0] * x.ndim
        for i, a in enumerate(axes):
            source[a] = idx[i]
        out[idx] = x[tuple(source)]
    return out


def broadcast(x, shape):
    """``x`` repeated into ``shape`` by position (size-1 and missing dims stretched)."""
    x = numpy.asarray(x)
    lead = len(shape) - x.ndim
    out = numpy.empty(shape, x.dtype)
    for idx in numpy.ndindex(*shape):
        out[idx] = x[tuple(0 if n == 1 else i for i, n in zip(idx[lead:], x.shape))]
    return out


def joined(xs, axis):
    """Arrays joined along an existing ``axis``, each copied into its slice."""
    axis %= xs[0].ndim
    shape = list(xs[0].shape)
    shape[axis] = builtins.sum(x.shape[axis] for x in xs)
    out = numpy.empty(shape, numpy.result_type(*xs))
    start = 0
    for x in xs:
        select = [slice(None)] * len(shape)
        select[axis] = slice(start, start + x.shape[axis])
        out[tuple(select)] = x
        start += x.shape[axis]
    return out


def stacked(xs, axis):
    """Same-shaped arrays stacked along a new ``axis``."""
    axis %= xs[0].ndim + 1
    shape = list(xs[0].shape)
    shape.insert(axis, len(xs))
    out = numpy.empty(shape, numpy.result_type(*xs))
    for i, x in enumerate(xs):
        out[(slice(None),) * axis + (i,)] = x
    return out


def pieces(x, sizes, axis):
    """``x`` cut along ``axis`` into pieces of ``sizes``, by ``numpy.take``."""
    edges = numpy.cumsum((0,) + tuple(sizes))
    return tuple(numpy.take(x, numpy.arange(a, b), axis=axis) for a, b in zip(edges, edges[1:]))


def gathered(x, index):
    """``x[index]`` as a gather of the positions that the same index picks from ``arange``."""
    x = numpy.asarray(x)
    return numpy.take(x.ravel(), numpy.arange(x.size).reshape(x.shape)[index])


def scattered(g, index, shape):
    """Zeros of ``shape`` with ``g``'s elements added one by one at ``index``'s positions."""
    out = numpy.zeros(shape, numpy.asarray(g).dtype)
    positions = numpy.arange(out.size).reshape(shape)[index]
    flat = out.reshape(-1)
    for p, v in zip(numpy.ravel(positions), numpy.broadcast_to(g, positions.shape).ravel()):
        flat[p] += v
    return out


def matrix_product(a, b):
    """NumPy's ``matmul`` rules spelled with ``einsum`` (1-d operands promoted and dropped)."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out = numpy.einsum("...ij,...jk->...ik", a2, b2)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out
