"""Primitives: a forward on arrays and its vector-Jacobian product, side by side.

``@primitive`` turns an array function into an operation that works on both
plain arrays (it simply runs, at NumPy speed) and tensors (it runs and, when an
input requires grad, appends a `Record` to the tape):

    @tapegrad.primitive
    def cube(x):                 # forward: arrays in, array out
        return x ** 3

    @cube.defvjp
    def _(g, out, x):            # one cotangent per input (a tuple when several)
        return g * 3 * x ** 2

Because a vjp is written with tapegrad's own functions and operators, the same
vjp runs on arrays in an ordinary backward and on tensors -- recorded -- when
higher-order derivatives are asked for.  Positional arguments are the inputs;
keyword arguments are static parameters passed to both forward and vjp.  A vjp
may take a keyword ``needs`` (a tuple of booleans: which inputs need a
gradient) and return ``None`` for the others, to skip work.
"""
import functools
import inspect
import sys
import warnings

from .backend import ndarray, xp
from .errors import (INTERNAL_FILES, AnomalyError, OpError, TapegradError, describe,
                     format_site, user_site as _user_site)
from .state import MODES
from .tape import GLOBAL_TAPE, Record
from .tensor import TENSOR_TYPES, Tensor, _fill, freeze_arrays as _freeze_arrays, \
    freeze_record, writable_anywhere

REGISTRY = {}
"""Every primitive by name (built-in and user-defined)."""

_getframe = sys._getframe
_NO_PARAMS = {}   # shared by records of calls without static parameters (never mutated)


class Primitive:
    """The definition behind a primitive function: forward, vjp and test metadata."""

    __slots__ = ("forward", "name", "multi", "vjp", "vjp_takes_needs", "sampler", "reference",
                 "twice", "explain", "trusted", "call", "saves")

    def __init__(self, forward, name, multi, sampler, reference, twice, explain,
                 saves=("inputs", "out")):
        self.forward = forward
        self.name = name
        self.multi = multi          # forward returns a tuple of arrays
        self.vjp = None
        self.vjp_takes_needs = False
        self.sampler = sampler      # (draw, strategies, dtype) -> (args, params), for tests
        self.reference = reference  # independent NumPy forward, for tests
        self.twice = twice          # vjp is itself differentiable (gradgradcheck applies)
        self.explain = explain      # (exc, *datas, **params) -> message, on forward errors
        # built-in primitives are trusted not to write into their arguments; a
        # user primitive (tapegrad.nn's included) gets read-only arrays (forward and vjp)
        self.trusted = is_built_in(forward)
        bad = [v for v in saves if v not in ("inputs", "out")
               and not (type(v) is int and v >= 0)]
        if bad:
            raise OpError(f"primitive {name}: saves= names what the vjp reads, a tuple of "
                          f"'inputs' (all of them) or input positions (0, 1, ...) and/or "
                          f"'out'; got {bad}.")
        self.saves = tuple(saves)   # the values the vjp reads besides g (see _drop_unsaved)

    def __call__(self, *args, **params):
        """Apply the primitive (the same as calling the function ``@primitive`` returned)."""
        return self.call(*args, **params)

    def defvjp(self, vjp):
        """Register ``vjp(g, out, *inputs, **params)``; returns it unchanged."""
        self.vjp = vjp
        self.vjp_takes_needs = "needs" in inspect.signature(vjp).parameters
        return vjp

    def __repr__(self):
        return f"<primitive {self.name}>"


def is_built_in(forward):
    """True for a forward defined in the engine (tapegrad, but not the layers of tapegrad.nn)."""
    module = forward.__module__
    return module.startswith("tapegrad.") and not module.startswith("tapegrad.nn.")


def primitive(forward=None, *, name=None, multi=False, sampler=None, reference=None,
              twice=True, explain=None, saves=("inputs", "out")):
    """Make ``forward`` (arrays in, array out) a recorded, differentiable operation.

    Use bare (``@primitive``) or with options.  Returns a function with a
    ``defvjp`` decorator attribute and the definition as ``.primitive``.
    ``saves`` says which values the vjp reads besides ``g``: ``"inputs"``,
    ``"out"``, both (the default) or neither (``()``, e.g. for add, whose vjp
    needs only shapes); input positions instead of ``"inputs"`` name only
    those inputs (``addmm`` saves ``(1, 2)``: not the added term).  Outside
    ``with Tape()`` the record keeps only those (for arrays of at least
    ``DROP_MIN_SIZE`` elements; the others become placeholders with their
    shape and dtype), so backward does not hold on to memory it never reads.
    """
    if forward is None:
        return functools.partial(primitive, name=name, multi=multi, sampler=sampler,
                                 reference=reference, twice=twice, explain=explain, saves=saves)
    prim = Primitive(forward, name or forward.__name__, multi, sampler, reference, twice, explain,
                     saves)
    n_inputs, static = _signature(forward)
    tensor_types = TENSOR_TYPES
    modes = MODES
    tape = GLOBAL_TAPE
    make = Tensor._make
    fill = _fill
    new = object.__new__
    trusted = prim.trusted
    internal = INTERNAL_FILES

    max_args = sys.maxsize if n_inputs is None else n_inputs
    lean = not {"inputs", "out"} <= set(prim.saves)     # some saved value can be dropped

    @functools.wraps(forward)
    def call(*args, **params):
        if len(args) > max_args:
            args, params = _bind_static(prim, args, params, n_inputs, static)
        datas = []
        needs = 0          # bit i set: input i requires grad
        bit = 1
        tensors = False
        arrays = False     # a plain ndarray among the operands (a constant)
        for a in args:
            if type(a) in tensor_types:
                tensors = True
                datas.append(a._data)
                if a.requires_grad:
                    needs |= bit
            else:
                if type(a) is ndarray:
                    arrays = True
                datas.append(a)
            bit <<= 1
        if not tensors:                         # plain arrays: just the forward
            return forward(*args, **params)
        if arrays and (not trusted or (needs and modes.grad_enabled)):
            args, datas = _own_constants(args, datas)
        if not trusted:
            _freeze_arrays(datas)
        try:
            out = forward(*datas, **params)
        except TapegradError:
            raise
        except Exception as exc:  # a NumPy error becomes one naming op, shapes and line
            raise forward_error(prim, args, datas, params, exc) from None
        if multi:
            out = tuple(o if type(o) is ndarray else xp.asarray(o) for o in out)
        elif type(out) is not ndarray:
            out = xp.asarray(out)
        if not trusted:
            _freeze_arrays(out if multi else (out,))
        if modes.anomaly:
            _check_finite_forward(prim, args, out)
        if needs and modes.grad_enabled and (multi or out.dtype.kind == "f"):
            f = _getframe(1)
            code = f.f_code
            if internal.get(code.co_filename, True):   # unknown or inside tapegrad: walk
                code, lasti = _user_site(2)
            else:
                lasti = f.f_lasti
            rec = Record(prim, args, tuple(datas), params if params else _NO_PARAMS, needs, out,
                         code, lasti)
            if tape.append(rec):
                freeze_record(rec)              # on an explicit Tape: its arrays leave the engine
            elif lean and (multi or out.size >= DROP_MIN_SIZE):
                _drop_unsaved(rec, prim.saves)
            if multi:
                return tuple(make(o, rec, i) for i, o in enumerate(out))
            return fill(new(Tensor), out, rec, -1)
        if needs and modes.grad_enabled and out.dtype.kind == "c":
            raise complex_error(prim, args, out)
        if multi:
            return tuple(make(o, None, -1) for o in out)
        return make(out, None, -1)

    call.primitive = prim
    prim.call = call
    call.defvjp = prim.defvjp
    replaced = REGISTRY.get(prim.name)
    if replaced is not None and replaced.trusted and not prim.trusted:
        warnings.warn(f"primitive {prim.name!r} takes the name of tapegrad's built-in "
                      f"{prim.name!r} in tapegrad.REGISTRY (what the tests and tools list); the "
                      f"built-in function itself is unchanged. Pass name=... to keep both listed.",
                      stacklevel=2)
    REGISTRY[prim.name] = prim
    return call


def _signature(forward):
    """(number of inputs, names of static parameters) of a forward.

    Inputs are the positional parameters without defaults, positional-only
    ones included (or ``*args``: then None); parameters with defaults and
    keyword-only ones are static.
    """
    n_inputs = 0
    static = []
    for p in inspect.signature(forward).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            n_inputs = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            if n_inputs is not None:
                n_inputs += 1
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            static.append(p.name)
    return n_inputs, tuple(static)


#: Arrays smaller than this are saved even when the vjp does not read them:
#: dropping them would cost more time than the memory is worth.  (A record is
#: looked at only if its output is this large, or it has several outputs.)
DROP_MIN_SIZE = 1024
_placeholders = {}


def _placeholder(a):
    """A read-only, zero-strided array of ``a``'s shape and dtype: no memory."""
    key = (a.shape, a.dtype)
    p = _placeholders.get(key)
    if p is None:
        if len(_placeholders) > 512:
            _placeholders.clear()
        p = _placeholders[key] = xp.broadcast_to(xp.zeros((), a.dtype), a.shape)
    return p


def _own_constants(args, datas):
    """Replace writable NumPy constants by read-only copies, before they are saved.

    The tape must not see a constant change under it (``y = x * a; a[0] = 9``
    would silently change the gradient), and the caller's array must stay
    writable, so the record keeps a private copy -- also of a read-only view
    of a writable array, which changes when that array does.
    """
    args = list(args)
    for i, a in enumerate(args):
        if type(a) is ndarray and writable_anywhere(a):
            a = a.copy()
            a.flags.writeable = False
            args[i] = datas[i] = a
    return tuple(args), datas


def _drop_unsaved(rec, saves):
    """Let the record keep only what its vjp reads (``saves``); shapes and dtypes stay.

    An unsaved output becomes a placeholder; an unsaved intermediate input
    (every input unless ``"inputs"`` or its position is in ``saves``) is
    replaced by a stand-in tensor (same record, slot and shape; placeholder
    data), so the tape no longer keeps that array alive.  Leaves are kept:
    they are alive anyway, and gradients are routed to them by identity.
    Inside ``with Tape()`` nothing is dropped, so the records stay inspectable.
    """
    if "out" not in saves:
        out = rec.out
        if type(out) is tuple:
            if out and out[0].size >= DROP_MIN_SIZE:
                rec.out = tuple(_placeholder(o) for o in out)
        elif out.size >= DROP_MIN_SIZE:
            rec.out = _placeholder(out)
    if "inputs" not in saves:
        inputs = list(rec.inputs)
        datas = list(rec.datas)
        for i, a in enumerate(inputs):
            if i not in saves and type(a) in TENSOR_TYPES and a._record is not None \
                    and a._data.size >= DROP_MIN_SIZE:
                stand_in = Tensor._make(_placeholder(a._data), a._record, a._slot)
                inputs[i] = stand_in
                datas[i] = stand_in._data
        rec.inputs = tuple(inputs)
        rec.datas = tuple(datas)


def _bind_static(prim, args, params, n_inputs, static):
    """Move positional arguments after the inputs into the static parameters, in order."""
    extra = args[n_inputs:]
    if len(extra) > len(static):
        raise OpError(f"{prim.name}: takes {n_inputs} input(s) and static parameters "
                      f"{list(static)}, but got {len(args)} positional arguments. At "
                      f"{format_site(*_user_site())}")
    params = dict(params)
    for name, value in zip(static, extra):
        if name in params:
            raise OpError(f"{prim.name}: parameter {name!r} given twice. At "
                          f"{format_site(*_user_site())}")
        params[name] = value
    return args[:n_inputs], params


def forward_error(prim, args, datas, params, exc):
    """An OpError naming the op, its operands, the user's line and, where known, the fix."""
    code, lasti = _user_site()
    detail = None
    if prim.explain is not None:
        try:
            detail = prim.explain(exc, *datas, **params)
        except Exception:
            detail = None
    if detail is None:
        detail = _generic_explanation(exc)
    operands = ", ".join(describe(a) for a in args)
    extra = f"; parameters {params}" if params else ""
    return OpError(f"{prim.name}: {detail}\n  operands: {operands}{extra}\n"
                   f"  at {format_site(code, lasti)}")


def complex_error(prim, args, out):
    """The OpError for a result that turned complex while an input requires grad.

    Recording stops at non-float results (comparisons, casts to int), but a
    complex one would silently cut the gradient: tapegrad differentiates real
    floating-point values only.
    """
    operands = ", ".join(describe(a) for a in args)
    return OpError(f"{prim.name}: the result is {out.dtype} (an operand is complex) but an input "
                   f"requires grad; tapegrad differentiates real floating-point tensors only, "
                   f"so the gradient would be lost. Fix: use real values (numpy.real(c), or "
                   f"the real and imaginary parts as separate float tensors), or detach() the "
                   f"input for a complex result without gradient.\n  operands: {operands}\n"
                   f"  at {format_site(*_user_site())}")


def _generic_explanation(exc):
    msg = str(exc)
    if "could not be broadcast" in msg:
        return ("shapes cannot be broadcast together (trailing dimensions must be equal or 1). "
                "Fix: reshape or unsqueeze one operand so the shapes line up.")
    return f"{type(exc).__name__}: {msg}"


def _check_finite_forward(prim, args, out):
    outs = out if type(out) is tuple else (out,)
    for o in outs:
        if o.dtype.kind == "f" and not xp.isfinite(o).all():
            code, lasti = _user_site()
            bad_in = [i for i, a in enumerate(args) if type(a) in TENSOR_TYPES
                      and a.dtype.kind == "f" and not xp.isfinite(a._data).all()]
            origin = (f" (input {bad_in[0]} already held NaN/Inf)" if bad_in else "")
            raise AnomalyError(f"detect_anomaly: {prim.name} produced NaN or Inf in its output"
                               f"{origin}\n  operands: {', '.join(describe(a) for a in args)}\n"
                               f"  at {format_site(code, lasti)}")


def composite(fn=None, *, sampler=None, reference=None, twice=True):
    """Register a public function composed of primitives, so the tests check it too."""
    if fn is None:
        return functools.partial(composite, sampler=sampler, reference=reference, twice=twice)
    fn.sampler = sampler
    fn.reference = reference
    fn.twice = twice
    COMPOSITES[fn.__name__] = fn
    return fn


COMPOSITES = {}
"""Public functions built from primitives, with their test metadata."""
