"""``Tensor``: a read-only NumPy array plus what autograd needs to know about it.

A tensor's array never changes in place: "in-place" operations (allowed only
where they cannot corrupt the tape) replace the array and bump the version, so
an array the tape saved, or one a user holds from ``.numpy()``, stays valid.
"""
import numpy

from .backend import ndarray, xp
from .errors import InPlaceError, OpError, describe, here
from .state import STATE

#: Exact types treated as tensors on the hot path (``Tensor`` and its subclasses).
TENSOR_TYPES = set()


class Tensor:
    """An array that can record the operations applied to it.

    Create tensors with :func:`tapegrad.tensor` and the other constructors.
    ``data`` is the underlying ``numpy.ndarray``, read-only.
    """

    __slots__ = ("_data", "requires_grad", "grad", "_record", "_slot", "_version",
                 "name", "__weakref__")
    __array_priority__ = 1000   # ndarray (op) Tensor defers to Tensor's reflected operator

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``ndarray (op) tensor`` runs the tensor's operator; other NumPy ufuncs refuse tensors.

        A NumPy function would compute on the array and silently drop the tape,
        so it raises, naming the tapegrad function to call instead.
        """
        op = _OPERATOR_UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if op is not None:
            return op(*inputs)
        name = ufunc.__name__
        call = name if method == "__call__" else f"{name}.{method}"
        shapes = ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in inputs
                           if type(x) in TENSOR_TYPES)
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
        fix = (f"Use tapegrad.{name} to record it on the tape" if hasattr(ops, name) else
               f"tapegrad has no {name}: compose it from tapegrad functions")
        raise OpError(f"numpy.{name} was applied to a tapegrad Tensor; NumPy would drop the "
                      f"tape. {fix}; or call NumPy on x.numpy() for a plain array without "
                      f"gradient. At {here()}")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        TENSOR_TYPES.add(cls)

    def __init__(self, data, requires_grad=False):
        from .creation import as_array
        self._data = as_array(data, None)
        self._record = None
        self._slot = -1
        self._version = 0
        self.grad = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, record, slot):
        """Fast internal constructor: ``data`` is an ndarray the engine owns.

        ``slot`` is the output index for multi-output primitives, -1 otherwise.
        """
        t = _new(Tensor)
        t._data = data
        t._record = record
        t._slot = slot
        t._version = 0
        t.grad = None
        t.name = None
        t.requires_grad = record is not None
        return t

    # ------------------------------------------------------------------ facts
    @property
    def data(self):
        """The underlying array, read-only (writing to it raises instead of corrupting the tape).

        The engine freezes arrays lazily, when they leave it (here, ``numpy()``,
        ``__array__``, a user primitive's arguments), not on every operation.
        """
        return _frozen(self._data)

    shape = property(lambda self: self._data.shape, doc="Tuple of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="NumPy dtype.")
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")

    def size(self, dim=None):
        """Shape as a tuple, or the length of dimension ``dim`` (PyTorch's ``size()``).

        Unlike NumPy's ``.size`` attribute; the element count is :meth:`numel`.
        """
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded operation (inputs, parameters)."""
        return self._record is None

    @property
    def T(self):
        """All axes reversed (a transpose for matrices)."""
        return ops.permute(self, axes=tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        """The last two axes swapped (batched matrix transpose)."""
        return ops.swapaxes(self, -1, -2)

    @property
    def grad_fn(self):
        """The tape record that produced this tensor (None for leaves)."""
        return self._record

    @property
    def version(self):
        """Increases each time the tensor is modified in place."""
        return self._version

    def item(self):
        """The single element as a Python number."""
        if self._data.size != 1:
            raise OpError(f"item: tensor has {self._data.size} elements (shape {self.shape}); "
                          f"item() needs exactly one. Index or reduce first (x.sum(), x[0]). "
                          f"At {here()}")
        return self._data.item()

    def numpy(self):
        """The data as a read-only NumPy array (no copy). ``.copy()`` it to write."""
        return _frozen(self._data)

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else _frozen(self._data)

    # -------------------------------------------------------------- autograd
    def detach(self):
        """A new leaf sharing this tensor's (read-only) data, cut off from the tape."""
        return Tensor._make(self._data, None, -1)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on a leaf; only floating-point tensors can require grad."""
        if requires_grad and self._data.dtype.kind != "f":
            raise OpError(f"requires_grad_: only floating-point tensors can require gradients, "
                          f"this one is {self._data.dtype} with shape {self.shape}. "
                          f"Make it float first: tensor(data, dtype=tapegrad.float32). At {here()}")
        if not requires_grad and self._record is not None:
            raise OpError("requires_grad_(False) on a non-leaf tensor; use .detach() instead. "
                          f"At {here()}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        from .tape import retain
        if self._record is not None and not self.retains_grad:
            retain(self._record, self._slot, self)
        return self

    @property
    def retains_grad(self):
        from .tape import retained_for
        rec = self._record
        return rec is not None and any(ref() is self for _, ref in retained_for(rec))

    def backward(self, gradient=None, retain_graph=False, keep_contributions=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` by a reverse sweep of the tape.

        ``gradient`` is required unless ``self`` has one element.  Saved values
        are freed as the sweep passes them unless ``retain_graph=True``.
        ``keep_contributions=True`` keeps every per-use contribution array in
        the ledger (see :func:`tapegrad.contributions`); norms are always kept.
        """
        from .backward import backward
        backward(self, gradient, retain_graph=retain_graph,
                 keep_contributions=keep_contributions)

    # -------------------------------------------------------------- in place
    def _check_inplace(self, opname):
        if self._record is not None or (self.requires_grad and STATE.grad_enabled):
            made = (f", made by {self._record.op.name} at {self._record.site}"
                    if self._record is not None else " (a leaf that requires grad)")
            raise InPlaceError(
                f"{opname}: in-place change of a tensor the tape depends on: shape {self.shape} "
                f"{self.dtype}{made}; at {here()}. Backward needs its current value. "
                f"Write it out of place (h = h + x instead of h += x), or, for a parameter "
                f"update, wrap it in `with tapegrad.no_grad():`.")

    def _assign(self, new, opname):
        """Replace the data by ``new`` (same shape; cast to own dtype) and bump the version."""
        new = xp.asarray(new)
        if new.shape != self._data.shape:
            try:
                new = xp.broadcast_to(new, self._data.shape)
            except ValueError:
                raise OpError(f"{opname}: result of shape {new.shape} does not fit the tensor's "
                              f"shape {self.shape}; in-place operations cannot change the shape. "
                              f"At {here()}") from None
        if new.dtype != self._data.dtype:
            if not xp.can_cast(new.dtype, self._data.dtype, casting="same_kind"):
                raise OpError(f"{opname}: cannot store {new.dtype} values into a "
                              f"{self.dtype} tensor in place. At {here()}")
        new = xp.array(new, dtype=self._data.dtype, copy=True)
        new.flags.writeable = False
        self._data = new
        STATE.mutations += 1
        self._version = STATE.mutations
        return self

    def _inplace(self, fn, other, opname):
        self._check_inplace(opname)
        from .grad_mode import no_grad
        with no_grad():
            result = fn(self, other)
        return self._assign(result._data, opname)

    def add_(self, other):
        return self._inplace(ops.add, other, "add_")

    def sub_(self, other):
        return self._inplace(ops.sub, other, "sub_")

    def mul_(self, other):
        return self._inplace(ops.mul, other, "mul_")

    def div_(self, other):
        return self._inplace(ops.div, other, "div_")

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def zero_(self):
        self._check_inplace("zero_")
        return self._assign(xp.zeros_like(self._data), "zero_")

    def fill_(self, value):
        self._check_inplace("fill_")
        return self._assign(xp.full_like(self._data, value), "fill_")

    def copy_(self, src):
        """Overwrite with ``src``'s values (broadcast to this shape, cast to this dtype)."""
        self._check_inplace("copy_")
        return self._assign(src._data if type(src) in TENSOR_TYPES else src, "copy_")

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        new = self._data.copy()
        try:
            new[_plain_index(index)] = value._data if type(value) in TENSOR_TYPES else value
        except (IndexError, ValueError, TypeError) as exc:
            raise OpError(f"__setitem__: {type(exc).__name__}: {exc}\n  operands: "
                          f"{describe(self)}, {describe(value)}; index {index!r:.60}\n"
                          f"  at {here()}") from None
        self._assign(new, "__setitem__")

    # ------------------------------------------------------------- operators
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __pow__(self, other): return ops.pow(self, other)
    def __rpow__(self, other): return ops.pow(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)

    def __lt__(self, other): return ops.lt(self, other)
    def __le__(self, other): return ops.le(self, other)
    def __gt__(self, other): return ops.gt(self, other)
    def __ge__(self, other): return ops.ge(self, other)
    def __eq__(self, other): return ops.eq(self, other)
    def __ne__(self, other): return ops.ne(self, other)
    def __and__(self, other): return ops.logical_and(self, other)
    def __or__(self, other): return ops.logical_or(self, other)
    def __invert__(self): return ops.logical_not(self)
    __hash__ = object.__hash__

    def __getitem__(self, index):
        return ops.getitem(self, index=_plain_index(index))

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(ops.unbind(self, 0))

    def __bool__(self):
        if self._data.size != 1:
            raise OpError(f"the truth value of a tensor with {self._data.size} elements is "
                          f"ambiguous; use .any() or .all(). At {here()}")
        return bool(self._data)

    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only single-element integer tensors can be used as an index")
        return int(self._data)

    def __repr__(self):
        body = numpy.array2string(self._data, separator=", ", prefix="tensor(",
                                  threshold=200, edgeitems=3, precision=4)
        extra = []
        if self._data.dtype not in (numpy.float32, numpy.int64, numpy.bool_):
            extra.append(f"dtype={self._data.dtype}")
        if self._record is not None:
            extra.append(f"op={self._record.op.name}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    # ---------------------------------------------------- method forms of ops
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.sum(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False):
        return ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return ops.min(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return ops.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return ops.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return ops.argmin(self, dim, keepdim)

    def logsumexp(self, dim=None, keepdim=False):
        return ops.logsumexp(self, dim, keepdim)

    def softmax(self, dim=-1):
        return ops.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return ops.log_softmax(self, dim)

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int)
                           else shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def permute(self, *dims):
        return ops.permute(self, axes=tuple(dims[0]) if len(dims) == 1 and
                           not isinstance(dims[0], int) else dims)

    def transpose(self, dim0, dim1):
        """Swap two dimensions (PyTorch's meaning; NumPy's ``transpose`` is :meth:`permute`)."""
        return ops.swapaxes(self, dim0, dim1)

    def swapaxes(self, axis0, axis1):
        return ops.swapaxes(self, axis0, axis1)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def expand(self, *shape):
        return ops.expand(self, *shape)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def split(self, split_size_or_sections, dim=0):
        return ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return ops.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return ops.unbind(self, dim)

    def matmul(self, other): return ops.matmul(self, other)
    def pow(self, exponent): return ops.pow(self, exponent)
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def sin(self): return ops.sin(self)
    def cos(self): return ops.cos(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def relu(self): return ops.relu(self)
    def neg(self): return ops.neg(self)

    def clamp(self, min=None, max=None):
        return ops.clip(self, min, max)

    clip = clamp

    def all(self): return bool(self._data.all())
    def any(self): return bool(self._data.any())

    def to(self, dtype):
        """A copy cast to ``dtype`` (differentiable between float dtypes)."""
        return ops.cast(self, dtype)

    astype = to

    def float(self): return ops.cast(self, numpy.float32)
    def double(self): return ops.cast(self, numpy.float64)
    def long(self): return ops.cast(self, numpy.int64)


TENSOR_TYPES.add(Tensor)
_new = object.__new__


def _frozen(array):
    """``array`` made read-only (a no-op when it already is)."""
    if array.flags.writeable:
        array.setflags(write=False)
    return array


def freeze_arrays(arrays):
    """Make the arrays read-only, so a user primitive cannot write into saved values."""
    for a in arrays:
        if type(a) is ndarray and a.flags.writeable:
            a.setflags(write=False)


def _plain_index(index):
    """An index with tensors replaced by their arrays (NumPy indexing semantics).

    A writable NumPy index array is copied: the tape keeps the index for the
    backward scatter, and a later write into the caller's array must not move it.
    """
    if type(index) is tuple:
        return tuple(_index_part(i) for i in index)
    return _index_part(index)


def _index_part(i):
    if type(i) in TENSOR_TYPES:
        return i._data
    if type(i) is ndarray and i.flags.writeable:
        i = i.copy()
        i.flags.writeable = False
    return i


from . import ops  # noqa: E402  (ops needs Tensor defined first)

# Operators whose operand order matches the primitive are the primitive itself:
# ``x * y`` calls ``ops.mul(x, y)`` with no wrapper frame in between.
Tensor.__add__ = ops.add
Tensor.__sub__ = ops.sub
Tensor.__mul__ = ops.mul
Tensor.__truediv__ = ops.div
Tensor.__pow__ = ops.pow
Tensor.__matmul__ = ops.matmul
Tensor.__neg__ = ops.neg

#: NumPy ufuncs that ``ndarray (op) tensor`` calls, and the tapegrad function that does the job.
_OPERATOR_UFUNCS = {
    numpy.add: ops.add, numpy.subtract: ops.sub, numpy.multiply: ops.mul,
    numpy.true_divide: ops.div, numpy.power: ops.pow, numpy.matmul: ops.matmul,
    numpy.negative: ops.neg, numpy.less: ops.lt, numpy.less_equal: ops.le,
    numpy.greater: ops.gt, numpy.greater_equal: ops.ge, numpy.equal: ops.eq,
    numpy.not_equal: ops.ne, numpy.logical_and: ops.logical_and,
    numpy.logical_or: ops.logical_or,
}
