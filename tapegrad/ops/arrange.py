"""Rearranging elements: tile, repeat, flip, roll, moveaxis, pad, triangles and diagonals, stacks.

All composed from the shape primitives (reshape, broadcast_to, permute,
getitem and its transpose index_add), so their gradients -- to any order --
come from those.  PyTorch's names and semantics; note the one clash:
``x.repeat(*sizes)`` is PyTorch's method (NumPy's ``tile``), while the
function ``repeat`` is NumPy's (PyTorch's ``repeat_interleave``).
"""
import builtins

import numpy

from ..errors import OpError, here
from ..primitive import composite
from . import _references as ref
from ._util import normalize_axis, operand
from .elementwise import where
from .broadcast import broadcast_to
from .reduce import sum as reduce_all
from .shape import _tensors, cat, getitem, index_add, permute, reshape


def _one(draw, s, dtype, min_dims=1):
    return draw(s.array(dtype, min_dims=min_dims))


def _dims_of(dims, ndim, opname, x):
    dims = (dims,) if isinstance(dims, (int, numpy.integer)) else tuple(dims)
    return [normalize_axis(d, ndim, opname, x) for d in dims]


# ------------------------------------------------------------- tile / repeat
def _tile_sampler(draw, s, dtype):
    x = _one(draw, s, dtype, 0)
    return (x, tuple(draw(s.st.lists(s.st.integers(1, 3), max_size=3)))), {}


def _tile_reference(x, reps):
    reps = tuple(reps)
    n = builtins.max(len(reps), x.ndim)
    x = ref.reshaped(x, (1,) * (n - x.ndim) + x.shape)
    reps = (1,) * (n - len(reps)) + reps
    out = numpy.empty([a * r for a, r in zip(x.shape, reps)])
    for idx in numpy.ndindex(out.shape):
        out[idx] = x[tuple(i % a for i, a in zip(idx, x.shape))]
    return out


@composite(sampler=_tile_sampler, reference=_tile_reference)
def tile(x, reps):
    """``x`` repeated ``reps[i]`` times along each dim (``torch.tile``, ``numpy.tile``)."""
    x = operand(x, "tile")
    reps = (reps,) if isinstance(reps, (int, numpy.integer)) else tuple(reps)
    n = builtins.max(len(reps), x.ndim)
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    reps = (1,) * (n - len(reps)) + reps
    spread = tuple(v for r, a in zip(reps, shape) for v in (1, a))
    wide = tuple(v for r, a in zip(reps, shape) for v in (r, a))
    out = broadcast_to(reshape(x, shape=spread), shape=wide)
    return reshape(out, shape=tuple(r * a for r, a in zip(reps, shape)))


def _repeat_sampler(draw, s, dtype):
    x = _one(draw, s, dtype)
    dim = draw(s.st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[dim]
    repeats = draw(s.st.one_of(s.st.integers(0, 3),
                               s.st.lists(s.st.integers(0, 3), min_size=n, max_size=n)))
    return (x, repeats), {"dim": dim}


def _repeat_reference(x, repeats, dim=None):
    if dim is None:
        x, dim = x.ravel(), 0
    n = x.shape[dim]
    counts = [repeats] * n if isinstance(repeats, int) else list(repeats)
    picks = [i for i in range(n) for _ in range(counts[i])]
    return numpy.take(x, numpy.array(picks, dtype=int), axis=dim)


@composite(sampler=_repeat_sampler, reference=_repeat_reference)
def repeat_interleave(x, repeats, dim=None):
    """Each element repeated ``repeats`` times (an int, or one count per element) along
    ``dim``; over the flattened tensor when ``dim`` is None.  NumPy's ``repeat``."""
    x = operand(x, "repeat_interleave")
    if dim is None:
        x, dim = reshape(x, shape=(-1,)), 0
    d = normalize_axis(dim, x.ndim, "repeat_interleave", x)
    n = x.shape[d]
    counts = numpy.broadcast_to(numpy.asarray(getattr(repeats, "_data", repeats)), (n,))
    if counts.dtype.kind not in "iu" or (counts < 0).any():
        raise OpError(f"repeat_interleave: repeats must be non-negative ints (one, or one per "
                      f"element of dim {d}, length {n}); got {repeats!r}. At {here()}")
    picks = numpy.repeat(numpy.arange(n), counts)
    return getitem(x, index=(slice(None),) * d + (picks,))


# --------------------------------------------------------------- flip / roll
def _flip_sampler(draw, s, dtype):
    x = _one(draw, s, dtype)
    dims = draw(s.st.lists(s.st.integers(0, x.ndim - 1), unique=True, min_size=1))
    return (x,), {"dims": tuple(dims)}


def _flip_reference(x, dims):
    out = numpy.empty_like(x)
    dims = {d % x.ndim for d in dims}
    for idx in numpy.ndindex(x.shape):
        out[idx] = x[tuple(n - 1 - i if k in dims else i
                           for k, (i, n) in enumerate(zip(idx, x.shape)))]
    return out


@composite(sampler=_flip_sampler, reference=_flip_reference)
def flip(x, dims):
    """Reverse the order of elements along ``dims`` (an int or a tuple)."""
    x = operand(x, "flip")
    index = [slice(None)] * x.ndim
    for d in _dims_of(dims, x.ndim, "flip", x):
        index[d] = slice(None, None, -1)
    return getitem(x, index=tuple(index))


def _roll_sampler(draw, s, dtype):
    x = _one(draw, s, dtype)
    if draw(s.st.booleans()):
        return (x, draw(s.st.integers(-5, 5))), {"dims": None}
    dims = draw(s.st.lists(s.st.integers(0, x.ndim - 1), unique=True, min_size=1))
    shifts = draw(s.st.lists(s.st.integers(-5, 5), min_size=len(dims), max_size=len(dims)))
    return (x, tuple(shifts)), {"dims": tuple(dims)}


def _roll_reference(x, shifts, dims=None):
    if dims is None:
        return _roll_reference(x.ravel(), (shifts,), (0,)).reshape(x.shape)
    out = numpy.empty_like(x)
    moves = dict(zip((d % x.ndim for d in dims), shifts))
    for idx in numpy.ndindex(x.shape):
        target = tuple((i + moves.get(k, 0)) % n for k, (i, n) in enumerate(zip(idx, x.shape)))
        out[target] = x[idx]
    return out


@composite(sampler=_roll_sampler, reference=_roll_reference)
def roll(x, shifts, dims=None):
    """Shift elements along ``dims`` by ``shifts``, wrapping around; over the flattened
    tensor (shape kept) when ``dims`` is None."""
    x = operand(x, "roll")
    if dims is None:
        return reshape(roll(reshape(x, shape=(-1,)), shifts, 0), shape=x.shape)
    shifts = (shifts,) if isinstance(shifts, (int, numpy.integer)) else tuple(shifts)
    dims = _dims_of(dims, x.ndim, "roll", x)
    if len(shifts) != len(dims):
        raise OpError(f"roll: {len(shifts)} shifts for {len(dims)} dims; give one shift per "
                      f"dim. At {here()}")
    index = [slice(None)] * x.ndim
    for d, k in zip(dims, shifts):
        index[d] = (numpy.arange(x.shape[d]) - k) % x.shape[d]
        x = getitem(x, index=tuple(index))
        index[d] = slice(None)
    return x


def _moveaxis_sampler(draw, s, dtype):
    x = _one(draw, s, dtype)
    return (x,), {"source": draw(s.st.integers(-x.ndim, x.ndim - 1)),
                  "destination": draw(s.st.integers(-x.ndim, x.ndim - 1))}


def _moveaxis_reference(x, source, destination):
    order = [i for i in range(x.ndim) if i != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return ref.permuted(x, order)


@composite(sampler=_moveaxis_sampler, reference=_moveaxis_reference)
def moveaxis(x, source, destination):
    """Move dims ``source`` (an int or a tuple) to positions ``destination``; the others keep
    their order (``torch.movedim``)."""
    x = operand(x, "moveaxis")
    src = _dims_of(source, x.ndim, "moveaxis", x)
    dst = _dims_of(destination, x.ndim, "moveaxis", x)
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise OpError(f"moveaxis: source {source!r} and destination {destination!r} must be "
                      f"distinct dims, as many of each. At {here()}")
    order = [i for i in range(x.ndim) if i not in src]
    for d, sdim in sorted(zip(dst, src)):
        order.insert(d, sdim)
    return permute(x, axes=tuple(order))


# ----------------------------------------------------------------------- pad
def _pad_sampler(draw, s, dtype):
    x = _one(draw, s, dtype)
    k = draw(s.st.integers(1, x.ndim))
    pad = tuple(draw(s.st.lists(s.st.integers(-1, 2), min_size=2 * k, max_size=2 * k)))
    for i in range(k):      # never crop a dim away entirely
        n = x.shape[x.ndim - 1 - i]
        if pad[2 * i] + pad[2 * i + 1] <= -n:
            pad = pad[:2 * i] + (0, 0) + pad[2 * i + 2:]
    return (x, pad), {"value": draw(s.st.sampled_from([0.0, 1.5]))}


def _pad_reference(x, pad, value=0.0):
    shape = list(x.shape)
    before = [0] * x.ndim
    for i in range(len(pad) // 2):
        d = x.ndim - 1 - i
        before[d] = pad[2 * i]
        shape[d] += pad[2 * i] + pad[2 * i + 1]
    out = numpy.full(shape, value)
    for idx in numpy.ndindex(x.shape):
        target = tuple(i + b for i, b in zip(idx, before))
        if all(0 <= t < n for t, n in zip(target, shape)):
            out[target] = x[idx]
    return out


@composite(sampler=_pad_sampler, reference=_pad_reference)
def pad(x, pad, mode="constant", value=0.0):
    """Pad with ``value`` (``torch.nn.functional.pad``'s constant mode): ``pad`` lists
    (before, after) pairs from the last dim backwards; negative amounts crop."""
    x = operand(x, "pad")
    if mode != "constant":
        raise OpError(f"pad: mode {mode!r} is not supported; tapegrad pads with a constant "
                      f"(mode='constant'). At {here()}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise OpError(f"pad: pad must hold (before, after) pairs for at most {x.ndim} dims; "
                      f"got {tuple(pad)}. At {here()}")
    crop, place, shape = [], [], []
    for d in range(x.ndim):
        i = x.ndim - 1 - d
        lo, hi = (pad[2 * i], pad[2 * i + 1]) if 2 * i < len(pad) else (0, 0)
        n = x.shape[d]
        crop.append(slice(builtins.max(-lo, 0), n - builtins.max(-hi, 0)))
        place.append(slice(builtins.max(lo, 0), builtins.max(lo, 0) + n - builtins.max(-lo, 0)
                           - builtins.max(-hi, 0)))
        shape.append(n + lo + hi)
    inner = getitem(x, index=tuple(crop))
    out = index_add(inner, index=tuple(place), shape=tuple(shape))
    if value != 0:
        border = numpy.full(shape, value, dtype=x.dtype)
        border[tuple(place)] = 0
        out = out + border
    return out


# --------------------------------------------------- triangles and diagonals
def _triangle_sampler(draw, s, dtype):
    x = _one(draw, s, dtype, 2)
    return (x,), {"diagonal": draw(s.st.integers(-2, 2))}


def _triangle_reference(keep):
    def reference(x, diagonal=0):
        out = numpy.array(x, dtype=numpy.float64)
        for idx in numpy.ndindex(x.shape):
            if not keep(idx[-1] - idx[-2], diagonal):
                out[idx] = 0.0
        return out
    return reference


def _triangle(x, diagonal, upper, opname):
    x = operand(x, opname)
    if x.ndim < 2:
        raise OpError(f"{opname}: needs a matrix (or a batch of them); got shape "
                      f"{tuple(x.shape)}. At {here()}")
    rows, cols = numpy.indices(x.shape[-2:])
    keep = cols - rows >= diagonal if upper else cols - rows <= diagonal
    return where(keep, x, 0.0)


@composite(sampler=_triangle_sampler, reference=_triangle_reference(lambda k, d: k >= d))
def triu(x, diagonal=0):
    """The upper triangle of the last two dims (on and above ``diagonal``); zeros below."""
    return _triangle(x, diagonal, True, "triu")


@composite(sampler=_triangle_sampler, reference=_triangle_reference(lambda k, d: k <= d))
def tril(x, diagonal=0):
    """The lower triangle of the last two dims (on and below ``diagonal``); zeros above."""
    return _triangle(x, diagonal, False, "tril")


def _diagonal_sampler(draw, s, dtype):
    x = _one(draw, s, dtype, 2)
    d1, d2 = draw(s.st.lists(s.st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2,
                             unique_by=lambda d: d % x.ndim))
    return (x,), {"offset": draw(s.st.integers(-2, 2)), "dim1": d1, "dim2": d2}


def _diagonal_reference(x, offset=0, dim1=0, dim2=1):
    d1, d2 = dim1 % x.ndim, dim2 % x.ndim
    rest = [i for i in range(x.ndim) if i not in (d1, d2)]
    lanes = []
    for k in range(-builtins.min(offset, 0), x.shape[d1]):
        if 0 <= k + offset < x.shape[d2]:
            index = [slice(None)] * x.ndim
            index[d1], index[d2] = k, k + offset
            lanes.append(x[tuple(index)])
    shape = tuple(x.shape[i] for i in rest)
    return numpy.stack(lanes, -1) if lanes else numpy.empty(shape + (0,))


@composite(sampler=_diagonal_sampler, reference=_diagonal_reference)
def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal of the matrices in dims ``dim1``, ``dim2`` (``offset`` > 0 above it),
    as the last dim of the result (``torch.diagonal``)."""
    x = operand(x, "diagonal")
    a = normalize_axis(dim1, x.ndim, "diagonal", x)
    b = normalize_axis(dim2, x.ndim, "diagonal", x)
    if a == b:
        raise OpError(f"diagonal: dim1 and dim2 are the same dim ({a}). At {here()}")
    moved = permute(x, axes=tuple(i for i in range(x.ndim) if i not in (a, b)) + (a, b))
    n, m = x.shape[a], x.shape[b]
    rows = numpy.arange(builtins.max(-offset, 0), builtins.min(n, m - offset))
    rows = rows[rows >= 0] if rows.size else rows
    return getitem(moved, index=(Ellipsis, rows, rows + offset))


_diagonal = diagonal     # diag's parameter shadows the name


def _diag_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1, max_dims=2))
    return (x,), {"diagonal": draw(s.st.integers(-2, 2))}


def _diag_reference(x, diagonal=0):
    if x.ndim == 2:
        return _diagonal_reference(x, diagonal, 0, 1)
    n = x.shape[0] + abs(diagonal)
    out = numpy.zeros((n, n))
    for i, v in enumerate(x):
        out[i + builtins.max(-diagonal, 0), i + builtins.max(diagonal, 0)] = v
    return out


@composite(sampler=_diag_sampler, reference=_diag_reference)
def diag(x, diagonal=0):
    """A vector to a square matrix with it on ``diagonal``; a matrix to its ``diagonal``."""
    x = operand(x, "diag")
    if x.ndim == 2:
        return _diagonal(x, diagonal)
    if x.ndim != 1:
        raise OpError(f"diag: needs a vector or a matrix, got shape {tuple(x.shape)}. "
                      f"At {here()}")
    k = numpy.arange(x.shape[0])
    n = x.shape[0] + abs(diagonal)
    return index_add(x, index=(k + builtins.max(-diagonal, 0), k + builtins.max(diagonal, 0)),
                     shape=(n, n))


def _trace_sampler(draw, s, dtype):
    return (draw(s.array(dtype, min_dims=2, max_dims=2)),), {}


@composite(sampler=_trace_sampler, reference=lambda x: builtins.sum(
    x[i, i] for i in range(builtins.min(x.shape))))
def trace(x):
    """The sum of a matrix's diagonal."""
    x = operand(x, "trace")
    if x.ndim != 2:
        raise OpError(f"trace: needs a matrix, got shape {tuple(x.shape)}. At {here()}")
    return reduce_all(diagonal(x))


# -------------------------------------------------------------------- stacks
def _at_least(x, ndim):
    return ref.reshaped(x, (1,) * (ndim - x.ndim) + x.shape if x.ndim < ndim else x.shape)


def _hstack_reference(xs):
    xs = [_at_least(x, 1) for x in xs]
    return ref.joined(xs, 0 if xs[0].ndim == 1 else 1)


def _vstack_sampler(draw, s, dtype):
    base = draw(s.shape(max_dims=2))
    count = draw(s.st.integers(1, 3))
    if len(base) == 2 and draw(s.st.booleans()):
        return ([draw(s.array(dtype, shape=(draw(s.st.integers(1, 3)), base[1])))
                 for _ in range(count)],), {}
    return ([draw(s.array(dtype, shape=base)) for _ in range(count)],), {}


def _hstack_sampler(draw, s, dtype):
    base = draw(s.shape(max_dims=2))
    count = draw(s.st.integers(1, 3))
    if len(base) == 2 and draw(s.st.booleans()):
        return ([draw(s.array(dtype, shape=(base[0], draw(s.st.integers(1, 3)))))
                 for _ in range(count)],), {}
    return ([draw(s.array(dtype, shape=base)) for _ in range(count)],), {}


@composite(sampler=_vstack_sampler, reference=lambda xs: ref.joined(
    [_at_least(x, 2) for x in xs], 0))
def vstack(tensors):
    """Join along the first dim, vectors taken as rows (``torch.vstack``)."""
    tensors = _tensors(tensors, "vstack")
    return cat([x if x.ndim >= 2 else reshape(x, shape=(1,) * (2 - x.ndim) + tuple(x.shape))
                for x in tensors], 0)


@composite(sampler=_hstack_sampler, reference=_hstack_reference)
def hstack(tensors):
    """Join along the second dim (the first for vectors) (``torch.hstack``)."""
    tensors = [x if x.ndim else reshape(x, shape=(1,)) for x in _tensors(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def _ravel_sampler(draw, s, dtype):
    return (draw(s.array(dtype)),), {}


@composite(sampler=_ravel_sampler, reference=lambda x: ref.reshaped(x, (-1,)))
def ravel(x):
    """All elements as a vector, in order."""
    return reshape(operand(x, "ravel"), shape=(-1,))
