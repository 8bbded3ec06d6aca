"""Tensor's operators and method forms, and ``Tape.gradient``: attached here, in one list.

`Tensor` and `Tape` sit below
the operations and the backward sweep, so the methods that need those
(``x + y``, ``x.sum()``, ``x[i]``, ``x.backward()``, ``tape.gradient``) are
written here, above both, and set on the classes by `TENSOR_METHODS`
(as HIPS autograd's ``numpy_boxes`` does).  Operators whose operand order
matches a primitive are the primitive itself: ``x * y`` calls ``ops.mul(x, y)``
with no wrapper frame in between.
"""
import functools

import numpy

from . import linalg, ops
from .backward import backward as _backward, tape_gradient
from .errors import OpError, here
from .grad_mode import no_grad
from .tape import Tape, retain, retained_for
from .tensor import TENSOR_TYPES, Tensor, plain_index


# -------------------------------------------------------- NumPy's protocols
def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    """``ndarray (op) tensor`` runs the tensor's operator; other NumPy ufuncs refuse tensors.

    A NumPy function would compute on the array and silently drop the tape,
    so it raises, naming the tapegrad function to call instead.
    """
    op = OPERATOR_UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
    if op is not None:
        return op(*inputs)
    name = ufunc.__name__
    call = name if method == "__call__" else f"{name}.{method}"
    shapes = ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in inputs if type(x) in TENSOR_TYPES)
    if method != "__call__":
        fix = f"Use tapegrad's functions (x.sum(), x.max(), ...) instead of ufunc.{method}"
    elif hasattr(ops, name):
        fix = f"Use tapegrad.{name}(x) to record it on the tape"
    else:
        fix = (f"tapegrad has no {name}: compose it from tapegrad functions or add it with "
               f"@tapegrad.primitive")
    raise OpError(f"numpy.{call} was applied to a tapegrad Tensor ({shapes}); NumPy would "
                  f"drop the tape. {fix}; or call NumPy on x.numpy() for a plain array "
                  f"without gradient. At {here()}")


def __array_function__(self, func, types, args, kwargs):
    """NumPy functions (``numpy.sum``, ``numpy.where``, ...) refuse tensors the same way."""
    name = func.__name__
    where = ("tapegrad.linalg" if func.__module__ == "numpy.linalg" and hasattr(linalg, name)
             else "tapegrad" if hasattr(ops, name) else None)
    fix = (f"Use {where}.{name} to record it on the tape" if where else
           f"tapegrad has no {name}: compose it from tapegrad functions")
    raise OpError(f"numpy.{name} was applied to a tapegrad Tensor; NumPy would drop the "
                  f"tape. {fix}; or call NumPy on x.numpy() for a plain array without "
                  f"gradient. At {here()}")


#: NumPy ufuncs that ``ndarray (op) tensor`` calls, and the tapegrad function that does the job.
OPERATOR_UFUNCS = {
    numpy.add: ops.add, numpy.subtract: ops.sub, numpy.multiply: ops.mul,
    numpy.true_divide: ops.div, numpy.power: ops.pow, numpy.matmul: ops.matmul,
    numpy.negative: ops.neg, numpy.less: ops.lt, numpy.less_equal: ops.le,
    numpy.greater: ops.gt, numpy.greater_equal: ops.ge, numpy.equal: ops.eq,
    numpy.not_equal: ops.ne, numpy.logical_and: ops.logical_and,
    numpy.logical_or: ops.logical_or, numpy.remainder: ops.remainder,
}


# ---------------------------------------------------------------- autograd
def backward(self, gradient=None, retain_graph=False, keep_contributions=False):
    """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` by a reverse sweep of the tape.

    ``gradient`` is required unless ``self`` has one element.  Saved values
    are freed as the sweep passes them unless ``retain_graph=True``.
    ``keep_contributions=True`` keeps every per-use contribution array in
    the ledger (see `tapegrad.contributions`); norms are always kept.
    """
    _backward(self, gradient, retain_graph=retain_graph, keep_contributions=keep_contributions)


def retain_grad(self):
    """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
    if self._record is not None and not self.retains_grad:
        retain(self._record, self._slot, self)
    return self


@property
def retains_grad(self):
    """True when this non-leaf tensor keeps its ``.grad`` after backward."""
    rec = self._record
    return rec is not None and any(ref() is self for _, ref in retained_for(rec))


# ------------------------------------------------------------- in place
def _inplace(self, fn, other, opname):
    self._check_inplace(opname)
    with no_grad():
        result = fn(self, other)
    return self._assign(result._data, opname)


def add_(self, other):
    """Add ``other`` in place (leaves under ``no_grad`` only); returns the tensor."""
    return _inplace(self, ops.add, other, "add_")


def sub_(self, other):
    """Subtract ``other`` in place (leaves under ``no_grad`` only); returns the tensor."""
    return _inplace(self, ops.sub, other, "sub_")


def mul_(self, other):
    """Multiply by ``other`` in place (leaves under ``no_grad`` only); returns the tensor."""
    return _inplace(self, ops.mul, other, "mul_")


def div_(self, other):
    """Divide by ``other`` in place (leaves under ``no_grad`` only); returns the tensor."""
    return _inplace(self, ops.div, other, "div_")


# --------------------------------------------------------------- indexing
def __getitem__(self, index):
    return ops.getitem(self, index=plain_index(index))


def __iter__(self):
    if self._data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(ops.unbind(self, 0))


@property
def T(self):
    """All axes reversed (a transpose for matrices)."""
    return ops.permute(self, axes=tuple(range(self.ndim - 1, -1, -1)))


@property
def mT(self):
    """The last two axes swapped (batched matrix transpose)."""
    return ops.swapaxes(self, -1, -2)


# ---------------------------------------------------- method forms of ops
def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Method form of `sum`."""
    return ops.sum(self, dim, keepdim, axis=axis, keepdims=keepdims)


def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Method form of `mean`."""
    return ops.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)


def reshape(self, *shape):
    """The same elements in a new shape, given as sizes or as one tuple (one may be -1)."""
    return ops.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int)
                       else shape)


def permute(self, *dims):
    """The dimensions reordered, given as indices or as one tuple."""
    return ops.permute(self, axes=tuple(dims[0]) if len(dims) == 1 and
                       not isinstance(dims[0], int) else dims)


def transpose(self, dim0, dim1):
    """Swap two dimensions (PyTorch's meaning; NumPy's ``transpose`` is `permute`)."""
    return ops.swapaxes(self, dim0, dim1)


def astype(self, dtype):
    """A copy cast to ``dtype`` (differentiable between float dtypes)."""
    return ops.cast(self, dtype)


def to(self, *args, dtype=None, device=None):
    """PyTorch's ``to``: ``to(dtype)``, ``to("cpu")``, ``to("cpu", dtype)``, ``to(other)``.

    tapegrad runs on the CPU only, so the device part is a check and
    otherwise a no-op; ``to(other)`` takes ``other``'s dtype.  Returns
    ``self`` when nothing changes (as PyTorch does), else a cast copy.
    """
    for arg in args:
        if type(arg) in TENSOR_TYPES:
            dtype = arg.dtype
        elif _is_device(arg):
            device = arg
        else:
            dtype = arg
    if device is not None and str(device).split(":")[0] != "cpu":
        raise OpError(f"to: tapegrad runs on the CPU (through NumPy) and has no device "
                      f"{str(device)!r}. Fix: drop the device argument, or use 'cpu'. "
                      f"At {here()}")
    if dtype is None or numpy.dtype(dtype) == self._data.dtype:
        return self
    return ops.cast(self, dtype)


def _is_device(arg):
    """True for what PyTorch accepts as a device: a device string such as 'cpu' or 'cuda:0'."""
    return isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta")


def clone(self):
    """A copy whose gradient flows back to ``self`` (recorded as a cast to its own dtype)."""
    return ops.cast(self, self._data.dtype)


def t(self):
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (PyTorch's ``t``)."""
    if self.ndim > 2:
        raise OpError(f"t: expects a tensor with at most 2 dimensions, got shape {self.shape}. "
                      f"Fix: x.transpose(dim0, dim1) or x.mT for the last two. At {here()}")
    return self if self.ndim < 2 else ops.swapaxes(self, 0, 1)


def _itself(self):
    """``self``: tapegrad's tensors always live in CPU memory and NumPy handles any layout,
    so ``cpu()`` and ``contiguous()`` (for code written for PyTorch) change nothing."""
    return self


def norm(self, p="fro", dim=None, keepdim=False):
    """PyTorch's ``Tensor.norm``: the ``p``-norm over ``dim`` (all elements when None);
    "fro" is the 2-norm, "nuc" the nuclear norm of matrices (``dim`` a pair)."""
    if p == "nuc":
        return ops.norms.matrix_norm(self, "nuc", (-2, -1) if dim is None else dim, keepdim)
    return ops.norms.vector_norm(self, 2 if p == "fro" else p, dim, keepdim)


def repeat(self, *sizes):
    """PyTorch's ``repeat``: the tensor tiled ``sizes[i]`` times along each dim (NumPy's
    ``tile``; NumPy's ``repeat`` is ``tapegrad.repeat_interleave``)."""
    return ops.tile(self, sizes[0] if len(sizes) == 1 and not isinstance(sizes[0], int)
                    else sizes)


def _reflected(op):
    """``other (op) self``: the primitive with the operands swapped."""
    def method(self, other):
        return op(other, self)
    method.__name__ = f"__r{op.__name__}__"
    return method


def _same_as(fn):
    """The function ``fn`` as a method (``x.exp()`` is ``tapegrad.exp(x)``)."""
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    return method


def _cast_to(dtype):
    def method(self):
        return ops.cast(self, dtype)
    method.__name__ = numpy.dtype(dtype).name
    method.__doc__ = f"A copy cast to {method.__name__} (recorded as a ``cast``)."
    return method


#: Every method ``Tensor`` gets here, by name: the one place the operators are set.
TENSOR_METHODS = {
    "__array_ufunc__": __array_ufunc__, "__array_function__": __array_function__,
    # arithmetic: the primitive itself where the operand order matches
    "__add__": ops.add, "__radd__": _reflected(ops.add),
    "__sub__": ops.sub, "__rsub__": _reflected(ops.sub),
    "__mul__": ops.mul, "__rmul__": _reflected(ops.mul),
    "__truediv__": ops.div, "__rtruediv__": _reflected(ops.div),
    "__pow__": ops.pow, "__rpow__": _reflected(ops.pow),
    "__matmul__": ops.matmul, "__rmatmul__": _reflected(ops.matmul),
    "__mod__": ops.remainder, "__rmod__": _reflected(ops.remainder),
    "__neg__": ops.neg, "__pos__": lambda self: self, "__abs__": _same_as(ops.abs),
    # comparisons and logic: constant (no-gradient) results
    "__lt__": ops.lt, "__le__": ops.le, "__gt__": ops.gt, "__ge__": ops.ge,
    "__eq__": ops.eq, "__ne__": ops.ne,
    "__and__": ops.logical_and, "__or__": ops.logical_or, "__invert__": ops.logical_not,
    # in place (only where the tape does not depend on the tensor)
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_,
    "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_,
    # indexing, iteration, transposes
    "__getitem__": __getitem__, "__iter__": __iter__, "T": T, "mT": mT,
    # autograd
    "backward": backward, "retain_grad": retain_grad, "retains_grad": retains_grad,
    # method forms of the operations
    "sum": sum, "mean": mean,
    "max": _same_as(ops.max), "min": _same_as(ops.min),
    "amax": _same_as(ops.amax), "amin": _same_as(ops.amin),
    "argmax": _same_as(ops.argmax), "argmin": _same_as(ops.argmin),
    "logsumexp": _same_as(ops.logsumexp),
    "softmax": _same_as(ops.softmax), "log_softmax": _same_as(ops.log_softmax),
    "reshape": reshape, "view": reshape, "flatten": _same_as(ops.flatten),
    "permute": permute, "transpose": transpose, "swapaxes": _same_as(ops.swapaxes),
    "squeeze": _same_as(ops.squeeze), "unsqueeze": _same_as(ops.unsqueeze),
    "expand": _same_as(ops.expand), "broadcast_to": _same_as(ops.broadcast_to),
    "split": _same_as(ops.split), "chunk": _same_as(ops.chunk), "unbind": _same_as(ops.unbind),
    "matmul": ops.matmul, "addmm": ops.addmm, "pow": ops.pow,
    "exp": _same_as(ops.exp), "log": _same_as(ops.log), "sqrt": _same_as(ops.sqrt),
    "abs": _same_as(ops.abs), "sin": _same_as(ops.sin), "cos": _same_as(ops.cos),
    "tanh": _same_as(ops.tanh), "sigmoid": _same_as(ops.sigmoid), "relu": _same_as(ops.relu),
    "neg": _same_as(ops.neg), "clamp": _same_as(ops.clip), "clip": _same_as(ops.clip),
    "norm": norm, "repeat": repeat, "var": _same_as(ops.var), "std": _same_as(ops.std),
    "prod": _same_as(ops.prod), "cumsum": _same_as(ops.cumsum), "cumprod": _same_as(ops.cumprod),
    # dtype conversion
    "to": to, "astype": astype, "float": _cast_to(numpy.float32),
    "double": _cast_to(numpy.float64), "long": _cast_to(numpy.int64),
    # PyTorch habits: a differentiable copy, a matrix transpose, no-op device and layout
    "clone": clone, "t": t, "cpu": _itself, "contiguous": _itself,
}

for _name, _method in TENSOR_METHODS.items():
    setattr(Tensor, _name, _method)

Tape.gradient = tape_gradient
