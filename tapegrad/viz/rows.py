"""Which time step each element of a value outside the steps belongs to, and the per-step
split of gradient terms that this allows.

The ``nn`` layers compute some things for all steps in one batched operation:
the input projection of every step is one product before the loop (cut into
steps by ``unbind``), and a read-out ``head(out)`` after the loop is one
product over the stacked states.  The rows of such a product still belong to
one step each.  `step_labels` finds them: forward from values made in a
step (``stack`` puts step t's value at row t; a product keeps its rows), and
backward from values read by a step (``unbind``'s slice t goes to step t).
Labels are float arrays of the value's shape: a step number, ``NaN`` (no
step) or ``-inf`` (elements mixed from several steps).

`split_cotangents` then splits the cotangent of every operation outside
the steps by step ("colour"), exactly: a labelled output's cotangent is cut
by its labels, an unlabelled one (``b_ih + b_hh``, read by every step's rows)
sums the coloured cotangents its readers send back.  A vjp is linear in its
cotangent, so the per-step terms of a parameter sum to its gradient.
"""
import numpy

from ..grad_mode import no_grad
from ..routing import input_cotangents
from . import gradients

#: Operations that only move elements: their forward (or vjp) moves labels too.
MOVES = {"reshape", "permute", "getitem", "concatenate", "stack", "split_sizes", "unbind"}
#: Operations computed element by element (with broadcasting): an output element
#: belongs to the step its inputs' elements belong to.
ELEMENTWISE = {"abs", "add", "cast", "clip", "cos", "div", "elu", "exp", "leaky_relu", "log",
               "maximum", "minimum", "mul", "neg", "pow", "relu", "sigmoid", "sin", "softplus",
               "sqrt", "sub", "tanh", "where"}
MIXED = -numpy.inf
#: Finite stand-ins for unknown and mixed (not whole numbers, so never a step) while labels
#: travel through a vjp, which may check that what it routes is finite.
ROUTED_UNKNOWN, ROUTED_MIXED = 0.5, 0.25


def combine(a, b):
    """Merge two label arrays of one shape: unknown takes the other, disagreement is mixed."""
    return numpy.where(numpy.isnan(a), b, numpy.where(numpy.isnan(b) | (a == b), a, MIXED))


def unknown(shape):
    return numpy.full(shape, numpy.nan)


def _outs(rec):
    return rec.out if rec.multi else (rec.out,)


def _rows_of(a):
    """(..., n, k) labels -> (..., n, 1): each row's label, mixed when its elements differ."""
    first = a[..., :1]
    same = numpy.all((a == first) | numpy.isnan(a), axis=-1, keepdims=True)
    known = numpy.where(numpy.all(numpy.isnan(a), axis=-1, keepdims=True), numpy.nan, first)
    return numpy.where(same, known, MIXED)


def _forward(rec, ins):
    """Labels of ``rec``'s output(s) from its inputs' labels (None for a constant input)."""
    outs = _outs(rec)
    name = rec.op.name
    if all(a is None or numpy.isnan(a).all() for a in ins):
        return None
    if name in MOVES and all(a is not None for a in ins):
        with no_grad():
            moved = rec.op.forward(*ins, **rec.params)
        return tuple(numpy.asarray(m, dtype=float) for m in moved) if rec.multi else (
            numpy.asarray(moved, dtype=float),)
    if name in ELEMENTWISE:
        shape = outs[0].shape
        out = unknown(shape)
        for a in ins:
            if a is not None and numpy.broadcast_shapes(a.shape, shape) == shape:
                out = combine(out, numpy.broadcast_to(a, shape))
        return (out,)
    if name == "matmul" and ins[0] is not None and ins[0].ndim >= 2:
        shape = outs[0].shape
        rows = _rows_of(ins[0])
        if numpy.broadcast_shapes(rows.shape, shape) == shape:
            return (numpy.broadcast_to(rows, shape).copy(),)
    return None


def _backward(rec, labels, i):
    """Labels of input ``i`` of ``rec`` from the labels of its output(s); None if unknown."""
    name = rec.op.name
    shape = numpy.shape(rec.datas[i])
    if name in MOVES:
        outs = _outs(rec)           # routed in the outputs' dtypes, as a vjp expects
        codes = tuple(numpy.where(numpy.isnan(a), ROUTED_UNKNOWN, numpy.where(
            numpy.isinf(a), ROUTED_MIXED, a)).astype(o.dtype) for a, o in zip(labels, outs))
        ones = tuple(numpy.ones_like(o) for o in outs)
        with no_grad():
            moved = input_cotangents(rec, codes if rec.multi else codes[0])[i]
            count = input_cotangents(rec, ones if rec.multi else ones[0])[i]
        if moved is None:
            return None
        moved = numpy.asarray(moved, dtype=float)
        moved = numpy.where(moved == ROUTED_UNKNOWN, numpy.nan,
                            numpy.where(moved == ROUTED_MIXED, MIXED, moved))
        return numpy.where(count == 0, numpy.nan, numpy.where(count == 1, moved, MIXED))
    out = labels[0]
    if name in ELEMENTWISE and shape == out.shape:
        return out
    if name == "matmul" and i == 0 and len(shape) >= 2 and out.shape[:-1] == shape[:-1]:
        return numpy.broadcast_to(_rows_of(out), shape).copy()
    return None


def step_labels(graph):
    """{OpNode outside the steps or input Leaf: tuple of label arrays, one per output}."""
    labels = {}
    outside = [op for op in graph.ops if op.step is None]

    def source_labels(src, slot, shape):
        if src is None:
            return None
        if src.is_op and src.step is not None:
            return numpy.full(shape, float(src.step))
        got = labels.get(src)
        return None if got is None else got[max(slot, 0)]

    for op in outside:
        ins = [source_labels(s, slot, numpy.shape(d))
               for s, slot, d in zip(op.sources, op.slots, op.rec.datas)]
        found = _forward(op.rec, ins)
        if found is not None:
            labels[op] = found

    def merge(target, slot, new, n_slots, shapes):
        old = labels.get(target) or tuple(unknown(s) for s in shapes)
        old = list(old) + [unknown(s) for s in shapes[len(old):]]
        old[max(slot, 0)] = combine(old[max(slot, 0)], new)
        labels[target] = tuple(old[:n_slots])

    readers = [op for op in graph.ops if op.step is not None] + outside[::-1]
    for op in readers:
        for i, (src, slot) in enumerate(zip(op.sources, op.slots)):
            if src is None or (src.step is not None if src.is_op else src.is_param):
                continue
            if op.step is not None:
                new = numpy.full(numpy.shape(op.rec.datas[i]), float(op.step))
            elif op in labels:
                new = _backward(op.rec, labels[op], i)
            else:
                new = None
            if new is None:
                continue
            if src.is_op:
                merge(src, slot, new, len(src.shapes), src.shapes)
            else:
                merge(src, -1, new, 1, [src.shape])
    return labels


def fully_labelled(found):
    """True when every element has one step (no unknown, no mixed element)."""
    return found is not None and all(numpy.isfinite(a).all() for a in found)


def label_steps(found):
    """The steps that occur in a label tuple, sorted."""
    return sorted({int(s) for a in found for s in numpy.unique(a[numpy.isfinite(a)])})


def _add(acc, color, slot, value, n_slots):
    """Add ``value`` into slot ``slot`` of colour ``color`` of the accumulator ``acc``."""
    parts = acc.setdefault(color, [None] * n_slots)
    k = max(slot, 0)
    parts[k] = value if parts[k] is None else parts[k] + value


def _cut(g, found, steps):
    """{step: g masked to the elements labelled with that step} (g one array per slot)."""
    return {t: [numpy.where(a == t, x, 0) if x is not None else None for x, a in zip(g, found)]
            for t in steps}


def split_cotangents(graph, labels):
    """{OpNode outside the steps: {step or None: cotangent (array, or tuple when multi)}}.

    The colours of one operation sum to its cotangent (``op.grad``).
    """
    readers = {}
    for op in graph.ops:
        for i, (src, slot) in enumerate(zip(op.sources, op.slots)):
            if src is not None and src.is_op and src.step is None:
                readers.setdefault(src, []).append((op, i, slot))
    coloured = {}
    for op in reversed([o for o in graph.ops if o.step is None]):
        if op.grad is None:
            continue
        g = list(op.grad) if op.rec.multi else [op.grad]
        found = labels.get(op)
        if fully_labelled(found):
            parts = _cut(g, found, label_steps(found))
        else:
            parts = {}
            n = len(g)
            for reader, i, slot in readers.get(op, ()):
                if reader.step is not None:
                    sent = {reader.step: reader.grad}
                elif reader in coloured:
                    sent = coloured[reader]
                else:
                    sent = {None: reader.grad}
                for color, gc in sent.items():
                    _add(parts, color, slot, gradients.input_cotangent(reader.rec, gc, i), n)
            if op is graph.root or not parts:
                parts = {None: g}
            elif found is not None:
                parts = _recolor(parts, g, found)
        coloured[op] = {c: tuple(v) if op.rec.multi else v[0] for c, v in parts.items()}
    return coloured


def _recolor(parts, g, found):
    """Move the elements with a known label to that label's colour (partly labelled values)."""
    steps = label_steps(found)
    out = {}
    for color, value in parts.items():
        kept = [None if x is None else numpy.where(numpy.isfinite(a), 0, x)
                for x, a in zip(value, found)]
        out[color] = kept
    for t, cut in _cut(g, found, steps).items():
        for k, x in enumerate(cut):
            if x is not None:
                _add(out, t, k, x, len(g))
    return out
