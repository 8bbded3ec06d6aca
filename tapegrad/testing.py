"""Hypothesis strategies for testing primitives, and a test factory that uses them.

Every built-in primitive declares ``sampler(draw, s, dtype) -> (args, params)``
where ``s`` is this module; `check_primitive` turns a primitive (or a
composite function) into a property-based test of its forward, its output
dtype and its first and second derivatives.  Write your own primitives the
same way and test them with one line:

    import numpy, tapegrad
    from tapegrad.testing import check_primitive

    def _cube_sampler(draw, s, dtype):
        return s.elementwise(draw, dtype, 1, "any"), {}

    @tapegrad.primitive(sampler=_cube_sampler, reference=lambda x: x ** 3)
    def cube(x):
        return x * x * x

    @cube.defvjp
    def _(g, out, x):
        return g * 3 * x * x

    test_cube = check_primitive(cube, numpy.float64)      # pytest collects it
    test_cube_f32 = check_primitive(cube, numpy.float32)

Values are kept moderate (|x| <= 3; "positive" in [0.2, 3]) and arrays small
(sides 1-4, at most 3 dimensions) so that finite differences are accurate and
the tests fast.  Importing this module needs ``hypothesis`` (a dev extra).
"""
import dis
import sys

import numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .backward import grad
from .gradcheck import gradcheck, gradgradcheck
from .tensor import TENSOR_TYPES, Tensor

__all__ = ["array", "axes", "bool_array", "broadcast_target", "check_primitive", "dims",
           "elementwise", "index", "joinable", "matmul_operands", "partition", "reference_problem",
           "reshape_target", "shape", "shape_with_ones", "st"]

MAX_SIDE = 4
MAX_DIMS = 3
#: Cases per float32 run in the registry's tests: it checks dtypes and a fast gradcheck,
#: while the float64 run (the profile's count) is the thorough one, to second order.
FLOAT32_EXAMPLES = 15

#: Each value domain as a union of closed intervals, every one well inside the
#: region where the primitives using it are smooth (kinks, poles and clip bounds
#: are at least 0.05 away, far beyond any finite-difference step).
DOMAINS = {
    "any": ((-3.0, 3.0),),
    "positive": ((0.2, 3.0),),
    "nonzero": ((-3.0, -0.2), (0.2, 3.0)),
    "away_from_zero": ((-3.0, -0.2), (0.2, 3.0)),
    "clip_safe": ((-3.0, -0.55), (-0.45, -0.35), (-0.25, 0.25), (0.35, 0.45), (0.55, 3.0)),
    "near_one": ((-1.5, -0.5), (0.5, 1.5)),  # products of many stay moderate: prod, cumprod
    "unit": ((-0.9, 0.9),),                  # inside (-1, 1): arcsin, arccos, arctanh
    "above_one": ((1.2, 3.0),),              # arccosh
    # at least 0.1 from every integer and half-integer: floor, ceil, round are flat there
    "off_grid": tuple((k + a, k + b) for k in range(-3, 3) for a, b in ((0.1, 0.4), (0.6, 0.9))),
}
#: "distinct" values lie on this grid (spacing 0.01 in [-3, 3]): no two are closer
#: than 0.01, so a max/min never changes hands within a finite-difference step.
_DISTINCT_GRID = 300


def _values(domain):
    """A strategy of floats in ``domain``: one uniform draw mapped onto its intervals."""
    intervals = DOMAINS["any" if domain is None else domain]
    total = sum(hi - lo for lo, hi in intervals)

    def place(t):
        for lo, hi in intervals:
            if t <= hi - lo:
                return lo + t
            t -= hi - lo
        return intervals[-1][1]
    return st.floats(0.0, total).map(place)


# ------------------------------------------------------------------ shapes
def shape(min_dims=0, max_dims=MAX_DIMS):
    """Shapes with ``min_dims..max_dims`` dimensions of size 1-4."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE)


_shapes = shape     # ``array`` takes a parameter named shape


def shape_with_ones():
    """Shapes (0-3 dims) in which sizes of 1 are common: for squeeze."""
    return st.lists(st.sampled_from([1, 1, 2, 3]), min_size=0, max_size=MAX_DIMS).map(tuple)


@st.composite
def reshape_target(draw, shape):
    """A shape with the same element count as ``shape``, maybe with one -1."""
    n = int(numpy.prod(shape))
    target = []
    rest = n
    for _ in range(draw(st.integers(0, MAX_DIMS))):
        target.append(draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0])))
        rest //= target[-1]
    if rest != 1 or not (target or n == 1 and draw(st.booleans())):
        target.append(rest)       # (a single element may also become a 0-d array)
    target = draw(st.permutations(target))
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@st.composite
def broadcast_target(draw, shape):
    """A shape ``shape`` broadcasts to: new leading dims, size-1 dims stretched."""
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    body = [draw(st.integers(1, 3)) if n == 1 else n for n in shape]
    return tuple(lead) + tuple(body)


def axes(ndim):
    """None, one axis, or a tuple of distinct axes of an ``ndim``-array (negatives included)."""
    if ndim == 0:
        return st.sampled_from([None, ()])
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim).flatmap(
        lambda dims: st.tuples(*[st.sampled_from([d, d - ndim]) for d in dims]))
    return st.one_of(st.none(), one, several)


def dims(ndim):
    """A public function's ``dim``: as ``axes``, and for a 0-d tensor also 0 and -1
    (PyTorch's dims of a 0-d tensor, meaning the tensor itself)."""
    return axes(ndim) if ndim else st.sampled_from([None, 0, -1])


@st.composite
def partition(draw, n):
    """A tuple of at least two non-negative sizes adding up to ``n``."""
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=1, max_size=3)))
    edges = [0] + cuts + [n]
    return tuple(b - a for a, b in zip(edges, edges[1:]))


# ------------------------------------------------------------------ arrays
def array(dtype, shape=None, domain=None, min_dims=0, max_dims=MAX_DIMS):
    """A strategy of float arrays of ``dtype`` with values in ``domain``.

    ``shape`` fixes the shape (else one is drawn); ``domain`` is one of
    ``DOMAINS`` or "distinct" (no two values within 0.01 of each other).
    """
    shapes = st.just(tuple(shape)) if shape is not None else _shapes(min_dims, max_dims)
    if domain == "distinct":
        return shapes.flatmap(lambda sh: _distinct_arrays(dtype, [sh]).map(lambda xs: xs[0]))
    return shapes.flatmap(lambda sh: hnp.arrays(numpy.float64, sh, elements=_values(domain))
                          .map(lambda a: a.astype(dtype)))


def _distinct_arrays(dtype, shapes):
    """Arrays of the given shapes whose values are all different, also across arrays."""
    sizes = [int(numpy.prod(sh)) for sh in shapes]
    values = st.lists(st.integers(-_DISTINCT_GRID, _DISTINCT_GRID), unique=True,
                      min_size=sum(sizes), max_size=sum(sizes))

    def split(vals):
        flat = numpy.asarray(vals, dtype=numpy.float64) / 100.0
        parts = numpy.split(flat, numpy.cumsum(sizes)[:-1])
        return tuple(p.reshape(sh).astype(dtype) for p, sh in zip(parts, shapes))
    return values.map(split)


def bool_array(shape):
    """Boolean arrays of ``shape``."""
    return hnp.arrays(numpy.bool_, tuple(shape))


def elementwise(draw, dtype, n, domain=None):
    """``n`` float arrays of mutually broadcastable shapes with values in ``domain``.

    ``domain``: None/"any", "positive", "nonzero", "away_from_zero",
    "clip_safe", "distinct" (no ties anywhere, across the inputs too), or a
    tuple with one domain per input.
    """
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=MAX_DIMS,
                                                    min_side=1, max_side=MAX_SIDE)).input_shapes
    if domain == "distinct":
        return draw(_distinct_arrays(dtype, shapes))
    domains = domain if isinstance(domain, tuple) else (domain,) * n
    return tuple(draw(array(dtype, shape=sh, domain=None if d == "any" else d))
                 for sh, d in zip(shapes, domains))


@st.composite
def joinable(draw, dtype, stacked):
    """(1-4 arrays, axis) for ``concatenate`` (equal but along axis) or ``stack`` (equal)."""
    base = list(draw(shape(min_dims=0 if stacked else 1)))
    count = draw(st.integers(1, 4))
    if stacked:
        axis = draw(st.integers(-len(base) - 1, len(base)))
        shapes = [tuple(base)] * count
    else:
        axis = draw(st.integers(-len(base), len(base) - 1))
        shapes = []
        for _ in range(count):
            base[axis] = draw(st.integers(1, MAX_SIDE))
            shapes.append(tuple(base))
    return [draw(array(dtype, shape=sh)) for sh in shapes], axis


@st.composite
def matmul_operands(draw, dtype):
    """(a, b) for matmul: vector.vector, vector.matrix(es), matrix(es).vector, matrix.matrix,
    and batches whose batch dimensions broadcast."""
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched"]))
    batch_a, batch_b = (), ()
    if kind in ("vm", "mv", "batched"):
        batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, max_dims=2, min_side=1, max_side=3)).input_shapes
    shape_a = {"vv": (k,), "vm": (k,)}.get(kind, batch_a + (n, k))
    shape_b = {"vv": (k,), "mv": (k,)}.get(kind, batch_b + (k, m))
    return draw(array(dtype, shape=shape_a)), draw(array(dtype, shape=shape_b))


# ----------------------------------------------------------------- indices
@st.composite
def index(draw, shape):
    """A valid index for an array of ``shape``: ints (negative too), slices with steps,
    an integer array with repeats, or a boolean mask over the leading dims."""
    kind = draw(st.sampled_from(["basic", "int_array", "bool_mask"]))
    ndim = len(shape)
    if kind == "bool_mask":
        k = draw(st.integers(1, ndim))
        mask = draw(bool_array(shape[:k]))
        rest = [draw(_slice(n)) for n in shape[k:k + draw(st.integers(0, ndim - k))]]
        return (mask, *rest) if rest else mask
    if kind == "int_array":
        d = draw(st.integers(0, ndim - 1))
        n = shape[d]
        picks = draw(hnp.arrays(numpy.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2,
                                                                  max_side=4)),
                                elements=st.integers(-n, n - 1)))
        lead = [draw(_slice(m)) for m in shape[:d]]
        return tuple(lead) + (picks,) if lead else picks
    parts = [draw(st.one_of(st.integers(-n, n - 1), _slice(n)))
             for n in shape[:draw(st.integers(1, ndim))]]
    return parts[0] if len(parts) == 1 else tuple(parts)


@st.composite
def _slice(draw, n):
    start = draw(st.one_of(st.none(), st.integers(-n, n)))
    stop = draw(st.one_of(st.none(), st.integers(-n, n)))
    step = draw(st.sampled_from([None, 1, 2, -1, -2]))
    return slice(start, stop, step)


# ------------------------------------------------------------ references
#: NumPy names a reference may share with its forward: making arrays, not computing.
_CONSTRUCTORS = {f"numpy.{n}" for n in ("array", "asarray", "empty", "zeros", "ones", "full",
                                         "float64", "ndim", "shape", "dtype", "ndindex",
                                         "arange")}


def _numpy_names(fn):
    """The NumPy functions the code of ``fn`` (and of functions nested in it) calls by their
    module path, e.g. ``numpy.sum``, ``numpy.linalg.svd`` (``xp`` is NumPy too)."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    spaces = getattr(fn, "__globals__", {})
    names = set()
    pending = [code] if code is not None else []
    while pending:
        c = pending.pop()
        current = None           # the NumPy module the previous instruction loaded, if any
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and current is not None:
                names.add(f"{current.__name__}.{ins.argval}")
                current = getattr(current, ins.argval, None)
            elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                current = spaces.get(ins.argval)
            else:
                current = None
            if not (isinstance(current, type(numpy)) and current.__name__.startswith("numpy")):
                current = None
        pending.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    return names - _CONSTRUCTORS


def reference_problem(name, forward, reference):
    """Why ``reference`` does not check ``forward`` independently, or None.

    A reference must be another computation: not the forward, not a NumPy
    function itself, and calling none of the NumPy functions the forward calls
    (nor NumPy's namesake of ``name``), so a test comparing the two can fail.
    """
    if reference is None:
        return f"{name} has no reference forward"
    if reference is forward:
        return f"{name}'s reference is its forward itself"
    module = getattr(reference, "__module__", None) or type(reference).__module__ or ""
    if module.split(".")[0] == "numpy":
        return f"{name}'s reference is the NumPy function {reference.__name__}"
    shared = _numpy_names(reference) & (_numpy_names(forward) | {f"numpy.{name}"})
    if shared:
        return (f"{name}'s reference calls the same NumPy function(s) as its forward: "
                f"{sorted(shared)}")
    return None


# ------------------------------------------------------------ test factory
def check_primitive(op, dtype=numpy.float64, max_examples=None):
    """A hypothesis test of ``op``: a primitive function, a ``Primitive``, or a composite.

    For each case drawn from ``op``'s sampler it checks that (a) the forward on
    tensors matches ``reference`` and the forward on plain arrays, (b) every
    output keeps the input dtype (or the ``dtype`` parameter, for casts),
    (c) for float64, ``gradcheck`` passes, and when the op declares ``twice``
    a fast ``gradgradcheck``: second derivatives along random directions, held
    to the element tolerances, with the full Jacobian compared (and reported)
    whenever a direction disagrees; for float32, the gradients are float32 and
    a fast ``gradcheck`` with float32 tolerances passes.  ``max_examples`` bounds the
    cases (default: the Hypothesis profile's).  Call the result to run it.
    """
    prim = getattr(op, "primitive", op)     # a primitive function's definition, else op
    call = prim
    name = getattr(prim, "name", getattr(op, "__name__", repr(op)))
    sampler = getattr(prim, "sampler", None)
    if sampler is None:
        raise ValueError(f"{name} has no sampler: give it one, e.g. @primitive(sampler=...), "
                         f"so it can be tested")
    if hasattr(prim, "vjp") and prim.vjp is None:
        raise ValueError(f"{name} has no vjp: define one with @{name}.defvjp")
    dtype = numpy.dtype(dtype)
    strategies = sys.modules[__name__]

    @st.composite
    def cases(draw):
        return sampler(draw, strategies, dtype)

    @given(cases())
    def test(case):
        args, params = case
        _check_forward(call, prim.reference, args, params, dtype)
        leaves = [Tensor(a, requires_grad=True) for a in _float_arrays(args)]

        def func(*tensors):
            return call(*_rebuild(args, iter(tensors)), **params)
        if dtype == numpy.float64:
            gradcheck(func, tuple(leaves))
            if prim.twice:
                gradgradcheck(func, tuple(leaves), fast_mode=True)
        else:
            _check_gradient_dtypes(func, leaves)
            gradcheck(func, tuple(leaves), fast_mode=True)
    test.__name__ = f"test_{name}_{dtype.name}"
    return test if max_examples is None else settings(max_examples=max_examples)(test)


def _check_gradient_dtypes(func, leaves):
    """Every gradient has its input's dtype (no silent float64 for float32)."""
    outs = [o for o in _as_tuple(func(*leaves)) if o.dtype.kind == "f" and o.requires_grad]
    if not outs:
        return
    seeds = [numpy.ones(o.shape, o.dtype) for o in outs]
    for x, g in zip(leaves, grad(outs, leaves, seeds, allow_unused=True)):
        assert g is None or g.dtype == x.dtype, f"gradient is {g.dtype} for a {x.dtype} input"


def _float_arrays(args):
    """The float arrays in ``args`` (nested in lists/tuples too), in order: the checked inputs."""
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _float_arrays(a)
        elif isinstance(a, numpy.ndarray) and a.dtype.kind == "f":
            yield a


def _rebuild(args, tensors):
    """``args`` with each float array replaced by the next of ``tensors``."""
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.append(type(a)(_rebuild(a, tensors)))
        elif isinstance(a, numpy.ndarray) and a.dtype.kind == "f":
            out.append(next(tensors))
        else:
            out.append(a)
    return out


def _check_forward(call, reference, args, params, dtype):
    expected = _as_tuple(reference(*args, **params))
    plain = _as_tuple(call(*args, **params))
    tensors = [Tensor(a, requires_grad=True) for a in _float_arrays(args)]
    result = _as_tuple(call(*_rebuild(args, iter(tensors)), **params))
    assert len(result) == len(expected) == len(plain), (
        f"{len(result)} outputs on tensors, {len(plain)} on arrays, {len(expected)} in the "
        f"reference")
    want = numpy.dtype(params.get("dtype", dtype))
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == numpy.float32 else {"rtol": 1e-12,
                                                                         "atol": 1e-12}
    for k, (r, p, e) in enumerate(zip(result, plain, expected)):
        assert type(r) in TENSOR_TYPES, f"output {k} on tensors is {type(r).__name__}"
        assert type(p) not in TENSOR_TYPES, f"output {k} on plain arrays is a Tensor"
        assert r.dtype == want, f"output {k} is {r.dtype} for {dtype} inputs (expected {want})"
        assert r.shape == numpy.shape(e), f"output {k} has shape {r.shape}, reference " \
                                          f"{numpy.shape(e)}"
        numpy.testing.assert_allclose(r.data, e, err_msg=f"output {k} vs reference", **tol)
        numpy.testing.assert_array_equal(r.data, p, err_msg=f"output {k}: tensors vs arrays")


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
