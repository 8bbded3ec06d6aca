"""Helpers shared by the op modules: non-differentiable wrappers and axis checks."""
import functools

import numpy

from ..backend import xp
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

    ``operand`` (the tensor the op is applied to) is named in the error message.
    """
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, numpy.integer)) else tuple(axis)
    of = "" if operand is None else f" of {describe(operand)}"
    out = []
    for a in axes:
        if not isinstance(a, (int, numpy.integer)):
            raise OpError(f"{opname}: dim must be an int or a tuple of ints, got {a!r}{of}. "
                          f"At {here()}")
        if not -ndim <= a < max(ndim, 1):
            raise OpError(f"{opname}: dim {a} is out of range{of}; valid dims are "
                          f"{-ndim}..{ndim - 1}. At {here()}")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise OpError(f"{opname}: dim {axis!r} repeats a dimension{of}. At {here()}")
    return tuple(sorted(out))


def normalize_axis(axis, ndim, opname, operand=None):
    """One axis (negatives allowed) as a non-negative int."""
    return normalize_axes(axis, ndim, opname, operand)[0]


def pick(dim, axis, opname):
    """PyTorch's ``dim`` or NumPy's ``axis`` (both accepted; not both)."""
    if axis is not None:
        if dim is not None:
            raise OpError(f"{opname}: give dim or axis, not both. At {here()}")
        return axis
    return dim
