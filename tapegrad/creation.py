"""Making tensors: ``tensor``, ``zeros``, ``randn`` ... and the seedable generator.

Python floats become the default dtype (see `tapegrad.dtypes`, whose
names are re-exported here); NumPy arrays keep theirs.
"""
import weakref

import numpy

from .backend import ndarray, xp
from .dtypes import (as_array, bool_, float16, float32, float64, get_default_dtype,  # noqa: F401
                     int32, int64, set_default_dtype)
from .errors import OpError, here
from .generator import Generator
from .tensor import SHARED_OWNERS, TENSOR_TYPES, Tensor

_default = {"generator": Generator(0)}


def manual_seed(seed):
    """Reseed, in place, the default generator used by the random functions and ``nn``
    initialisation; returns it (as ``torch.manual_seed`` does)."""
    return _default["generator"].manual_seed(seed)


def default_generator():
    """The ``tapegrad.Generator`` (a ``numpy.random.Generator``) used when no
    ``generator=`` is given."""
    return _default["generator"]


def _refuse_nested_tensors(data):
    """Raise if a (nested) list holds tensors: copying their values would drop the gradient."""
    pending = [data]
    while pending:
        for item in pending.pop():
            if type(item) in TENSOR_TYPES:
                raise OpError(f"tensor: the list holds tensors ({item.shape} {item.dtype}); "
                              f"tensor() copies values, which would drop their gradient and "
                              f"dtype. Fix: tapegrad.stack(list) joins tensors and keeps "
                              f"both. At {here()}")
            if isinstance(item, (list, tuple)):
                pending.append(item)


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of ``data`` (a number, nested list, array or tensor)."""
    if isinstance(data, (list, tuple)):
        _refuse_nested_tensors(data)
    return _leaf(as_array(data._data if type(data) in TENSOR_TYPES else data, dtype),
                 requires_grad)


def from_numpy(array):
    """A tensor over ``array`` without copying; the tensor sees it through a read-only view.

    Writes to ``array`` by its owner show through (as in PyTorch) but are not
    tracked by version counters: do not write to it while a graph uses it.
    """
    if not isinstance(array, ndarray):
        raise OpError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    view = array.view()
    view.flags.writeable = False
    shared = array
    while isinstance(shared, ndarray):       # the caller's array and those under it stay theirs
        key = id(shared)
        SHARED_OWNERS[key] = weakref.ref(shared, lambda _, key=key: SHARED_OWNERS.pop(key, None))
        shared = shared.base
    return Tensor._make(view, None, -1)


def _leaf(arr, requires_grad):
    t = Tensor._make(arr, None, -1)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape(size):
    if len(size) == 1 and not isinstance(size[0], (int, numpy.integer)):
        return tuple(size[0])
    return tuple(size)


def _float_dtype(dtype):
    return get_default_dtype() if dtype is None else numpy.dtype(dtype)


def zeros(*size, dtype=None, requires_grad=False):
    """A new leaf of the given shape filled with zeros (default dtype unless ``dtype`` is given)."""
    return _leaf(_frozen(xp.zeros(_shape(size), dtype=_float_dtype(dtype))), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """A new leaf of the given shape filled with ones (default dtype unless ``dtype`` is given)."""
    return _leaf(_frozen(xp.ones(_shape(size), dtype=_float_dtype(dtype))), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """A new leaf of shape ``size`` filled with ``fill_value`` (an int fill makes int64, a bool fill bool)."""
    if dtype is None and isinstance(fill_value, int):      # bool is an int too
        dtype = numpy.bool_ if isinstance(fill_value, bool) else numpy.int64
    arr = xp.full(_shape((size,)), fill_value, dtype=_float_dtype(dtype))
    return _leaf(_frozen(arr), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """A new leaf of zeros with the shape and dtype of ``t`` (a tensor or array)."""
    return _leaf(_frozen(xp.zeros_like(_data(t), dtype=dtype)), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """A new leaf of ones with the shape and dtype of ``t`` (a tensor or array)."""
    return _leaf(_frozen(xp.ones_like(_data(t), dtype=dtype)), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    """A new leaf filled with ``fill_value``, with the shape and dtype of ``t``."""
    return _leaf(_frozen(xp.full_like(_data(t), fill_value, dtype=dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Like ``torch.arange``: integers give int64, any float argument the default dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if is_float else numpy.int64
    return _leaf(_frozen(xp.arange(start, end, step, dtype=dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    return _leaf(_frozen(xp.linspace(start, end, steps, dtype=_float_dtype(dtype))),
                 requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """An ``n`` by ``m`` (default ``n``) leaf with ones on the diagonal and zeros elsewhere."""
    return _leaf(_frozen(xp.eye(n, m, dtype=_float_dtype(dtype))), requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) from ``generator`` (default: the seeded global one)."""
    gen = generator or _default["generator"]
    dt = _float_dtype(dtype)
    arr = gen.random(_shape(size), dtype=dt if dt in (float32, float64) else float64)
    return _leaf(_frozen(arr.astype(dt, copy=False)), requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False):
    """Standard normal samples from ``generator`` (default: the seeded global one)."""
    gen = generator or _default["generator"]
    dt = _float_dtype(dtype)
    arr = gen.standard_normal(_shape(size), dtype=dt if dt in (float32, float64) else float64)
    return _leaf(_frozen(arr.astype(dt, copy=False)), requires_grad)


def randint(low, high, size, generator=None, dtype=numpy.int64):
    """Integers drawn uniformly from [low, high) by ``generator`` (default: the seeded global one)."""
    gen = generator or _default["generator"]
    return _leaf(_frozen(gen.integers(low, high, size=size, dtype=dtype)), False)


def _data(t):
    return t._data if type(t) in TENSOR_TYPES else xp.asarray(t)


def _frozen(arr):
    arr.flags.writeable = False
    return arr
