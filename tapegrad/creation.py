"""Making tensors: ``tensor``, ``zeros``, ``randn`` ... and the seedable generator.

dtypes follow PyTorch's defaults: Python floats become the default dtype
(float32 unless changed with :func:`set_default_dtype`); NumPy arrays keep
theirs; Python ints become int64 and bools bool.  Arithmetic then follows
NumPy's promotion rules, in which a Python scalar never upcasts a tensor
(``float32_tensor * 2.0`` stays float32).
"""
import numpy

from .backend import ndarray, xp
from .errors import OpError, here
from .tensor import TENSOR_TYPES, Tensor

float16, float32, float64 = numpy.float16, numpy.float32, numpy.float64
int32, int64, bool_ = numpy.int32, numpy.int64, numpy.bool_

_default = {"dtype": numpy.dtype(numpy.float32),
            "generator": numpy.random.default_rng(0)}


def get_default_dtype():
    """The floating dtype of tensors made from Python floats (float32 by default)."""
    return _default["dtype"]


def set_default_dtype(dtype):
    """Set the floating dtype used for Python floats and the random constructors."""
    dtype = numpy.dtype(dtype)
    if dtype.kind != "f":
        raise OpError(f"set_default_dtype: {dtype} is not a floating dtype")
    _default["dtype"] = dtype


def manual_seed(seed):
    """Reseed the default generator used by ``rand``, ``randn`` and ``nn`` initialisation."""
    _default["generator"] = numpy.random.default_rng(seed)
    return _default["generator"]


def default_generator():
    """The ``numpy.random.Generator`` used when no ``generator=`` is given."""
    return _default["generator"]


#: dtype kinds a tensor can hold: bool, signed and unsigned integers, floats, complex.
_NUMERIC_KINDS = "biufc"


def as_array(data, dtype):
    """A read-only copy of ``data`` as an ndarray, with tapegrad's default-dtype rule."""
    if type(data) in TENSOR_TYPES:
        data = data._data
    try:
        if dtype is None and not isinstance(data, (ndarray, numpy.generic)):
            arr = xp.asarray(data)
            if arr.dtype.kind == "f":
                arr = arr.astype(_default["dtype"])  # a new array
            elif arr.dtype.kind in _NUMERIC_KINDS:
                arr = arr.copy()
        else:
            arr = xp.array(data, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        wanted = "" if dtype is None else f" with dtype={getattr(dtype, '__name__', dtype)}"
        raise OpError(f"tensor: cannot make a tensor from {type(data).__name__}{wanted}: "
                      f"{str(exc).rstrip('.')}. At {here()}") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise OpError(f"tensor: cannot make a tensor from {type(data).__name__} holding "
                      f"{arr.dtype} values (shape {arr.shape}); tensors hold numbers and bools "
                      f"only. At {here()}")
    arr.flags.writeable = False
    return arr


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of ``data`` (a number, nested list, array or tensor)."""
    return _leaf(as_array(data, dtype), requires_grad)


def from_numpy(array):
    """A tensor over ``array`` without copying; the tensor sees it through a read-only view.

    Writes to ``array`` by its owner show through (as in PyTorch) but are not
    tracked by version counters: do not write to it while a graph uses it.
    """
    if not isinstance(array, ndarray):
        raise OpError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    view = array.view()
    view.flags.writeable = False
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
    return _default["dtype"] if dtype is None else numpy.dtype(dtype)


def zeros(*size, dtype=None, requires_grad=False):
    return _leaf(_frozen(xp.zeros(_shape(size), dtype=_float_dtype(dtype))), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _leaf(_frozen(xp.ones(_shape(size), dtype=_float_dtype(dtype))), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, int):      # bool is an int too
        dtype = numpy.bool_ if isinstance(fill_value, bool) else numpy.int64
    arr = xp.full(_shape((size,)), fill_value, dtype=_float_dtype(dtype))
    return _leaf(_frozen(arr), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return _leaf(_frozen(xp.zeros_like(_data(t), dtype=dtype)), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return _leaf(_frozen(xp.ones_like(_data(t), dtype=dtype)), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return _leaf(_frozen(xp.full_like(_data(t), fill_value, dtype=dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Like ``torch.arange``: integers give int64, any float argument the default dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = _default["dtype"] if is_float else numpy.int64
    return _leaf(_frozen(xp.arange(start, end, step, dtype=dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _leaf(_frozen(xp.linspace(start, end, steps, dtype=_float_dtype(dtype))),
                 requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
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
    gen = generator or _default["generator"]
    return _leaf(_frozen(gen.integers(low, high, size=size, dtype=dtype)), False)


def _data(t):
    return t._data if type(t) in TENSOR_TYPES else xp.asarray(t)


def _frozen(arr):
    arr.flags.writeable = False
    return arr
