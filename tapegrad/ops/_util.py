"""Helpers shared by the op modules: non-differentiable wrappers and axis checks."""
import builtins
import functools

import numpy

from ..backend import ndarray, xp
from ..errors import OpError, describe, here
from ..tensor import TENSOR_TYPES, Tensor


def nondifferentiable(fn):
    """Wrap an array function so it accepts tensors and returns a tensor with no gradient.

    For comparisons, masks and indices: on plain arrays it runs as is (so vjps
    can use it); on tensors the result is a constant leaf.
    """
    @functools.wraps(fn)
    def call(*args, **kwargs):
        is_tensor = False
        datas = []
        for a in args:
            if type(a) in TENSOR_TYPES:
                is_tensor = True
                datas.append(a._data)
            else:
                datas.append(a)
        if not is_tensor:
            return fn(*datas, **kwargs)
        try:
            out = fn(*datas, **kwargs)
        except Exception as exc:
            raise OpError(f"{fn.__name__}: {type(exc).__name__}: {exc}\n  operands: "
                          f"{', '.join(describe(a) for a in args)}\n  at {here()}") from None
        out = xp.asarray(out)
        out.flags.writeable = False
        return Tensor._make(out, None, -1)
    return call


def normalize_axes(axis, ndim, opname, operand=None):
    """``axis`` (None, int or sequence, negatives allowed) as a sorted tuple, or None.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch, meaning the tensor
    itself: they normalise to ``()`` (nothing to reduce over).  ``operand``
    (the tensor the op is applied to) is named in the error message.
    """
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, numpy.integer)) else tuple(axis)
    of = "" if operand is None else f" of {describe(operand)}"
    size = builtins.max(ndim, 1)     # a 0-d tensor's dims are those of a 1-d one
    out = []
    for a in axes:
        if not isinstance(a, (int, numpy.integer)):
            raise OpError(f"{opname}: dim must be an int or a tuple of ints, got {a!r}{of}. "
                          f"At {here()}")
        if not -size <= a < size:
            raise OpError(f"{opname}: dim {a} is out of range{of}; valid dims are "
                          f"{-size}..{size - 1}. At {here()}")
        out.append(int(a) % size)
    if len(set(out)) != len(out):
        raise OpError(f"{opname}: dim {axis!r} repeats a dimension{of}. At {here()}")
    return tuple(sorted(out)) if ndim else ()


def normalize_axis(axis, ndim, opname, operand=None):
    """One axis (negatives allowed) as a non-negative int; the op needs a real dimension."""
    axes = normalize_axes(axis, ndim, opname, operand)
    if not axes:
        of = "" if operand is None else f" ({describe(operand)})"
        raise OpError(f"{opname}: the operand is 0-d{of}: it has no dimension {axis} to work "
                      f"along. Fix: give it one first, x.reshape(1). At {here()}")
    return axes[0]


def operand(x, opname, argname="input"):
    """``x`` as an operand: a tensor or an ndarray as is, a number as a 0-d array.

    Anything else (a list of tensors, say) raises naming the function, the
    argument and the fix, instead of an AttributeError deep inside.
    """
    if type(x) in TENSOR_TYPES or type(x) is ndarray:
        return x
    if isinstance(x, (bool, int, float, numpy.number, numpy.bool_)):
        return xp.asarray(x)
    fix = ("tapegrad.stack(...) joins tensors into one, tapegrad.tensor(...) makes one from "
           "numbers" if isinstance(x, (list, tuple)) else "pass a tensor")
    raise OpError(f"{opname}: {argname} is a {type(x).__name__}, not a tensor. Fix: {fix}. "
                  f"At {here()}")


def pick(dim, axis, opname):
    """PyTorch's ``dim`` or NumPy's ``axis`` (both accepted; not both)."""
    if axis is not None:
        if dim is not None:
            raise OpError(f"{opname}: give dim or axis, not both. At {here()}")
        return axis
    return dim
