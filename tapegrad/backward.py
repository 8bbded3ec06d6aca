"""The reverse sweep: walk the tape backwards, calling each record's vjp once.

Cotangents live in a table for the length of one sweep, keyed by record (and
output slot for multi-output primitives); only leaves (and tensors that asked
with ``retain_grad``) get ``.grad``.  The first contribution to a slot is
stored by reference; the second creates a fresh array that the sweep owns, and
only owned arrays are added into in place -- an array a vjp returned is never
written to.  Broadcast reduction and the shape/dtype check of every cotangent
happen here, once, not in each vjp.
"""
import weakref

from .backend import ndarray, xp
from .errors import AnomalyError, BackwardError, OpError, PrimitiveBugError, here
from .grad_mode import enable_grad, no_grad
from .ledger import Ledger
from .state import STATE
from .tape import GLOBAL_TAPE, RETAINED, needs_kwargs, retained_for
from .tensor import TENSOR_TYPES, Tensor, freeze_arrays as _freeze_arrays


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
        sweep = _sweep([(tensor, seed)], retain_graph=retain_graph,
                       create_graph=False, ledger=ledger)
    for leaf, g in sweep.leaf_grads.items():
        ledger.publish(leaf, leaf.grad is None)
        _accumulate(leaf, g, leaf in sweep.leaf_owned)


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
    for i, o in enumerate(outs):
        if type(o) not in TENSOR_TYPES:
            raise OpError(f"grad: output {i} is a {type(o).__name__}, not a tensor; pass the "
                          f"tensors the loss was computed as. At {here()}")
    roots = []
    for o, go in zip(outs, gos):
        if not o.requires_grad:
            continue
        if create_graph and type(go) in TENSOR_TYPES:
            _check_gradient_shape(o, go.shape, "grad")
            roots.append((o, go))
        else:
            roots.append((o, _seed(o, go, "grad")))
    if retain_graph is None:
        retain_graph = create_graph
    mode = enable_grad() if create_graph else no_grad()
    with mode:
        if create_graph:
            roots = [(o, g if type(g) in TENSOR_TYPES else Tensor._make(g, None, -1))
                     for o, g in roots]
        sweep = _sweep(roots, retain_graph=retain_graph, create_graph=create_graph,
                       capture=ins, records=records)
    results = []
    for i, x in enumerate(ins):
        g = sweep.leaf_grads.get(x) if x._record is None else sweep.captured.get(id(x))
        if g is None:
            if not allow_unused:
                why = ("" if any(o.requires_grad for o in outs) else
                       " (no output requires grad: none was recorded from a tensor that "
                       "requires grad, or they were computed under no_grad())")
                raise OpError(f"grad: input {i} (shape {x.shape}) was not used to compute the "
                              f"outputs{why}; pass allow_unused=True to get None for it. "
                              f"At {here()}")
            results.append(None)
        elif type(g) in TENSOR_TYPES:
            results.append(g)
        else:
            g = _private(g, x._record is None and x in sweep.leaf_owned)
            g.flags.writeable = False
            results.append(Tensor._make(g, None, -1))
    return tuple(results)


def _accumulate(t, g, owned):
    """Add ``g`` into ``t.grad`` (or set it): a new read-only array, never one a vjp returned."""
    if t.grad is None:
        g = _private(g, owned)
    else:
        g = xp.asarray(t.grad._data + g)     # a new array (0-d sums give scalars)
    g.flags.writeable = False
    t.grad = Tensor._make(g, None, -1)


def _private(g, owned):
    """``g`` as a C-contiguous array that nothing else refers to (it becomes a read-only grad).

    A cotangent the sweep did not create itself may be an array a vjp returned
    by reference (a user's array, the seed ``gradient``): it is copied, never
    frozen or aliased.  0-d stays 0-d.
    """
    if not owned:
        return g.copy()
    return g if g.flags.c_contiguous else g.copy(order="C")


def _seed(tensor, gradient, opname):
    """The cotangent that starts the sweep: ones for a single-element output."""
    if gradient is None:
        if tensor._data.size != 1:
            raise BackwardError(
                f"{opname}: the output has shape {tensor.shape}; without `gradient` it must have "
                f"one element (a loss). Reduce it first (y.sum(), y.mean()) or pass "
                f"gradient= of shape {tensor.shape}. At {here()}")
        return xp.ones_like(tensor._data)
    g = gradient._data if type(gradient) in TENSOR_TYPES else xp.asarray(gradient)
    _check_gradient_shape(tensor, g.shape, opname)
    return xp.array(g, dtype=tensor.dtype, copy=True)


def _check_gradient_shape(tensor, shape, opname):
    if shape != tensor.shape:
        raise BackwardError(f"{opname}: gradient has shape {shape} but the output has shape "
                            f"{tensor.shape}; they must match. At {here()}")


def _sweep(roots, *, retain_graph, create_graph, capture=None, records=None, ledger=None):
    """The reverse pass.  Returns the :class:`_Sweep` (its leaf_grads, leaf_owned, captured).

    The loop body is the hot path of every backward: the common case (a
    built-in single-output primitive in an ordinary backward) runs inline; the
    rest goes through :func:`_general_step`.
    """
    sweep = _Sweep(create_graph, ledger, capture)
    table = sweep.table
    start = None
    for t, g in roots:
        rec = t._record
        if rec is None:
            sweep.add_leaf(t, g, None)
            continue
        sweep.add(rec, t._slot, g)
        pos = rec.pos if records is None else records_index(records, rec)
        start = pos if start is None else max(start, pos)
    if start is None:
        return sweep
    # weak references to the records in tape order (the global tape's own list,
    # or one made for an explicit Tape's records)
    refs = GLOBAL_TAPE.refs if records is None else [weakref.ref(r) for r in records[:start + 1]]

    state = STATE
    general = create_graph or bool(sweep.wanted) or bool(RETAINED) or state.anomaly
    owned = sweep.owned
    pop = table.pop
    for i in range(start, -1, -1):
        rec = refs[i]()
        if rec is None:                 # a dead record; stop once nothing is left to send back
            if not table:
                break
            continue
        g = pop(rec, None)
        if g is None:
            if not table:
                break
            continue
        op = rec.op
        if general or not op.trusted or op.multi or rec.inputs is None \
                or rec.stamp != state.mutations:
            _general_step(sweep, rec, g)
        else:
            inputs = rec.inputs
            params = rec.params
            mask = rec.mask
            if op.vjp_takes_needs:
                params = needs_kwargs(params, mask, len(inputs))
            cots = op.vjp(g, rec.out, *rec.datas, **params) if params else \
                op.vjp(g, rec.out, *rec.datas)
            if len(inputs) == 1:
                cots = (cots,)
            elif type(cots) is not tuple or len(cots) != len(inputs):
                cots = _per_input(rec, cots)
            k = 0                       # input position
            for a in inputs:
                if mask >> k & 1:
                    c = cots[k]
                    data = a._data
                    if type(c) is not ndarray or c.shape != data.shape or c.dtype != data.dtype:
                        c = _fit(c, a, rec, k, False)
                    parent = a._record
                    if parent is None or a._slot >= 0:
                        sweep.add_to(a, c, rec)
                    else:
                        prev = table.get(parent)
                        if prev is None:
                            table[parent] = c
                        elif parent in owned:
                            prev += c
                        else:
                            sweep.add(parent, -1, c)
                k += 1
        if not retain_graph:
            rec.out = rec.inputs = rec.datas = None
    return sweep


class _Sweep:
    """The state of one reverse pass: cotangent tables and how to add into them.

    ``table`` maps a single-output record to its cotangent and a multi-output
    record to a dict {slot: cotangent}.  The first contribution to a slot is
    stored by reference; the second makes a fresh array the sweep owns (listed
    in ``owned``); only owned arrays are added into in place.
    """

    __slots__ = ("table", "owned", "leaf_grads", "leaf_owned", "create_graph", "ledger",
                 "wanted", "captured")

    def __init__(self, create_graph, ledger, capture):
        self.table = {}
        self.owned = set()
        self.leaf_grads = {}
        self.leaf_owned = set()
        self.create_graph = create_graph
        self.ledger = ledger
        self.captured = {}
        self.wanted = {}
        for x in capture or ():
            if x._record is not None:
                self.wanted.setdefault(x._record, []).append(x)

    def add(self, rec, slot, g):
        """Add ``g`` into the cotangent of output ``slot`` of ``rec`` (-1: single output)."""
        if slot < 0:
            self._add(self.table, self.owned, rec, g)
        else:
            slots = self.table.get(rec)
            if slots is None:
                slots = self.table[rec] = {}
            self._add(slots, self.owned, (rec, slot), g, key_in_table=slot)

    def add_leaf(self, leaf, g, rec):
        if self.ledger is not None and rec is not None:
            self.ledger.add(leaf, rec, g)
        self._add(self.leaf_grads, self.leaf_owned, leaf, g)

    def add_to(self, a, c, rec):
        """Add cotangent ``c`` for input tensor ``a`` of record ``rec``."""
        if a._record is None:
            self.add_leaf(a, c, rec)
        else:
            self.add(a._record, a._slot, c)

    def _add(self, table, owned, key, g, key_in_table=None):
        slot = key if key_in_table is None else key_in_table
        prev = table.get(slot)
        if prev is None:
            table[slot] = g
        elif self.create_graph:
            table[slot] = prev + g
        elif key in owned:
            prev += g
        else:
            total = prev + g
            table[slot] = total if type(total) is ndarray else xp.asarray(total)
            owned.add(key)

    def route(self, rec, cots):
        """Check and add the cotangents a vjp returned for each input that needs one."""
        inputs = rec.inputs
        if len(inputs) == 1 and type(cots) not in (tuple, list):
            cots = (cots,)
        elif type(cots) is not tuple or len(cots) != len(inputs):
            cots = _per_input(rec, cots)
        mask = rec.mask
        anomaly = STATE.anomaly
        create_graph = self.create_graph
        for i, a in enumerate(inputs):
            if not mask >> i & 1:
                continue
            c = cots[i]
            data = a._data
            if create_graph or type(c) is not ndarray or c.shape != data.shape \
                    or c.dtype != data.dtype:
                c = _fit(c, a, rec, i, create_graph)
            if anomaly:
                _check_finite_backward(c, rec, i)
            self.add_to(a, c, rec)


def _per_input(rec, cots):
    """A vjp's result as one cotangent per input (a tuple or list); anything else is a bug."""
    n = len(rec.inputs)
    if n == 1 and type(cots) not in (tuple, list):
        return (cots,)
    if type(cots) in (tuple, list) and len(cots) == n:
        return cots
    what = "one cotangent" if n == 1 else f"{n} cotangents (one per input, a tuple)"
    raise PrimitiveBugError(
        f"vjp of primitive '{rec.op.name}' must return {what}, got {type(cots).__name__}"
        f"{' of length %d' % len(cots) if type(cots) in (tuple, list) else ''} "
        f"(recorded at {rec.site}).")


def _general_step(sweep, rec, g):
    """One record of the sweep, in full generality (see :func:`_sweep` for the fast path)."""
    op = rec.op
    create_graph = sweep.create_graph
    inputs = rec.inputs
    if op.vjp is None:
        raise BackwardError(f"backward through {op.name} (recorded at {rec.site}): the primitive "
                            f"has no vjp. Define one with @{op.name}.defvjp (see the docs on "
                            f"adding a primitive).")
    if inputs is None:
        raise BackwardError(
            f"backward through {op.name} (recorded at {rec.site}) a second time: its saved "
            f"values were freed by an earlier backward. Pass retain_graph=True to the first "
            f"backward (or grad) call if you need to backpropagate through this graph again.")
    if rec.stamp != STATE.mutations:
        _check_versions(rec)
    if op.multi:
        g = tuple(g.get(i) if g.get(i) is not None else _zeros(o, create_graph)
                  for i, o in enumerate(rec.out))
    if rec in sweep.wanted:
        for x in sweep.wanted[rec]:
            sweep.captured[id(x)] = g[x._slot] if op.multi else g
    if RETAINED and id(rec) in RETAINED:
        _retain(retained_for(rec), g)
    if create_graph:
        out = (tuple(Tensor._make(o, rec, i) for i, o in enumerate(rec.out)) if op.multi
               else Tensor._make(rec.out, rec, -1))
        args = inputs
    else:
        out = rec.out
        args = rec.datas
        if not op.trusted:
            _freeze_arrays(g if op.multi else (g,))
    params = rec.params
    if op.vjp_takes_needs:
        params = needs_kwargs(params, rec.mask, len(inputs))
    sweep.route(rec, op.vjp(g, out, *args, **params))


def _zeros(like, create_graph):
    """Zero cotangent for an output of a multi-output record that got none."""
    z = xp.zeros_like(like)
    return Tensor._make(z, None, -1) if create_graph else z


def records_index(records, rec):
    for i in range(len(records) - 1, -1, -1):
        if records[i] is rec:
            return i
    raise OpError(f"tape.gradient: the target was computed by {rec.op.name} at {rec.site}, "
                  f"which is not on this tape; compute the target inside the `with Tape()` block.")


def _fit(c, a, rec, i, create_graph):
    """Check a vjp's cotangent for input ``i``; reduce broadcasting; cast to the input dtype."""
    op = rec.op
    if c is None:
        raise PrimitiveBugError(f"vjp of primitive '{op.name}' returned None for input {i}, "
                                f"which needs a gradient (recorded at {rec.site}).")
    if create_graph:
        if type(c) not in TENSOR_TYPES:
            c = Tensor._make(_as_owned_array(c), None, -1)
    elif type(c) is not ndarray:
        if type(c) in TENSOR_TYPES:
            c = c._data
        else:
            c = xp.asarray(c)
    shape = a._data.shape
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
    dtype = a._data.dtype
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


def _retain(entries, g):
    for slot, ref in entries:
        t = ref()
        if t is None:
            continue
        gi = g[slot] if type(g) is tuple else g
        _accumulate(t, gi._data if type(gi) in TENSOR_TYPES else gi, False)


def _check_finite_backward(c, rec, i):
    data = c._data if type(c) in TENSOR_TYPES else c
    if data.dtype.kind == "f" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: the backward of {rec.op.name} (recorded at {rec.site}) "
            f"produced NaN or Inf in the gradient "
            f"of its input {i} (shape {data.shape}).")
