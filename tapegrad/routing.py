"""The one routing of a record's cotangent through its vjp, for every caller.

`input_cotangents` calls a record's vjp with the cotangent of its
output(s) and returns, for each input that needs a gradient, the cotangent
checked, reduced over broadcast dimensions and cast to the input's dtype.  The
backward sweep (ordinary and higher order) and the graph renderer's per-use
terms all go through it, so what ``viz`` shows is exactly what the sweep adds.
"""
from .backend import ndarray, xp
from .errors import AnomalyError, BackwardError, PrimitiveBugError
from .ops.broadcast import sum_to_shape
from .ops.elementwise import cast
from .state import COUNTERS, MODES
from .tape import needs_kwargs
from .tensor import TENSOR_TYPES, Tensor, freeze_arrays


def output_tensors(rec):
    """Tensors standing for ``rec``'s output(s): a tuple for a multi-output record."""
    if type(rec.out) is tuple:
        return tuple(Tensor._make(o, rec, slot) for slot, o in enumerate(rec.out))
    return Tensor._make(rec.out, rec, -1)


def input_cotangents(rec, g, create_graph=False, mask=None):
    """What ``rec``'s vjp sends to each input, given ``g``, the cotangent of its output.

    ``g`` is an array (tensor when ``create_graph``), or for a multi-output
    record a tuple with one per output.  Returns a sequence with one entry per
    input; the entries of the inputs asked for -- bit i of ``mask``, by
    default the inputs that need a gradient -- are their cotangents, checked,
    summed over broadcast dimensions and cast to the input's dtype (the
    others are whatever the vjp returned, None when it skipped them).  With
    ``create_graph`` the vjp runs on tensors and is recorded, so the result
    can be differentiated again.
    """
    op = rec.op
    inputs = rec.inputs
    if inputs is None or rec.stamp != COUNTERS.mutations or op.vjp is None:
        _check_can_run(rec)
    if mask is None:
        mask = rec.mask
    if create_graph:
        out = output_tensors(rec)
        args = inputs
    else:
        out = rec.out
        args = rec.datas
        if not op.trusted:
            freeze_arrays(g if type(g) is tuple else (g,))
    n = len(inputs)
    if op.vjp_takes_needs:
        cots = op.vjp(g, out, *args, **needs_kwargs(rec.params, mask, n))
    elif rec.params:
        cots = op.vjp(g, out, *args, **rec.params)
    else:
        cots = op.vjp(g, out, *args)
    if n == 1 and type(cots) is not tuple and type(cots) is not list:
        cots = [cots]
    elif type(cots) is not tuple and type(cots) is not list or len(cots) != n:
        raise _count_bug(rec, cots)
    anomaly = MODES.anomaly
    i = 0
    for a in inputs:
        if mask >> i & 1:
            c = cots[i]
            data = a._data
            if create_graph or type(c) is not ndarray or c.shape != data.shape \
                    or c.dtype != data.dtype:
                if type(cots) is not list:
                    cots = list(cots)
                cots[i] = c = _fit(c, data, rec, i, create_graph)
            if anomaly:
                _check_finite(c, rec, i)
        i += 1
    return cots


def _check_can_run(rec):
    """Raise when ``rec`` cannot be differentiated: no vjp, released, or an input modified."""
    op = rec.op
    if op.vjp is None:
        raise BackwardError(f"backward through {op.name} (recorded at {rec.site}): the primitive "
                            f"has no vjp. Define one with @{op.name}.defvjp (see the docs on "
                            f"adding a primitive).")
    if rec.inputs is None:
        raise BackwardError(
            f"backward through {op.name} (recorded at {rec.site}) a second time: its saved "
            f"values were freed by an earlier backward. Pass retain_graph=True to the first "
            f"backward (or grad) call if you need to backpropagate through this graph again.")
    for i, a in enumerate(rec.inputs):
        if type(a) in TENSOR_TYPES and a._version > rec.stamp:
            raise BackwardError(
                f"backward: input {i} of {op.name} (recorded at {rec.site}, shape {a.shape}) "
                f"was modified in place after {op.name} saved it (version {a._version}), "
                f"so the gradient would use a stale value. Call backward before updating it "
                f"(e.g. before optimizer.step()), or recompute the forward after the update.")


def _count_bug(rec, cots):
    n = len(rec.inputs)
    what = "one cotangent" if n == 1 else f"{n} cotangents (one per input, a tuple)"
    return PrimitiveBugError(
        f"vjp of primitive '{rec.op.name}' must return {what}, got {type(cots).__name__}"
        f"{' of length %d' % len(cots) if type(cots) in (tuple, list) else ''} "
        f"(recorded at {rec.site}).")


def _fit(c, data, rec, i, create_graph):
    """Check a vjp's cotangent for input ``i`` (array ``data``); reduce broadcasting; cast."""
    op = rec.op
    if c is None:
        raise PrimitiveBugError(f"vjp of primitive '{op.name}' returned None for input {i}, "
                                f"which needs a gradient (recorded at {rec.site}).")
    if create_graph:
        if type(c) not in TENSOR_TYPES:
            c = xp.array(c)
            c.flags.writeable = False
            c = Tensor._make(c, None, -1)
    elif type(c) is not ndarray:
        c = c._data if type(c) in TENSOR_TYPES else xp.asarray(c)
    shape = data.shape
    cshape = c.shape
    if cshape != shape:
        if not _broadcasts_to(shape, cshape):
            raise PrimitiveBugError(
                f"bug in primitive '{op.name}': its vjp returned a gradient of shape {cshape} for "
                f"input {i}, whose shape is {shape} (recorded at {rec.site}). A vjp must return "
                f"the input's shape (or a shape it broadcasts to).")
        c = sum_to_shape(c, shape)
        if not create_graph and type(c) is not ndarray:
            c = xp.asarray(c)
    dtype = data.dtype
    if c.dtype != dtype:
        outs = rec.out if type(rec.out) is tuple else (rec.out,)
        if all(o.dtype == dtype for o in outs) and c.dtype.kind == "f":
            raise PrimitiveBugError(
                f"bug in primitive '{op.name}': its vjp returned {c.dtype} for input {i} of dtype "
                f"{dtype} (recorded at {rec.site}); gradients keep their input's dtype.")
        c = cast(c, dtype=dtype)
    return c


def _broadcasts_to(shape, target):
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True


def _check_finite(c, rec, i):
    data = c._data if type(c) in TENSOR_TYPES else c
    if data.dtype.kind == "f" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: the backward of {rec.op.name} (recorded at {rec.site}) "
            f"produced NaN or Inf in the gradient "
            f"of its input {i} (shape {data.shape}).")
