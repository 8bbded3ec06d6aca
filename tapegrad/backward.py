"""The reverse sweep: walk the tape backwards, calling each record's vjp once.

Cotangents live in a table for the length of one sweep, keyed by record (and
output slot for multi-output primitives); only leaves (and tensors that asked
with ``retain_grad``) get ``.grad``.  The first contribution to a slot is
stored by reference; the second creates a fresh array that the sweep owns, and
only owned arrays are added into in place -- an array a vjp returned is never
written to.  Broadcast reduction and the shape/dtype check of every cotangent
happen here, once, not in each vjp.
"""
from .backend import ndarray, xp
from .errors import AnomalyError, BackwardError, OpError, PrimitiveBugError, format_site, here
from .grad_mode import enable_grad, no_grad
from .ledger import Ledger
from .state import STATE
from .tape import GLOBAL_TAPE
from .tensor import TENSOR_TYPES, Tensor


def backward(tensor, gradient=None, retain_graph=False, keep_contributions=False):
    """``tensor.backward``: accumulate into the ``.grad`` of every leaf it depends on."""
    if not tensor.requires_grad:
        raise BackwardError(
            f"backward: the tensor (shape {tensor.shape}) does not require grad and was not "
            f"recorded on the tape; at {here()}. Give some input requires_grad=True, and do "
            f"not compute it under no_grad().")
    seed = _seed(tensor, gradient, "backward")
    ledger = Ledger(keep_contributions)
    with no_grad():
        leaf_grads, _ = _sweep([(tensor, seed)], retain_graph=retain_graph,
                               create_graph=False, ledger=ledger)
    for leaf, g in leaf_grads.items():
        g = xp.ascontiguousarray(g)
        ledger.publish(leaf, leaf.grad is None)
        if leaf.grad is None:
            g.flags.writeable = False
            leaf.grad = Tensor._make(g, None, 0)
        else:
            total = leaf.grad.data + g
            total.flags.writeable = False
            leaf.grad = Tensor._make(total, None, 0)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, records=None):
    """Gradients of ``outputs`` w.r.t. ``inputs``, returned (``.grad`` is left alone).

    With ``create_graph=True`` the sweep runs the vjps on tensors, so the
    results are themselves recorded and can be differentiated again
    (Hessian-vector products, third derivatives).  ``retain_graph`` defaults
    to ``create_graph``.  Returns a tuple with one entry per input; an input
    the outputs do not depend on raises unless ``allow_unused`` (then None).
    """
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None:
        gos = [None] * len(outs)
    else:
        gos = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
        if len(gos) != len(outs):
            raise OpError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs; give one "
                          f"per output. At {here()}")
    for i, x in enumerate(ins):
        if type(x) not in TENSOR_TYPES or not x.requires_grad:
            raise OpError(f"grad: input {i} does not require grad, so it has no gradient; "
                          f"create it with requires_grad=True. At {here()}")
    roots = []
    for o, go in zip(outs, gos):
        if not o.requires_grad:
            continue
        if create_graph and type(go) in TENSOR_TYPES:
            roots.append((o, go))
        else:
            roots.append((o, _seed(o, go, "grad")))
    if retain_graph is None:
        retain_graph = create_graph
    mode = enable_grad() if create_graph else no_grad()
    with mode:
        if create_graph:
            roots = [(o, g if type(g) in TENSOR_TYPES else Tensor._make(g, None, 0))
                     for o, g in roots]
        leaf_grads, captured = _sweep(roots, retain_graph=retain_graph,
                                      create_graph=create_graph, capture=ins, records=records)
    results = []
    for i, x in enumerate(ins):
        g = leaf_grads.get(x) if x._record is None else captured.get(id(x))
        if g is None:
            if not allow_unused:
                raise OpError(f"grad: input {i} (shape {x.shape}) was not used to compute the "
                              f"outputs; pass allow_unused=True to get None for it. At {here()}")
            results.append(None)
        elif type(g) in TENSOR_TYPES:
            results.append(g)
        else:
            g = xp.ascontiguousarray(g)
            g.flags.writeable = False
            results.append(Tensor._make(g, None, 0))
    return tuple(results)


def _seed(tensor, gradient, opname):
    """The cotangent that starts the sweep: ones for a single-element output."""
    if gradient is None:
        if tensor.data.size != 1:
            raise BackwardError(
                f"{opname}: the output has shape {tensor.shape}; without `gradient` it must have "
                f"one element (a loss). Reduce it first (y.sum(), y.mean()) or pass "
                f"gradient= of shape {tensor.shape}. At {here()}")
        return xp.ones_like(tensor.data)
    g = gradient.data if type(gradient) in TENSOR_TYPES else xp.asarray(gradient)
    if g.shape != tensor.shape:
        raise BackwardError(f"{opname}: gradient has shape {g.shape} but the output has shape "
                            f"{tensor.shape}; they must match. At {here()}")
    return xp.array(g, dtype=tensor.dtype, copy=True)


def _sweep(roots, *, retain_graph, create_graph, capture=None, records=None, ledger=None):
    """The reverse pass.  Returns (leaf -> gradient, id(captured non-leaf) -> gradient)."""
    table = {}        # record (or (record, slot) for multi-output) -> cotangent
    owned = set()     # keys whose cotangent is an array this sweep created
    leaf_grads = {}   # leaf tensor -> cotangent
    leaf_owned = set()
    captured = {}
    wanted = {}
    if capture:
        for x in capture:
            if x._record is not None:
                wanted.setdefault(x._record, []).append(x)

    start = None
    for t, g in roots:
        rec = t._record
        if rec is None:
            _accumulate(leaf_grads, leaf_owned, t, g, create_graph)
            continue
        _accumulate(table, owned, _key(rec, t._slot), g, create_graph)
        pos = rec.pos if records is None else records_index(records, rec)
        start = pos if start is None else max(start, pos)
    if start is None:
        return leaf_grads, captured
    walk = (GLOBAL_TAPE.reversed_from(start) if records is None
            else (records[i] for i in range(start, -1, -1)))

    anomaly = STATE.anomaly
    for rec in walk:
        if not table:
            break
        op = rec.op
        if op.multi:
            gs = [table.pop((rec, i), None) for i in range(len(rec.out))]
            if all(g is None for g in gs):
                continue
        else:
            g = table.pop(rec, None)
            if g is None:
                continue
        if rec.released:
            raise BackwardError(
                f"backward through {op.name} (recorded at {rec.site}) a second time: its saved "
                f"values were freed by an earlier backward. Pass retain_graph=True to the first "
                f"backward (or grad) call if you need to backpropagate through this graph again.")
        if rec.stamp != STATE.mutations:
            _check_versions(rec)
        inputs = rec.inputs
        if op.multi:
            g = tuple(gi if gi is not None else _zeros(o, create_graph)
                      for gi, o in zip(gs, rec.out))
        if rec in wanted:
            for x in wanted[rec]:
                captured[id(x)] = g[x._slot] if op.multi else g
        if rec.retained is not None:
            _retain(rec, g)
        if create_graph:
            out = (tuple(Tensor._make(o, rec, i) for i, o in enumerate(rec.out)) if op.multi
                   else Tensor._make(rec.out, rec, 0))
            args = inputs
        else:
            out = rec.out
            args = rec.datas
        needs = rec.needs
        if op.vjp is None:
            raise BackwardError(f"{op.name} has no vjp: define one with @{op.name}.defvjp "
                                f"(recorded at {rec.site}).")
        if op.vjp_takes_needs:
            cots = op.vjp(g, out, *args, needs=tuple(needs), **rec.params)
        else:
            cots = op.vjp(g, out, *args, **rec.params)
        if len(inputs) == 1:
            cots = (cots,)
        elif type(cots) not in (tuple, list) or len(cots) != len(inputs):
            raise PrimitiveBugError(
                f"vjp of primitive '{op.name}' must return {len(inputs)} cotangents (one per "
                f"input, a tuple), got {type(cots).__name__}"
                f"{' of length %d' % len(cots) if type(cots) in (tuple, list) else ''}.")
        for i, a in enumerate(inputs):
            if not needs[i]:
                continue
            c = _fit(cots[i], a, rec, i, create_graph)
            if anomaly:
                _check_finite_backward(c, rec, i)
            parent = a._record
            if parent is None:
                if ledger is not None:
                    ledger.add(a, rec, c)
                _accumulate(leaf_grads, leaf_owned, a, c, create_graph)
            else:
                _accumulate(table, owned, _key(parent, a._slot), c, create_graph)
        if not retain_graph:
            rec.out = (None,) * len(rec.out) if op.multi else None
            rec.inputs = rec.datas = None
            rec.released = True
    return leaf_grads, captured


def _key(rec, slot):
    return (rec, slot) if rec.op.multi else rec


def _zeros(like, create_graph):
    z = xp.zeros_like(like)
    return Tensor._make(z, None, 0) if create_graph else z


def records_index(records, rec):
    for i in range(len(records) - 1, -1, -1):
        if records[i] is rec:
            return i
    raise OpError(f"tape.gradient: the target was computed by {rec.op.name} at {rec.site}, "
                  f"which is not on this tape; compute the target inside the `with Tape()` block.")


def _accumulate(table, owned, key, g, create_graph):
    prev = table.get(key)
    if prev is None:
        table[key] = g
    elif create_graph:
        table[key] = prev + g
    elif key in owned:
        prev += g
    else:
        total = prev + g
        table[key] = total if type(total) is ndarray else xp.asarray(total)
        owned.add(key)


def _fit(c, a, rec, i, create_graph):
    """Check a vjp's cotangent for input ``i``; reduce broadcasting; cast to the input dtype."""
    op = rec.op
    if c is None:
        raise PrimitiveBugError(f"vjp of primitive '{op.name}' returned None for input {i}, "
                                f"which needs a gradient (recorded at {rec.site}).")
    if create_graph:
        if type(c) not in TENSOR_TYPES:
            c = Tensor._make(_as_owned_array(c), None, 0)
    elif type(c) is not ndarray:
        if type(c) in TENSOR_TYPES:
            c = c.data
        else:
            c = xp.asarray(c)
    shape = a.data.shape
    cshape = c.shape
    if cshape != shape:
        if not _broadcasts_to(shape, cshape):
            raise PrimitiveBugError(
                f"bug in primitive '{op.name}': its vjp returned a gradient of shape {cshape} for "
                f"input {i}, whose shape is {shape} (recorded at {rec.site}). A vjp must return "
                f"the input's shape (or a shape it broadcasts to).")
        from .ops.reduce import sum_to_shape
        c = sum_to_shape(c, shape)
        if not create_graph and type(c) is not ndarray:
            c = xp.asarray(c)
    dtype = a.data.dtype
    if c.dtype != dtype:
        outs = rec.out if type(rec.out) is tuple else (rec.out,)
        if all(o.dtype == dtype for o in outs) and c.dtype.kind == "f":
            raise PrimitiveBugError(
                f"bug in primitive '{op.name}': its vjp returned {c.dtype} for input {i} of dtype "
                f"{dtype} (recorded at {rec.site}); gradients keep their input's dtype.")
        from .ops.elementwise import cast
        c = cast(c, dtype)
    return c


def _as_owned_array(c):
    c = xp.array(c)
    c.flags.writeable = False
    return c


def _broadcasts_to(shape, target):
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True


def _check_versions(rec):
    for i, a in enumerate(rec.inputs):
        if type(a) in TENSOR_TYPES and a._version > rec.stamp:
            raise BackwardError(
                f"backward: input {i} of {rec.op.name} (recorded at {rec.site}, shape {a.shape}) "
                f"was modified in place after {rec.op.name} saved it (version {a._version}), "
                f"so the gradient would use a stale value. Call backward before updating it "
                f"(e.g. before optimizer.step()), or recompute the forward after the update.")


def _retain(rec, g):
    for slot, ref in rec.retained:
        t = ref()
        if t is None:
            continue
        gi = g[slot] if type(g) is tuple else g
        if type(gi) in TENSOR_TYPES:
            gi = gi.data
        gi = xp.array(gi, copy=True)
        gi.flags.writeable = False
        if t.grad is None:
            t.grad = Tensor._make(gi, None, 0)
        else:
            total = t.grad.data + gi
            total.flags.writeable = False
            t.grad = Tensor._make(total, None, 0)


def _check_finite_backward(c, rec, i):
    data = c.data if type(c) in TENSOR_TYPES else c
    if data.dtype.kind == "f" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: the backward of {rec.op.name} (recorded at "
            f"{format_site(rec.code, rec.lasti)}) produced NaN or Inf in the gradient "
            f"of its input {i} (shape {data.shape}).")
