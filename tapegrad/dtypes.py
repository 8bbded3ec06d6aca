"""dtypes, the default floating dtype, and turning user data into the arrays tensors hold.

dtypes follow PyTorch's defaults: Python floats become the default dtype
(float32 unless changed with `set_default_dtype`); NumPy arrays keep
theirs; Python ints become int64 and bools bool.  Arithmetic then follows
NumPy's promotion rules, in which a Python scalar never upcasts a tensor
(``float32_tensor * 2.0`` stays float32).
"""
import numpy

from .backend import ndarray, xp
from .errors import OpError, here

float16 = numpy.float16
"""16-bit float (NumPy's ``float16``)."""
float32 = numpy.float32
"""32-bit float (NumPy's ``float32``), the default dtype unless ``set_default_dtype`` changes it."""
float64 = numpy.float64
"""64-bit float (NumPy's ``float64``), the dtype for gradient checking."""
int32 = numpy.int32
"""32-bit integer (NumPy's ``int32``)."""
int64 = numpy.int64
"""64-bit integer (NumPy's ``int64``), the dtype of Python ints and of indices."""
bool_ = numpy.bool_
"""Boolean (NumPy's ``bool_``), the dtype of masks and comparisons."""

_default = {"dtype": numpy.dtype(numpy.float32)}

#: dtype kinds a tensor can hold: bool, signed and unsigned integers, floats, complex.
_NUMERIC_KINDS = "biufc"


def get_default_dtype():
    """The floating dtype of tensors made from Python floats (float32 by default)."""
    return _default["dtype"]


def set_default_dtype(dtype):
    """Set the floating dtype used for Python floats and the random constructors."""
    dtype = numpy.dtype(dtype)
    if dtype.kind != "f":
        raise OpError(f"set_default_dtype: {dtype} is not a floating dtype")
    _default["dtype"] = dtype


def as_array(data, dtype):
    """A read-only copy of ``data`` (not a tensor) as an ndarray, with the default-dtype rule."""
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
