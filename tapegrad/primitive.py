"""Primitives: a forward on arrays and its vector-Jacobian product, side by side.

``@primitive`` turns an array function into an operation that works on both
plain arrays (it simply runs, at NumPy speed) and tensors (it runs and, when an
input requires grad, appends a :class:`~tapegrad.tape.Record` to the tape)::

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

from .backend import ndarray, xp
from .errors import AnomalyError, OpError, TapegradError, describe, format_site, is_internal
from .state import STATE
from .tape import GLOBAL_TAPE, Record
from .tensor import TENSOR_TYPES, Tensor

#: Every primitive by name (built-in and user-defined).
REGISTRY = {}

_getframe = sys._getframe
_internal_files = {}


class Primitive:
    """The definition behind a primitive function: forward, vjp and test metadata."""

    def __init__(self, forward, name, multi, sampler, reference, twice, explain):
        self.forward = forward
        self.name = name
        self.multi = multi          # forward returns a tuple of arrays
        self.vjp = None
        self.vjp_takes_needs = False
        self.sampler = sampler      # (draw, strategies, dtype) -> (args, params), for tests
        self.reference = reference  # independent NumPy forward, for tests
        self.twice = twice          # vjp is itself differentiable (gradgradcheck applies)
        self.explain = explain      # (exc, *datas, **params) -> message, on forward errors

    def defvjp(self, vjp):
        """Register ``vjp(g, out, *inputs, **params)``; returns it unchanged."""
        self.vjp = vjp
        self.vjp_takes_needs = "needs" in inspect.signature(vjp).parameters
        return vjp

    def __repr__(self):
        return f"<primitive {self.name}>"


def primitive(forward=None, *, name=None, multi=False, sampler=None, reference=None,
              twice=True, explain=None):
    """Make ``forward`` (arrays in, array out) a recorded, differentiable operation.

    Use bare (``@primitive``) or with options.  Returns a function with a
    ``defvjp`` decorator attribute and the definition as ``.primitive``.
    """
    if forward is None:
        return functools.partial(primitive, name=name, multi=multi, sampler=sampler,
                                 reference=reference, twice=twice, explain=explain)
    prim = Primitive(forward, name or forward.__name__, multi, sampler, reference, twice, explain)
    tensor_types = TENSOR_TYPES
    n_inputs, static = _signature(forward)

    @functools.wraps(forward)
    def call(*args, **params):
        if n_inputs is not None and len(args) > n_inputs:
            args, params = _bind_static(prim, args, params, n_inputs, static)
        for a in args:
            if type(a) in tensor_types:
                return _apply(prim, args, params)
        return forward(*args, **params)

    call.primitive = prim
    call.defvjp = prim.defvjp
    REGISTRY[prim.name] = prim
    return call


def _signature(forward):
    """(number of inputs, names of static parameters) of a forward.

    Inputs are the positional parameters without defaults (or ``*args``: then
    None); parameters with defaults and keyword-only ones are static.
    """
    n_inputs = 0
    static = []
    for p in inspect.signature(forward).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            n_inputs = None
        elif p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty and not static:
            if n_inputs is not None:
                n_inputs += 1
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            static.append(p.name)
    return n_inputs, tuple(static)


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


def _user_site():
    """(code, offset) of the innermost caller outside the tapegrad package."""
    f = _getframe(3)
    internal = _internal_files
    while f is not None:
        code = f.f_code
        fn = code.co_filename
        flag = internal.get(fn)
        if flag is None:
            flag = internal[fn] = is_internal(fn)
        if not flag:
            return code, f.f_lasti
        f = f.f_back
    return None, 0


def _apply(prim, args, params):
    """Run a primitive on tensors: forward on their arrays, then record if needed."""
    datas = []
    needs = []
    any_grad = False
    for a in args:
        if type(a) in TENSOR_TYPES:
            datas.append(a.data)
            r = a.requires_grad
            needs.append(r)
            if r:
                any_grad = True
        else:
            datas.append(a)
            needs.append(False)
    try:
        out = prim.forward(*datas, **params)
    except TapegradError:
        raise
    except Exception as exc:  # a NumPy error becomes one that names op, shapes and line
        raise forward_error(prim, args, datas, params, exc) from None
    if prim.multi:
        out = tuple(_freeze(o) for o in out)
        differentiable = True
    else:
        out = _freeze(out)
        differentiable = out.dtype.kind == "f"
    if STATE.anomaly:
        _check_finite_forward(prim, args, out)
    if any_grad and differentiable and STATE.grad_enabled:
        rec = Record()
        rec.op = prim
        rec.inputs = args
        rec.datas = datas
        rec.params = params
        rec.needs = needs
        rec.out = out
        rec.stamp = STATE.mutations
        rec.code, rec.lasti = _user_site()
        rec.scope = STATE.scope
        rec.retained = None
        rec.released = False
        GLOBAL_TAPE.append(rec)
        for tape in STATE.tapes:
            tape.records.append(rec)
        if prim.multi:
            return tuple(Tensor._make(o, rec, i) for i, o in enumerate(out))
        return Tensor._make(out, rec, 0)
    if prim.multi:
        return tuple(Tensor._make(o, None, 0) for o in out)
    return Tensor._make(out, None, 0)


def _freeze(a):
    """Make a forward's result a read-only ndarray (tensor data never changes in place)."""
    if type(a) is not ndarray:
        a = xp.asarray(a)
    a.flags.writeable = False
    return a


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
    shown = {k: v for k, v in params.items()}
    extra = f"; parameters {shown}" if shown else ""
    return OpError(f"{prim.name}: {detail}\n  operands: {operands}{extra}\n"
                   f"  at {format_site(code, lasti)}")


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
                      and a.dtype.kind == "f" and not xp.isfinite(a.data).all()]
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


#: Public functions built from primitives, with their test metadata.
COMPOSITES = {}
