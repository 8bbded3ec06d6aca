"""``Tensor``: a read-only NumPy array plus what autograd needs to know about it.

A tensor's array never changes in place: "in-place" operations (allowed only
where they cannot corrupt the tape) replace the array and bump the version, so
an array the tape saved, or one a user holds from ``.numpy()``, stays valid.

This module knows no operation: the operators and the method forms of the
operations (``x + y``, ``x.sum()``, ``x.backward()``) are attached to the
class in one list by `tapegrad.methods`, above the ops and autodiff.
"""
import numpy

from .backend import ndarray, xp
from .dtypes import as_array
from .errors import InPlaceError, OpError, describe, here
from .state import COUNTERS, MODES

#: Exact types treated as tensors on the hot path (``Tensor`` and its subclasses).
TENSOR_TYPES = set()


class Tensor:
    """An array that can record the operations applied to it.

    Create tensors with `tapegrad.tensor` and the other constructors.
    ``data`` is the underlying ``numpy.ndarray``, read-only.
    """

    __slots__ = {
        "_data": None,
        "requires_grad": "True if operations on this tensor are recorded for differentiation.",
        "_grad": None,
        "_record": None, "_slot": None, "_version": None,
        "name": "An optional name, shown by ``repr``, ``print(tape)`` and the drawings.",
        "__weakref__": None,
    }
    __array_priority__ = 1000   # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        TENSOR_TYPES.add(cls)

    def __init__(self, data, requires_grad=False):
        _fill(self, as_array(data._data if type(data) in TENSOR_TYPES else data, None), None, -1)
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data, record, slot):
        """The engine's constructor: ``data`` is an ndarray the engine owns (no copy).

        ``record`` is the tape record that made it (None: a leaf); ``slot`` the
        output index for multi-output primitives, -1 otherwise.
        """
        return _fill(_new(Tensor), data, record, slot)

    # ------------------------------------------------------------------ facts
    @property
    def data(self):
        """The underlying array, read-only (writing to it raises instead of corrupting the tape).

        The engine freezes arrays lazily, when they leave it (here, ``numpy()``,
        ``__array__``, a user primitive's arguments), not on every operation.
        """
        return _frozen(self._data)

    shape = property(lambda self: self._data.shape, doc="Tuple of dimensions.")
    """The shape, a tuple of ints."""
    dtype = property(lambda self: self._data.dtype, doc="NumPy dtype.")
    """The NumPy dtype of the data."""
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")
    """The number of dimensions."""

    def size(self, dim=None):
        """Shape as a tuple, or the length of dimension ``dim`` (PyTorch's ``size()``).

        Unlike NumPy's ``.size`` attribute; the element count is `numel`.
        """
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self):
        """The number of dimensions (PyTorch's spelling of ``ndim``)."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return self._data.size

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded operation (inputs, parameters)."""
        return self._record is None

    @property
    def grad_fn(self):
        """The tape record that produced this tensor (None for leaves); its arrays are read-only."""
        rec = self._record
        if rec is not None:
            freeze_record(rec)
        return rec

    @property
    def grad(self):
        """The accumulated gradient (a read-only tensor), or None.

        Assigning checks the value as PyTorch does: None, or a tensor of this
        tensor's shape and dtype -- a mismatch would be broadcast or cast
        silently by the next optimizer step or backward.
        """
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            _check_grad(self, value)
        self._grad = value

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
        """The data as (nested) Python lists of numbers."""
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else _frozen(self._data)

    def all(self):
        """True if every element is true (a Python bool, not recorded)."""
        return bool(self._data.all())
    def any(self):
        """True if some element is true (a Python bool, not recorded)."""
        return bool(self._data.any())

    def __reduce_ex__(self, protocol):
        """Pickle, ``copy.copy`` and ``copy.deepcopy`` a leaf: its value, requires_grad and grad.

        A tensor made by a recorded operation is refused: its graph cannot be
        copied, and a copy without it would backpropagate into nothing.
        """
        if self._record is not None:
            raise OpError(f"cannot copy or pickle a tensor made by {self._record.op.name} "
                          f"(recorded at {self._record.site}, shape {self.shape}): only leaf "
                          f"tensors can be copied, not their graph. Copy or send "
                          f"tensor.detach() to keep the value without the graph.")
        state = getattr(self, "__dict__", None)   # a subclass's own attributes
        return (_rebuild_leaf, (type(self), self._data, self.requires_grad, self._grad,
                                self.name), state or None)

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

    # -------------------------------------------------------------- in place
    def _check_inplace(self, opname):
        if self._record is not None or (self.requires_grad and MODES.grad_enabled):
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
        self._version = COUNTERS.next_mutation()
        return self

    def zero_(self):
        """Set every element to 0 in place; returns the tensor."""
        self._check_inplace("zero_")
        return self._assign(xp.zeros_like(self._data), "zero_")

    def fill_(self, value):
        """Set every element to ``value`` in place; returns the tensor."""
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
            new[plain_index(index)] = value._data if type(value) in TENSOR_TYPES else value
        except (IndexError, ValueError, TypeError) as exc:
            raise OpError(f"__setitem__: {type(exc).__name__}: {exc}\n  operands: "
                          f"{describe(self)}, {describe(value)}; index {index!r:.60}\n"
                          f"  at {here()}") from None
        self._assign(new, "__setitem__")

    # ----------------------------------------------------- Python protocols
    __hash__ = object.__hash__   # identity: tensors are dict keys (``__eq__`` is elementwise)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

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


TENSOR_TYPES.add(Tensor)
_new = object.__new__


def _fill(t, data, record, slot):
    """Set every field of a new tensor ``t`` and return it: the one place a tensor is initialised.

    ``Tensor(...)``, `Tensor._make` and the primitive call path (as
    ``_fill(object.__new__(Tensor), ...)``, one call on the hottest line) use it.
    """
    t._data = data
    t._record = record
    t._slot = slot
    t._version = 0
    t._grad = None
    t.name = None
    t.requires_grad = record is not None
    return t


def _rebuild_leaf(cls, data, requires_grad, grad, name):
    """A leaf of type ``cls`` from its pickled parts (data made read-only again)."""
    t = _new(cls)
    _fill(t, _frozen(data), None, -1)
    t._grad = grad
    t.name = name
    t.requires_grad = requires_grad
    return t


def _check_grad(t, value):
    """Raise unless ``value`` can be ``t.grad``: a tensor of ``t``'s shape and dtype."""
    if type(value) not in TENSOR_TYPES:
        raise TypeError(f"assigning .grad: expected a tapegrad Tensor or None, got "
                        f"{type(value).__name__}; wrap an array with tapegrad.tensor(array, "
                        f"dtype={t.dtype}). At {here()}")
    if value.shape != t.shape or value.dtype != t.dtype:
        raise OpError(f"assigning .grad: the gradient is {describe(value)} but the tensor is "
                      f"{describe(t)}; .grad must have the tensor's shape and dtype (an optimizer "
                      f"step would broadcast or cast it silently). At {here()}")


#: id(array) -> weak reference, for arrays the user owns and shares with tapegrad through
#: ``from_numpy`` (their owner may write them, as documented): freezing never reaches them.
SHARED_OWNERS = {}


def _frozen(array):
    """``array`` made read-only, and every array under it (``.base``), so none can be written.

    The arrays a user shares through ``from_numpy`` are left alone.
    """
    a = array
    while isinstance(a, ndarray):
        if a.flags.writeable:
            ref = SHARED_OWNERS.get(id(a))
            if ref is not None and ref() is a:
                break
            a.setflags(write=False)
        a = a.base
    return array


def freeze_arrays(arrays):
    """Make the arrays read-only (all the way down), so nothing can write into saved values."""
    for a in arrays:
        if isinstance(a, ndarray):
            _frozen(a)


def freeze_record(rec):
    """Make a record's output and saved arrays read-only before they leave the engine."""
    if rec.out is not None:
        freeze_arrays(rec.out if type(rec.out) is tuple else (rec.out,))
        freeze_arrays(rec.datas)


def writable_anywhere(array):
    """True when ``array`` or an array under it (``.base``) can be written."""
    a = array
    while isinstance(a, ndarray):
        if a.flags.writeable:
            return True
        a = a.base
    return False


def plain_index(index):
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
    if type(i) is ndarray and writable_anywhere(i):
        i = i.copy()
        i.flags.writeable = False
    return i
