"""The graph model: what the tape recorded, as nodes and edges, before any drawing.

`extract` walks the records behind a root tensor (iteratively, no
recursion) or takes a `Tape`'s records, orders them by tape
index, and computes the gradient facts the views colour by.  Rendering is
elsewhere (``unrolled.py``, ``rolled.py``, ``tapeview.py``); this module knows
nothing about DOT.

Parameter views -- ``W.T`` or a reshape of a parameter, e.g. computed once
before the time loop as the ``nn`` layers do for ``weight_hh`` -- are folded
into their parameter: the operations that use the view count as uses of the
parameter, so its gradient still splits per time step.
"""
import re

import numpy

from ..tape import Tape
from ..tensor import TENSOR_TYPES
from . import gradients, rows
from .errors import DrawError

#: Single-input operations whose output is just the parameter re-laid-out.
VIEW_OPS = {"permute": "ᵀ", "reshape": "", "cast": "", "broadcast_to": ""}


def ident(text):
    """``rnn.weight_hh_l0`` -> ``rnn_weight_hh_l0``: a readable DOT id fragment."""
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_") or "x"


class Leaf:
    """A tensor without a record: a parameter (requires grad) or an input/constant."""

    is_op = False

    def __init__(self, tensor, name, node_id, is_param):
        self.tensor = tensor
        self.name = name
        self.id = node_id
        self.is_param = is_param
        self.uses = []          # Use objects, tape order (parameters only)
        self.consumers = []     # OpNodes that read it, tape order, each once
        self.grad = None        # total gradient (parameters, when the root is a loss)

    @property
    def short(self):
        """Last dotted component (``weight_hh_l0``), for operation labels."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def shape(self):
        return tuple(self.tensor.shape)


class Use:
    """One use of a parameter by one operation, and the gradient term it sends back.

    ``step`` is the operation's time step; for an operation outside the steps
    that computes rows of several steps at once (a batched product), there is
    one Use per step, each holding the term of that step's rows.  A
    parameter shared across steps but not used at some step (the recurrent
    weight at t=1 when the initial state is zero, which is not multiplied) gets
    a Use with ``op`` None there: its term is exactly zero.
    """

    __slots__ = ("op", "position", "step", "value", "norm", "share")

    def __init__(self, op, position, step):
        self.op = op
        self.position = position
        self.step = step
        self.value = None
        self.norm = None
        self.share = None


class OpNode:
    """One recorded operation (not a parameter view)."""

    is_op = True

    def __init__(self, rec, pos):
        self.rec = rec
        self.pos = pos                         # position in the drawing's tape order
        self.name = rec.op.name
        self.id = f"op_{pos}_{ident(self.name)}"
        frames = tuple(rec.scope)
        self.frames = frames
        k = max((i for i, f in enumerate(frames) if f.step is not None), default=None)
        self.step = None if k is None else frames[k].step
        self.step_key = None if k is None else frames[:k + 1]
        self.family = None if k is None else "/".join(str(f) for f in frames[:k]) + (
            "/" if k else "") + frames[k].name
        self.sources = []      # per input: OpNode, Leaf or None (a constant)
        self.marks = []        # per input: "ᵀ" when a parameter is read through a transpose
        self.slots = []        # per input: output slot of the source op (-1 single)
        self.grad = None       # cotangent of the output (a tuple for multi-output ops)
        self.grad_norm = None
        outs = rec.out if rec.multi else (rec.out,)
        self.shapes = [tuple(o.shape) for o in outs]
        self.value = rec.out if not rec.multi else None

    @property
    def scope_path(self):
        return self.rec.scope_path


class Graph:
    """Operations in tape order, the leaves they read, and the gradient facts."""

    def __init__(self, records, root):
        self.view_of = {}       # view record -> Leaf it re-lays-out
        self.ops = []
        self.params = []
        self.inputs = []
        self._leaf = {}         # id(tensor) -> Leaf
        self._op = {}           # record -> OpNode
        self._build(records)
        self.root = self._op.get(root._record) if root is not None else None
        self.has_grad = False
        self.why_no_grad = None
        self.labels = rows.step_labels(self)   # value outside the steps -> step of each element

    # ------------------------------------------------------------- structure
    def _leaf_for(self, t):
        leaf = self._leaf.get(id(t))
        if leaf is None:
            if t.requires_grad:
                name = t.name or f"p{len(self.params)}"
                leaf = Leaf(t, name, f"param_{ident(name)}", True)
                self.params.append(leaf)
            else:
                name = t.name or f"in{len(self.inputs)}"
                leaf = Leaf(t, name, f"input_{ident(name)}", False)
                self.inputs.append(leaf)
            self._leaf[id(t)] = leaf
        return leaf

    def _is_view(self, rec):
        if rec.op.name not in VIEW_OPS or len(rec.inputs) != 1 or rec.multi:
            return False
        a = rec.inputs[0]
        return type(a) in TENSOR_TYPES and (
            (a._record is None and a.requires_grad) or a._record in self.view_of)

    def _build(self, records):
        for rec in records:
            if self._is_view(rec):
                a = rec.inputs[0]
                leaf = self._leaf_for(a) if a._record is None else self.view_of[a._record]
                self.view_of[rec] = leaf
                continue
            node = OpNode(rec, len(self.ops))
            self.ops.append(node)
            self._op[rec] = node
            for i, a in enumerate(rec.inputs):
                src, slot, mark = None, -1, ""
                if type(a) in TENSOR_TYPES:
                    r = a._record
                    if r is None:
                        src = self._leaf_for(a)
                    elif r in self.view_of:
                        src, mark = self.view_of[r], VIEW_OPS[r.op.name]
                    else:
                        src, slot = self._op.get(r), (a._slot if r.multi else -1)
                    if isinstance(src, Leaf):
                        if not src.consumers or src.consumers[-1] is not node:
                            src.consumers.append(node)
                        if src.is_param and rec.needs[i]:
                            src.uses.append(Use(node, i, node.step))
                node.sources.append(src)
                node.slots.append(slot)
                node.marks.append(mark)

    # --------------------------------------------------------------- queries
    def find_params(self, names):
        """The parameters named (full dotted name, or a unique last part of it)."""
        found = []
        for name in names:
            exact = [p for p in self.params if p.name == name]
            hits = exact or [p for p in self.params if p.name.endswith("." + name)
                             or p.short == name]
            if len(hits) != 1:
                known = ", ".join(p.name for p in self.params) or "none"
                what = "no parameter" if not hits else f"{len(hits)} parameters"
                raise DrawError(f"focus/ledger: {what} named {name!r} in this graph; its "
                                f"parameters are: {known}.")
            found.append(hits[0])
        return found

    def steps(self):
        """Every time step that occurs, sorted."""
        return sorted({op.step for op in self.ops if op.step is not None})

    def shared_params(self):
        """Parameters used by operations in two or more time steps."""
        return [p for p in self.params if len({u.step for u in p.uses if u.step}) >= 2]

    def recurrent_params(self):
        """Parameters whose use also reads a value made in an earlier step (W_hh)."""
        found = []
        for p in self.params:
            for u in p.uses:
                if u.step is None or u.op is None:
                    continue
                if any(isinstance(s, OpNode) and s.step is not None and s.step_key != u.op.step_key
                       and s.family == u.op.family for s in u.op.sources):
                    found.append(p)
                    break
        return found


def parameter_expression(op):
    """An operation outside the steps on parameters and constants only (``b_ih + b_hh``,
    made once before the loop): drawn as an operand of the operations that read it."""
    return op.step is None and all(s is None or (not s.is_op and s.is_param)
                                   for s in op.sources)


def _records_behind(root):
    """Every record the root depends on, in tape order (iterative walk)."""
    seen = {}
    stack = [root._record]
    while stack:
        rec = stack.pop()
        if rec is None or id(rec) in seen:
            continue
        seen[id(rec)] = rec
        if rec.inputs is None:
            continue
        for a in rec.inputs:
            if type(a) in TENSOR_TYPES and a._record is not None:
                stack.append(a._record)
    return sorted(seen.values(), key=lambda r: r.index)


def _released_error(rec):
    return DrawError(
        f"draw: the graph was released by backward(): {rec.op.name} (recorded at {rec.site}) "
        f"no longer holds its saved values. Call draw(loss) before loss.backward(), or call "
        f"loss.backward(retain_graph=True).")


def extract(root):
    """The `Graph` behind ``root`` (a tensor, usually the loss, or a ``Tape``)."""
    if isinstance(root, Tape):
        records = sorted(root.records, key=lambda r: r.index)
        if not records:
            raise DrawError("draw: the tape is empty; record some operations inside "
                            "`with tapegrad.Tape() as tape:` first.")
        last = records[-1]
        tensor = None
        if not last.released and not last.multi:
            tensor = gradients.output_proxies([last])[0]
    elif type(root) in TENSOR_TYPES:
        if root._record is None:
            raise DrawError(f"draw: the tensor (shape {tuple(root.shape)}) has no recorded "
                            f"history: it is a leaf. Pass the result of a computation on "
                            f"tensors with requires_grad=True (e.g. the loss).")
        records = _records_behind(root)
        tensor = root
    else:
        raise DrawError(f"draw: expected a Tensor (e.g. the loss) or a tapegrad.Tape, got "
                        f"{type(root).__name__}.")
    for rec in records:
        if rec.released:
            raise _released_error(rec)
    graph = Graph(records, tensor)
    _add_gradients(graph, tensor)
    return graph


def _add_gradients(graph, root):
    if root is None or root.data.size != 1:
        shape = None if root is None else tuple(root.shape)
        graph.why_no_grad = (f"no gradients shown: the root has shape {shape}, not one element"
                             if root is not None else "no gradients shown: no root tensor")
        return
    params = [p.tensor for p in graph.params]
    records = [op.rec for op in graph.ops]
    by_record, totals = gradients.cotangents(root, records, params)
    for op in graph.ops:
        op.grad = by_record.get(op.rec)
        op.grad_norm = gradients.norm_of(op.grad)
    coloured = rows.split_cotangents(graph, graph.labels)
    for p in graph.params:
        p.grad = totals.get(p.tensor)
        if p.grad is None:
            p.grad = numpy.zeros(p.shape, dtype=p.tensor.dtype)
        uses = []
        for u in p.uses:
            parts = coloured.get(u.op, {None: u.op.grad}) if u.op.step is None else {
                u.step: u.op.grad}
            for step, g in parts.items():
                c = gradients.input_cotangent(u.op.rec, g, u.position)
                use = Use(u.op, u.position, step)
                use.value = _through_views(graph, u.op.rec.inputs[u.position], c)
                use.norm = gradients.norm(use.value)
                use.share = gradients.signed_share(use.value, p.grad)
                uses.append(use)
        p.uses = uses
    steps = graph.steps()
    for p in dict.fromkeys(graph.shared_params() + graph.recurrent_params()):
        used = {u.step for u in p.uses}
        for s in steps:
            if s not in used:
                zero = Use(None, None, s)
                zero.value = numpy.zeros(p.shape, dtype=p.grad.dtype)
                zero.norm, zero.share = 0.0, 0.0
                p.uses.append(zero)
        p.uses.sort(key=lambda u: (u.step is None, u.step or 0))
    graph.has_grad = True


def _through_views(graph, tensor, c):
    """Carry a cotangent for a parameter view back to the parameter itself (iteratively)."""
    rec = tensor._record
    while rec is not None and rec in graph.view_of:
        c = gradients.input_cotangent(rec, c, 0)
        rec = rec.inputs[0]._record
    return c
