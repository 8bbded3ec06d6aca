"""The reverse sweep: walk the tape backwards, calling each record's vjp once.

Cotangents live in a table for the length of one sweep, keyed by record (and
output slot for multi-output primitives); only leaves (and tensors that asked
with ``retain_grad``) get ``.grad``.  The first contribution to a slot is
stored by reference; the second creates a fresh array that the sweep owns, and
only owned arrays are added into in place -- an array a vjp returned is never
written to.  Each record's vjp is called through `tapegrad.routing.input_cotangents`,
which does the broadcast reduction and the shape/dtype check of every cotangent
once, not in each vjp.
"""
import threading
import weakref

from .backend import ndarray, xp
from .errors import BackwardError, OpError, here
from .grad_mode import enable_grad, no_grad
from .ledger import ContributionLog
from .ops.linalg import addmm, matmul
from .ops.shape import cat
from .state import MODES
from .tape import GLOBAL_TAPE, RETAINED, retained_for
from .tensor import TENSOR_TYPES, Tensor
from .routing import input_cotangents


def backward(tensor, gradient=None, retain_graph=False, keep_contributions=False):
    """``tensor.backward``: accumulate into the ``.grad`` of every leaf it depends on."""
    if not tensor.requires_grad:
        raise BackwardError(
            f"backward: the tensor (shape {tensor.shape}) does not require grad and was not "
            f"recorded on the tape; at {here()}. Give some input requires_grad=True, and do "
            f"not compute it under no_grad().")
    seed = _seed(tensor, gradient, "backward")
    ledger = ContributionLog(keep_contributions)
    with no_grad():
        sweep = _sweep([(tensor, seed)], retain_graph=retain_graph,
                       create_graph=False, ledger=ledger)
    with _ACCUMULATING:
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


#: Held while gradients are added into ``.grad`` (and the ledger): concurrent backward passes
#: into a shared leaf would otherwise each read the old ``.grad`` and lose the other's update.
_ACCUMULATING = threading.Lock()


def _accumulate(t, g, owned):
    """Add ``g`` into ``t.grad`` (or set it): a new read-only array, never one a vjp returned."""
    if t.grad is None:
        g = _private(g, owned)
    else:
        g = xp.asarray(t.grad._data + g)     # a new array (0-d sums give scalars)
    g.flags.writeable = False
    t._grad = Tensor._make(g, None, -1)


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


#: Primitives whose right matrix operand's term ``aᵀ g`` the sweep may defer and batch
#: (`_Sweep.defer_right_operand`): primitive -> position of that operand (the left is just before).
RIGHT_OPERAND = {matmul.primitive: 1, addmm.primitive: 2}


def tape_gradient(tape, target, sources, output_gradient=None):
    """``Tape.gradient``: gradients of ``target`` w.r.t. ``sources`` through ``tape``'s records.

    ``sources`` may be one tensor or a sequence; the result has the same
    structure.  A source the target does not depend on gets ``None``.
    Keeps the tape's saved values (it can be called again).
    """
    single = not isinstance(sources, (list, tuple))
    srcs = [sources] if single else list(sources)
    grads = grad(target, srcs, grad_outputs=output_gradient, retain_graph=True,
                 allow_unused=True, records=tape.records)
    return grads[0] if single else grads


def _sweep(roots, *, retain_graph, create_graph, capture=None, records=None, ledger=None):
    """The reverse pass.  Returns the `_Sweep` (its leaf_grads, leaf_owned, captured).

    Walks the records from the latest root back, calling
    `input_cotangents` once for each record a cotangent
    reached; jumps over runs of records no cotangent reaches (see
    `SKIP_AFTER`) and stops as soon as no cotangent is pending.
    """
    sweep = _Sweep(create_graph, ledger, capture)
    table = sweep.table
    start = None
    with GLOBAL_TAPE.lock:      # another thread may compact: positions and list read together
        for t, g in roots:
            rec = t._record
            if rec is None:
                sweep.add_leaf(t, g, None)
                continue
            sweep.add(rec, t._slot, g)
            sweep.root_records.add(rec)
            pos = rec.pos if records is None else records_index(records, rec)
            start = pos if start is None else max(start, pos)
        if start is None:
            return sweep
        # weak references to the records in tape order (the global tape's own list,
        # or one made for an explicit Tape's records)
        refs = (GLOBAL_TAPE.refs if records is None
                else [weakref.ref(r) for r in records[:start + 1]])

    noted = bool(sweep.wanted) or bool(RETAINED)
    batch = not MODES.anomaly           # anomaly mode checks each step's product on its own
    owned = sweep.owned
    pending = sweep.pending
    pop = table.pop
    misses = 0                          # positions visited in a row that held no work
    i = start + 1
    while i:
        i -= 1
        rec = refs[i]()
        if rec is not None:
            if pending and rec in pending:
                sweep.add(rec, -1, sweep.shared_product(rec))
            g = pop(rec, None)
        if rec is None or g is None:    # dead, or unrelated to the roots
            if not table and not pending:
                break
            misses += 1
            if misses == SKIP_AFTER and records is None and GLOBAL_TAPE.refs is refs:
                i = 1 + max(r.pos for r in (*table, *pending))   # jump to the next one due
                misses = 0
            continue
        misses = 0
        if rec.inputs is None:          # freed by an earlier backward
            raise BackwardError(_released_message(sweep, rec))
        if type(rec.out) is tuple:
            g = tuple(g.get(slot) if g.get(slot) is not None else _zeros(o, create_graph)
                      for slot, o in enumerate(rec.out))
        mask = rec.mask
        right = RIGHT_OPERAND.get(rec.op) if batch else None
        if right is not None and sweep.defer_right_operand(rec, g, right):
            mask &= ~(1 << right)       # the right operand's term is formed later
        cots = input_cotangents(rec, g, create_graph, mask)
        if noted:
            sweep.note(rec, g)
        k = 0                           # input position
        for a in rec.inputs:
            if mask >> k & 1:
                c = cots[k]
                parent = a._record
                if parent is None:
                    sweep.add_leaf(a, c, rec)
                elif a._slot >= 0 or create_graph:
                    sweep.add(parent, a._slot, c)
                else:                   # the common case, inline: a single-output parent
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
    for rec in list(pending):           # right operands made before an explicit Tape's records
        sweep.add(rec, -1, sweep.shared_product(rec))
    return sweep


#: After this many positions in a row with nothing to do (records of other
#: graphs, or dead ones), the sweep jumps straight to the latest record still
#: owed a cotangent: its cost follows the graph, not the tape.
SKIP_AFTER = 32

#: Pending (left operand, cotangent) pairs of one shared right operand are
#: multiplied out once they hold this many bytes: most of the speed of one big
#: product, with the memory of a few steps.
SHARED_PRODUCT_BYTES = 1 << 21


class _Sweep:
    """The state of one reverse pass: cotangent tables and how to add into them.

    ``table`` maps a single-output record to its cotangent and a multi-output
    record to a dict {slot: cotangent}.  The first contribution to a slot is
    stored by reference; the second makes a fresh array the sweep owns (listed
    in ``owned``); only owned arrays are added into in place.  ``root_records``
    holds the records the sweep starts from.
    """

    __slots__ = ("table", "owned", "leaf_grads", "leaf_owned", "create_graph", "ledger",
                 "wanted", "captured", "pending", "root_records")

    def __init__(self, create_graph, ledger, capture):
        self.table = {}
        self.root_records = set()
        self.owned = set()
        self.leaf_grads = {}
        self.leaf_owned = set()
        self.create_graph = create_graph
        self.ledger = ledger
        self.captured = {}
        self.wanted = {}
        self.pending = {}       # shared right operand's record -> [bytes, lefts, cotangents]
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
        """Add ``g`` into the gradient of ``leaf`` (an input of ``rec``; None for a root)."""
        if self.ledger is not None and rec is not None:
            self.ledger.add(leaf, rec, g)
        self._add(self.leaf_grads, self.leaf_owned, leaf, g)

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

    def defer_right_operand(self, rec, g, right):
        """Hold back ``b``'s term ``aᵀ g`` of a ``matmul(a, b)`` (or ``addmm(c, a, b)``; ``b``
        is input ``right``) whose ``b`` is shared.

        When ``b`` (2-D) is the output of a record -- a weight's transpose
        ``W.T`` taken once before a time loop, used at every step -- the terms
        of all its uses are formed later as one product over the stacked left
        operands and cotangents (`shared_product`), as hand-written BPTT
        does, instead of one small product per step.  Returns False (nothing
        deferred) when the case does not apply.
        """
        if rec.inputs is None or not rec.mask >> right & 1 or rec.params.get("alpha", 1) != 1:
            return False
        a, b = rec.inputs[right - 1], rec.inputs[right]
        parent = b._record
        data = b._data
        if parent is None or b._slot >= 0 or data.ndim != 2 or g.ndim != 2:
            return False
        a_data = rec.datas[right - 1]
        if self.create_graph:
            if type(a) not in TENSOR_TYPES:
                a = Tensor._make(a_data, None, -1)
        elif a_data.dtype != data.dtype or g.dtype != data.dtype:
            return False
        else:
            a = a_data
        if a_data.ndim != 2:
            return False
        entry = self.pending.get(parent)
        if entry is None:
            entry = self.pending[parent] = [0, [], []]
        entry[0] += a_data.nbytes + g.shape[0] * g.shape[1] * data.itemsize
        entry[1].append(a)
        entry[2].append(g)
        if entry[0] >= SHARED_PRODUCT_BYTES:
            self.add(parent, -1, self.shared_product(parent))
        return True

    def shared_product(self, parent):
        """The sum of the pending terms ``aᵀ g`` of ``parent``'s output, as one product."""
        _, lefts, cots = self.pending.pop(parent)
        if self.create_graph:
            return cat(lefts).mT @ cat(cots)
        if len(lefts) == 1:
            return lefts[0].T @ cots[0]
        return xp.concatenate(lefts).T @ xp.concatenate(cots)

    def note(self, rec, g):
        """Hand ``rec``'s output cotangent to ``grad``'s non-leaf inputs and ``retain_grad``."""
        if rec in self.wanted:
            for x in self.wanted[rec]:
                self.captured[id(x)] = g[x._slot] if type(g) is tuple else g
        if RETAINED and id(rec) in RETAINED:
            _retain(retained_for(rec), g)


def _released_message(sweep, rec):
    """Why the sweep met a record an earlier backward freed, with the fix that fits the case.

    If the record is one the backward started from, the same graph is being
    differentiated twice (``retain_graph``).  Otherwise the new graph reached
    into an old, already swept one -- typically a recurrent state carried
    from the previous chunk of truncated BPTT without being detached.
    """
    scope = f" in {rec.scope_path}" if rec.scope else ""
    what = f"{rec.op.name} (recorded at {rec.site}{scope})"
    if rec in sweep.root_records:
        return (f"backward at {here()} through {what} a second time: its saved values were "
                f"freed by an earlier backward. Pass retain_graph=True to the first backward "
                f"(or grad) call if you need to backpropagate through this graph again.")
    return (f"backward at {here()} reached {what}, which belongs to an earlier graph that a "
            f"previous backward already freed: a value computed before that backward was used "
            f"in this graph without being detached. In truncated BPTT, detach the state "
            f"you carry into the next chunk: h = h.detach(), or state = "
            f"nn.utils.detach_state(state) for a tuple such as an LSTM's (h, c). "
            f"(retain_graph=True would backpropagate through every earlier chunk again, ever "
            f"more slowly -- rarely what is meant.)")


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


def _retain(entries, g):
    for slot, ref in entries:
        t = ref()
        if t is None:
            continue
        gi = g[slot] if type(g) is tuple else g
        with _ACCUMULATING:
            _accumulate(t, gi._data if type(gi) in TENSOR_TYPES else gi, False)
