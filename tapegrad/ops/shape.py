"""Shape primitives: reshape, permute, getitem, concatenate, stack, split, unbind.

Everything else that moves data around (squeeze, unsqueeze, flatten, swapaxes,
chunk ...; broadcasting is in `.broadcast`) is composed from these.  ``split`` and ``unbind`` are
multi-output primitives: their vjp gets one cotangent per output and joins them
with a single ``concatenate``/``stack`` -- what makes slicing a sequence into
time steps cost O(T), not O(T^2).
"""
import builtins

import numpy

from ..backend import ndarray, xp
from ..errors import OpError, describe, here
from ..primitive import composite, primitive
from ..tensor import TENSOR_TYPES
from . import _references as ref
from ._util import normalize_axes, normalize_axis, operand, pick


# ------------------------------------------------------------------ reshape
def _reshape_sampler(draw, s, dtype):
    x = draw(s.array(dtype))
    return (x,), {"shape": draw(s.reshape_target(x.shape))}


def _explain_reshape(exc, x, *, shape):
    return (f"cannot reshape {x.size} elements (shape {x.shape}) into {shape}: the element "
            f"counts must match (one dimension may be -1 to infer it).")


@primitive(sampler=_reshape_sampler, reference=ref.reshaped, explain=_explain_reshape,
           saves=())
def reshape(x, *, shape):
    """``x`` with the same elements in a new ``shape`` (one entry may be -1)."""
    return xp.reshape(x, shape)


@reshape.defvjp
def _(g, out, x, shape):
    return reshape(g, shape=x.shape)


# ------------------------------------------------------------------ permute
def _permute_sampler(draw, s, dtype):
    x = draw(s.array(dtype))
    axes = draw(s.st.permutations(range(x.ndim)))
    negative = draw(s.st.lists(s.st.booleans(), min_size=x.ndim, max_size=x.ndim))
    return (x,), {"axes": tuple(a - x.ndim if neg else a for a, neg in zip(axes, negative))}


@primitive(sampler=_permute_sampler, reference=ref.permuted, saves=())
def permute(x, *, axes):
    """Reorder dimensions: output dim i is input dim ``axes[i]`` (NumPy's ``transpose``)."""
    return xp.transpose(x, axes)


@permute.defvjp
def _(g, out, x, axes):
    return permute(g, axes=tuple(int(i) for i in numpy.argsort([a % x.ndim for a in axes])))


# ------------------------------------------------------------------ getitem
def _is_basic(index):
    """True for an index of ints, slices, None and Ellipsis only (a view, no repeats)."""
    parts = index if type(index) is tuple else (index,)
    return builtins.all(p is None or p is Ellipsis or isinstance(p, (int, numpy.integer, slice))
                        for p in parts)


def _getitem_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    return (x,), {"index": draw(s.index(x.shape))}


@primitive(sampler=_getitem_sampler, reference=ref.gathered, saves=())
def getitem(x, *, index):
    """``x[index]`` with NumPy semantics (basic and advanced indexing)."""
    return x[index]


@getitem.defvjp
def _(g, out, x, index):
    return index_add(g, index=index, shape=x.shape)


def _index_add_sampler(draw, s, dtype):
    shape = draw(s.shape(min_dims=1))
    index = draw(s.index(shape))
    g = draw(s.array(dtype, shape=numpy.zeros(shape)[index].shape))
    return (g,), {"index": index, "shape": shape}


@primitive(sampler=_index_add_sampler, reference=ref.scattered, saves=())
def index_add(g, *, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices add up).

    The transpose of ``getitem``, and so its vjp.
    """
    z = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        z[index] = g
    elif _integer_arrays(index):
        _add_rows(z, index if type(index) is tuple else (index,), g)
    else:
        xp.add.at(z, index, g)
    return z


def _integer_arrays(index):
    """True for an index of integer arrays only (one, or a tuple): it picks whole rows."""
    parts = index if type(index) is tuple else (index,)
    return bool(parts) and builtins.all(type(p) is xp.ndarray and p.dtype.kind in "iu"
                                        and p.size for p in parts)


def _add_rows(z, index, g):
    """``z[index] += g`` for a tuple of integer arrays (an embedding lookup's gradient, a
    cross-entropy's picked logits): the picked rows sorted by position and each run of
    repeats summed by one ``reduceat``, several times faster than ``numpy.add.at``."""
    lead = z.shape[:len(index)]
    picks = [xp.where(p < 0, p + n, p) if p.dtype.kind == "i" else p
             for p, n in zip(xp.broadcast_arrays(*index), lead)]
    flat = xp.ravel_multi_index(tuple(p.ravel() for p in picks), lead)
    rows = g.reshape((flat.size,) + z.shape[len(index):])
    order = xp.argsort(flat, kind="stable")
    picked = flat[order]
    starts = xp.flatnonzero(xp.concatenate(([True], picked[1:] != picked[:-1])))
    table = z.reshape((-1,) + z.shape[len(index):])      # a view: z is fresh and contiguous
    table[picked[starts]] = xp.add.reduceat(rows[order], starts, axis=0)


@index_add.defvjp
def _(g, out, gin, index, shape):
    return getitem(g, index=index)


# -------------------------------------------------------- concatenate/stack
def _join_sampler(stacked):
    def sampler(draw, s, dtype):
        xs, axis = draw(s.joinable(dtype, stacked))
        return tuple(xs), {"axis": axis}
    return sampler


@primitive(sampler=_join_sampler(False), saves=(), name="concatenate",
           reference=lambda *xs, axis: ref.joined(xs, axis))
def concatenate_(*xs, axis):
    """The arrays joined along an existing ``axis`` (the primitive behind ``cat`` and
    ``concatenate``, which take a list)."""
    return xp.concatenate(xs, axis=axis)


@concatenate_.defvjp
def _(g, out, *xs, axis):
    sizes = tuple(x.shape[axis] for x in xs)
    if len(xs) == 1:
        return g
    return split_sizes(g, sizes=sizes, axis=axis)


@primitive(sampler=_join_sampler(True), reference=lambda *xs, axis: ref.stacked(xs, axis),
           saves=(), name="stack")
def stack_(*xs, axis):
    """The primitive behind ``stack`` (recorded as ``stack``): tensors joined along a new ``axis``."""
    return xp.stack(xs, axis=axis)


@stack_.defvjp
def _(g, out, *xs, axis):
    if len(xs) == 1:
        return reshape(g, shape=xs[0].shape)
    return unbind_(g, axis=axis)


# ------------------------------------------------------------ split/unbind
def _split_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    axis = draw(s.st.integers(0, x.ndim - 1))
    sizes = draw(s.partition(x.shape[axis]))
    return (x,), {"sizes": sizes, "axis": axis}


@primitive(multi=True, sampler=_split_sampler, reference=ref.pieces, saves=())
def split_sizes(x, *, sizes, axis):
    """Cut ``x`` along ``axis`` into pieces of the given ``sizes`` (a multi-output primitive).

    Plain slicing: views, and much cheaper per call than ``split``'s general path.
    """
    index = [slice(None)] * x.ndim
    pieces = []
    start = 0
    for n in sizes:
        index[axis] = slice(start, start + n)
        pieces.append(x[tuple(index)])
        start += n
    if start != x.shape[axis]:
        raise ValueError(f"the sizes {tuple(sizes)} add up to {start}, but dim {axis} of the "
                         f"input has {x.shape[axis]} elements; they must add up exactly")
    return tuple(pieces)


@split_sizes.defvjp
def _(gs, outs, x, sizes, axis):
    return concatenate_(*gs, axis=axis)


def _unbind_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    return (x,), {"axis": draw(s.st.integers(0, x.ndim - 1))}


@primitive(multi=True, sampler=_unbind_sampler,
           reference=lambda x, axis: tuple(numpy.take(x, i, axis=axis)
                                           for i in range(x.shape[axis])), saves=(),
           name="unbind")
def unbind_(x, *, axis):
    """The slices of ``x`` along ``axis``, each without that axis (a multi-output primitive)."""
    if axis == 0:
        return tuple(x)
    return tuple(xp.moveaxis(x, axis, 0))


@unbind_.defvjp
def _(gs, outs, x, axis):
    return stack_(*gs, axis=axis)


# --------------------------------------------------------------- composites
def _one_array(draw, s, dtype, **kw):
    return draw(s.array(dtype, min_dims=1, **kw))


def _squeeze_sampler(draw, s, dtype):
    x = draw(s.array(dtype, shape=draw(s.shape_with_ones())))
    ones = [i for i, n in enumerate(x.shape) if n == 1]
    dim = draw(s.st.sampled_from([None] + ones)) if ones else None
    return (x,), {"dim": dim}


@composite(sampler=_squeeze_sampler,
           reference=lambda x, dim=None: ref.reshaped(x, [n for i, n in enumerate(x.shape) if n != 1
                                                          or dim not in (None, i)]))
def squeeze(x, dim=None, *, axis=None):
    """Remove dimensions of size 1 (all of them, or ``dim`` if it has size 1)."""
    x = operand(x, "squeeze")
    dim = pick(dim, axis, "squeeze")
    shape = x.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        axes = normalize_axes(dim, len(shape), "squeeze", x)
        new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return reshape(x, shape=new) if new != shape else x


def _unsqueeze_sampler(draw, s, dtype):
    x = draw(s.array(dtype))
    return (x,), {"dim": draw(s.st.integers(-x.ndim - 1, x.ndim))}


@composite(sampler=_unsqueeze_sampler, reference=lambda x, dim: ref.reshaped(
    x, x.shape[:dim % (x.ndim + 1)] + (1,) + x.shape[dim % (x.ndim + 1):]))
def unsqueeze(x, dim):
    """Insert a dimension of size 1 at ``dim`` (negative counts from the end of the result)."""
    shape = x.shape
    d = normalize_axis(dim, len(shape) + 1, "unsqueeze", x)
    return reshape(x, shape=shape[:d] + (1,) + shape[d:])


expand_dims = unsqueeze
"""NumPy's name for ``unsqueeze``: the same function."""


def _flatten_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    a = draw(s.st.integers(0, x.ndim - 1))
    b = draw(s.st.integers(a, x.ndim - 1))
    return (x,), {"start_dim": a, "end_dim": b}


def _flatten_ref(x, start_dim=0, end_dim=-1):
    shape = x.shape
    end = end_dim % len(shape)
    return ref.reshaped(x, shape[:start_dim] + (-1,) + shape[end + 1:])


@composite(sampler=_flatten_sampler, reference=_flatten_ref)
def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one."""
    shape = x.shape
    if not shape:
        return reshape(x, shape=(1,))
    a = normalize_axis(start_dim, len(shape), "flatten", x)
    b = normalize_axis(end_dim, len(shape), "flatten", x)
    if a > b:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                      f"{describe(x)}; give start_dim <= end_dim. At {here()}")
    n = 1
    for i in range(a, b + 1):
        n *= shape[i]
    return reshape(x, shape=shape[:a] + (n,) + shape[b + 1:])


def _swap_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    return (x,), {"dim0": draw(s.st.integers(-x.ndim, x.ndim - 1)),
                  "dim1": draw(s.st.integers(-x.ndim, x.ndim - 1))}


def _swapped_ref(x, dim0, dim1):
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return ref.permuted(x, axes)


@composite(sampler=_swap_sampler, reference=_swapped_ref)
def swapaxes(x, dim0, dim1):
    """Swap two dimensions (a 0-d tensor's dims 0 and -1 are the tensor itself)."""
    n = x.ndim
    if n == 0:
        normalize_axes(dim0, 0, "swapaxes", x)
        normalize_axes(dim1, 0, "swapaxes", x)
        return x
    a = normalize_axis(dim0, n, "swapaxes", x)
    b = normalize_axis(dim1, n, "swapaxes", x)
    if a == b:
        return x
    axes = list(range(n))
    axes[a], axes[b] = b, a
    return permute(x, axes=tuple(axes))


transpose = swapaxes
"""PyTorch's name for ``swapaxes``: swap two dimensions."""




def _tensors(seq, opname):
    """``seq`` checked to be a non-empty list or tuple of tensors (or NumPy arrays)."""
    if type(seq) in TENSOR_TYPES or not isinstance(seq, (list, tuple)):
        raise OpError(f"{opname}: expected a list or tuple of tensors, got "
                      f"{type(seq).__name__}. At {here()}")
    if not seq:
        raise OpError(f"{opname}: expected a non-empty list of tensors. At {here()}")
    for i, t in enumerate(seq):
        if type(t) not in TENSOR_TYPES and type(t) is not ndarray:
            raise OpError(f"{opname}: element {i} of the list is a {type(t).__name__}, not a "
                          f"tensor. Fix: make it one first, e.g. tapegrad.full_like(x, value) "
                          f"for a number. At {here()}")
    return seq


def _cat_sampler(draw, s, dtype):
    xs, axis = draw(s.joinable(dtype, False))
    return (list(xs),), {"dim": axis}


@composite(sampler=_cat_sampler, reference=lambda xs, dim=0: ref.joined(xs, dim))
def cat(tensors, dim=None, *, axis=None):
    """Join tensors along an existing dimension (``torch.cat``; default 0; ``axis``: NumPy's
    name)."""
    tensors = _tensors(tensors, "cat")
    axis = normalize_axis(pick(dim, axis, "cat") or 0, tensors[0].ndim, "cat", tensors[0])
    _check_join(tensors, axis, "cat", stacked=False)
    return concatenate_(*tensors, axis=axis)


def concatenate(tensors, axis=0, *, dim=None):
    """``numpy.concatenate`` / ``torch.concatenate``: ``cat`` with NumPy's argument name."""
    return cat(tensors, dim, axis=axis if dim is None else None)


def _stack_sampler(draw, s, dtype):
    xs, axis = draw(s.joinable(dtype, True))
    return (list(xs),), {"dim": axis}


@composite(sampler=_stack_sampler, reference=lambda xs, dim=0: ref.stacked(xs, dim))
def stack(tensors, dim=None, *, axis=None):
    """Join same-shaped tensors along a new dimension ``dim`` (``axis``: NumPy's name)."""
    tensors = _tensors(tensors, "stack")
    axis = normalize_axis(pick(dim, axis, "stack") or 0, tensors[0].ndim + 1, "stack", tensors[0])
    _check_join(tensors, axis, "stack", stacked=True)
    return stack_(*tensors, axis=axis)


def _check_join(tensors, axis, opname, stacked):
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        shape = t.shape
        same = (shape == first) if stacked else (
            len(shape) == len(first) and builtins.all(
                a == b for j, (a, b) in enumerate(zip(shape, first)) if j != axis))
        if not same:
            need = "the same shape" if stacked else f"the same shape except in dim {axis}"
            raise OpError(f"{opname}: tensor {i} has shape {tuple(shape)} but tensor 0 has "
                          f"{tuple(first)}; all need {need}. At {here()}")


def _public_split_sampler(draw, s, dtype):
    x = draw(s.array(dtype, min_dims=1))
    dim = draw(s.st.integers(0, x.ndim - 1))
    n = x.shape[dim]
    how = draw(s.st.one_of(s.st.integers(1, builtins.max(n, 1)), s.partition(n).map(list)))
    return (x, how), {"dim": dim}


def _public_split_ref(x, how, dim=0):
    n = x.shape[dim]
    sizes = how if isinstance(how, list) else [how] * (n // how) + ([n % how] if n % how else [])
    return ref.pieces(x, sizes, dim)


@composite(sampler=_public_split_sampler, reference=_public_split_ref)
def split(x, split_size_or_sections, dim=0):
    """``torch.split``: pieces of ``split_size`` along ``dim`` (the last may be smaller),
    or pieces of the listed sizes."""
    axis = normalize_axis(dim, x.ndim, "split", x)
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (int, numpy.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise OpError(f"split: split_size must be positive, got {size}. At {here()}")
        sizes = (size,) * (n // size) + ((n % size,) if n % size else ())
    else:
        sizes = tuple(int(v) for v in split_size_or_sections)
        if builtins.sum(sizes) != n or builtins.any(v < 0 for v in sizes):
            raise OpError(f"split: sizes {list(sizes)} must be non-negative and add up to "
                          f"{n}, the length of dim {axis} (shape {tuple(x.shape)}). At {here()}")
    if len(sizes) <= 1:
        return (x,)
    return split_sizes(x, sizes=sizes, axis=axis)


def chunk(x, chunks, dim=0):
    """``torch.chunk``: split into ``chunks`` pieces of equal size (the last may be smaller)."""
    if not isinstance(chunks, (int, numpy.integer)) or chunks <= 0:
        raise OpError(f"chunk: chunks must be a positive int, got {chunks!r} (operand "
                      f"{describe(x)}). At {here()}")
    n = x.shape[normalize_axis(dim, x.ndim, "chunk", x)]
    size = -(-n // chunks)
    return split(x, builtins.max(size, 1), dim)


def unbind(x, dim=0):
    """The slices along ``dim`` as a tuple, each without that dim."""
    return unbind_(x, axis=normalize_axis(dim, x.ndim, "unbind", x))
