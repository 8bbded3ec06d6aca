"""The rolled view: the recurrent cell drawn once, and per-step gradient strips.

The operations of one time step stand for all steps (the steps whose
operation sequence is the most common); the recurrent edges carry a label
with how many steps they stand for.  Every parameter used inside the steps
is a table whose strip has one cell per time step, coloured by the norm of
that step's term of ``dL/dW`` on one log scale: a vanishing gradient shows as
a strip fading towards t=1, an exploding one as a strip darkening towards it.
"""
from collections import Counter

from . import gradients
from .colors import LogScale, fmt
from .dot import Dot, Html
from .graph import Leaf, OpNode, ident
from .labels import (colour_bar, esc, heading, input_attrs, legend, loss_fact, op_label,
                     param_label, prose, shape_text)
from .steps import step_range
from .style import EDGE_ATTRS, NODE_ATTRS, PARAM_FILL, RAIL_COLOR, USE_COLOR

GRAPH_ATTRS = {"rankdir": "TB", "newrank": "true", "fontname": "Helvetica", "fontsize": "11",
               "nodesep": "0.3", "ranksep": "0.35", "labelloc": "t", "labeljust": "l"}
SIGNIFICANT = 1e-3      # "contributes": a term at least this fraction of the largest


class Cell:
    """One step family (``rnn/l0``) rolled up: its representative step and the mapping."""

    def __init__(self, family, steps_ops):
        self.family = family
        signature = {k: tuple(op.name for op in ops) for k, ops in steps_ops.items()}
        common = Counter(signature.values()).most_common(1)[0][0]
        self.keys = sorted(steps_ops, key=lambda k: k[-1].step)
        self.matching = [k for k in self.keys if signature[k] == common]
        self.others = [k for k in self.keys if signature[k] != common]
        self.rep_key = self.matching[-1]
        self.ops = steps_ops[self.rep_key]
        self.rep = {}
        for k in self.matching:
            for op, rep in zip(steps_ops[k], self.ops):
                self.rep[op] = rep
        self.first = self.keys[0][-1].step
        self.last = self.keys[-1][-1].step

    @property
    def id(self):
        return "cluster_cell_" + ident(self.family)

    def matching_text(self):
        """``t=2..100``, or ``99 of 100 steps`` when the matching steps are not a run."""
        steps = [k[-1].step for k in self.matching]
        if steps == list(range(steps[0], steps[-1] + 1)):
            return step_range(steps[0], steps[-1])
        return f"{len(steps)} of {len(self.keys)} steps"


def build_cells(graph):
    """One `Cell` per step family, from the operations that carry a time step."""
    families = {}
    for op in graph.ops:
        if op.step_key is not None:
            families.setdefault(op.family, {}).setdefault(op.step_key, []).append(op)
    return [Cell(f, steps) for f, steps in families.items()]


def step_norms(param):
    """{step: norm of the summed terms of that step} for uses inside steps, in step order."""
    sums = {}
    for u in param.uses:
        if u.step is not None and u.value is not None:
            sums[u.step] = u.value if u.step not in sums else sums[u.step] + u.value
    return {s: gradients.norm(v) for s, v in sorted(sums.items())}


def tick_every(n):
    """The step between tick labels under a strip of ``n`` cells: at most about ten ticks."""
    for k in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if n / k <= 10:
            return k
    return max(1, n // 10)


def strip(norms, first, last, scale):
    """A row of cells, one per step first..last, coloured by norm, with tick labels."""
    n = last - first + 1
    width = max(3, min(14, 640 // n))
    fills = [scale.fill(norms[t]) if t in norms else "white" for t in range(first, last + 1)]
    cells = "".join(f'<TD BGCOLOR="{fill}" WIDTH="{width}" HEIGHT="16" FIXEDSIZE="TRUE"></TD>'
                    for fill in fills)
    every = tick_every(n)
    ticks, t = [], first
    while t <= last:
        span = min(every, last - t + 1)
        ticks.append(f'<TD COLSPAN="{span}" ALIGN="LEFT"><FONT POINT-SIZE="8">{t}</FONT></TD>')
        t += span
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
            f'<TR>{cells}</TR><TR>{"".join(ticks)}</TR></TABLE>')


def verdict(norms):
    """One sentence on how the per-step terms change going back in time."""
    finite = {s: v for s, v in norms.items() if v == v and v != float("inf")}
    if len(finite) != len(norms):
        bad = [s for s in norms if s not in finite]
        return f"NaN/Inf in the terms of t={bad[0]}" + (" and more" if len(bad) > 1 else "")
    if not finite or max(finite.values()) == 0:
        return "every term is zero"
    top = max(finite.values())
    steps = sorted(finite)
    big = [s for s in steps if finite[s] >= SIGNIFICANT * top]
    peak = max(steps, key=lambda s: finite[s])
    if peak == steps[0] and finite[steps[-1]] < SIGNIFICANT * top:
        return (f"terms grow going back in time (largest at t={peak}): the gradient explodes "
                f"through the recurrence")
    if big[0] > steps[0]:
        return (f"only t ≥ {big[0]} contribute more than {100 * SIGNIFICANT:g}% of the largest "
                f"term (t={peak}): the gradient vanishes going back in time")
    return f"every step contributes at least {100 * SIGNIFICANT:g}% of the largest term"


def samples(norms):
    """``t=100: 0.3,  t=90: ...``: a few per-step norms (last, ten before, middle, first)."""
    steps = list(norms)
    picks = [steps[-1]]
    for s in (steps[-1] - 10, steps[len(steps) // 2], steps[0]):
        if s in norms and s not in picks:
            picks.append(s)
    return ",  ".join(f"t={s}: {fmt(norms[s])}" for s in picks)


def param_table(p, norms, cell, scale):
    uses = len(p.uses)
    total = fmt(gradients.norm(p.grad)) if p.grad is not None else "–"
    steps = list(norms)
    over = step_range(steps[0], steps[-1]) if steps else "no step"
    head = (f"<B>{esc(p.name)}</B> {esc(shape_text(p.shape))}: one tensor, {uses} uses. "
            f"{esc(p.short)}.grad = Σ of the terms of {esc(over)}, norm {esc(total)}")
    info = (esc("per-step term norm, one log scale:  " + samples(norms)) + '<BR ALIGN="LEFT"/>'
            + esc(verdict(norms)))
    return Html('<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
                f'<TR><TD BGCOLOR="{PARAM_FILL}" ALIGN="LEFT">{head}</TD></TR>'
                f'<TR><TD>{strip(norms, cell.first, cell.last, scale)}</TD></TR>'
                f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="10">{info}</FONT></TD></TR></TABLE>')


def render(graph, opts):
    """The rolled view, as a `Dot`."""
    cells = build_cells(graph)
    cell_of = {}
    for c in cells:
        for op in c.ops:
            cell_of[op] = c

    def node_of(op):
        """The drawn node an operation maps to (None: a step drawn by no node)."""
        if op.step_key is None:
            return op
        for c in cells:
            if op.family == c.family:
                return c.rep.get(op)
        return None

    strip_params = [p for p in graph.params if graph.has_grad and any(u.step for u in p.uses)]
    norms = {p: step_norms(p) for p in strip_params}
    outside = [op for op in graph.ops if op.step_key is None]
    all_norms = [v for ns in norms.values() for v in ns.values()]
    scale = LogScale(all_norms)     # the strips are the data: coloured even with color_by=None

    dot = Dot("tapegrad_rolled", graph=dict(GRAPH_ATTRS, label=_legend(graph, opts, cells,
                                                                        scale)),
              node=NODE_ATTRS, edge=EDGE_ATTRS)
    for p in graph.params:
        if p in norms:
            dot.node(p.id, shape="plaintext", style="", label=param_table(
                p, norms[p], _cell_for_param(p, cells), scale))
        else:
            dot.node(p.id, label=param_label(p), fillcolor=PARAM_FILL, peripheries="2")
    group_of = {}
    for gid, leaves in per_step_inputs(graph, node_of).items():
        group_of.update((leaf, gid) for leaf in leaves)
        dot.node(gid, **per_step_input_attrs(leaves))
    for leaf in graph.inputs:
        if leaf not in group_of:
            dot.node(leaf.id, **input_attrs(leaf))
    for op in outside:
        dot.node(op.id, label=op_label(op, opts.show, op is graph.root))
    for c in cells:
        title = f"{c.family} cell, rolled: these operations ran at {c.matching_text()}"
        with dot.subgraph(c.id, label=title, style="rounded,dashed", color="gray55",
                          fontsize="12"):
            for op in c.ops:
                dot.node(op.id, label=op_label(op, tuple(s for s in opts.show if s != "grad")))

    edges = {}
    sent_from = {}          # recurrent edge -> the steps whose value it carries onward
    for op in graph.ops:
        head = node_of(op)
        if head is None:
            continue
        for src in op.sources:
            if isinstance(src, OpNode):
                tail = node_of(src)
                if tail is None:
                    continue
                recurrent = src.step_key != op.step_key and src.family == op.family \
                    and op.family is not None
                key = (tail.id, head.id, recurrent)
                if recurrent:
                    sent_from.setdefault(key, set()).add(src.step)
            elif isinstance(src, Leaf):
                key = (group_of.get(src, src.id), head.id, "use" if src.is_param else False)
            else:
                continue
            edges[key] = edges.get(key, 0) + 1
    cell_ids = {op.id for c in cells for op in c.ops}
    for (tail, head, kind), count in edges.items():
        many = f" ×{count}" if count > 1 else ""
        if kind == "use":
            dot.edge(tail, head, style="dashed", color=USE_COLOR, fontcolor=USE_COLOR,
                     label=f" used{many}" if many else None)
            if head in cell_ids and count > 1:
                dot.edge(head, tail, color=RAIL_COLOR, fontcolor=RAIL_COLOR, penwidth="2",
                         label=f" {count} terms, summed", constraint="false")
        elif kind:
            steps = sent_from[(tail, head, kind)]
            dot.edge(tail, head, label=f" t → t+1, for {step_range(min(steps), max(steps))}",
                     color="gray15", constraint="false", penwidth="1.4")
        else:
            inside = tail in cell_ids and head in cell_ids
            dot.edge(tail, head, label=None if inside else many or None)
    return dot


def per_step_inputs(graph, node_of):
    """{node id: input leaves} for inputs that feed one drawn operation at one step each.

    A loop that indexes its sequence at each step (``x[t]`` of a tensor that
    does not require grad) makes a new input leaf per step; rolled, they all
    feed the one drawn cell, so they are drawn as one node standing for the
    sequence instead of a row of one node per step.  The input of a step the
    cell does not show (t=1 without a recurrent product) joins its group.
    """
    groups, hidden = {}, []
    for leaf in graph.inputs:
        readers = leaf.consumers
        if not readers or any(op.step_key is None for op in readers):
            continue
        drawn = [(node_of(op), i) for op in readers for i, src in enumerate(op.sources)
                 if src is leaf]
        if all(rep is None for rep, _ in drawn):
            hidden.append(leaf)
        elif all(rep is not None for rep, _ in drawn):
            key = (frozenset((rep.id, i) for rep, i in drawn), leaf.shape)
            groups.setdefault(key, []).append(leaf)
    groups = {key: leaves for key, leaves in groups.items() if len(leaves) > 1}
    for leaf in hidden:
        family = {op.family for op in leaf.consumers}
        homes = [leaves for leaves in groups.values() if leaves[0].shape == leaf.shape
                 and {op.family for op in leaves[0].consumers} == family]
        if len(homes) == 1:
            homes[0].append(leaf)
    order = {leaf: i for i, leaf in enumerate(graph.inputs)}
    return {"stepinput_" + ident("_".join(sorted(f"{rid}_{i}" for rid, i in key))):
            sorted(leaves, key=order.__getitem__) for (key, _), leaves in groups.items()}


def per_step_input_attrs(leaves):
    """One input node standing for all the per-step inputs of a group:
    ``in0 … in99  (1, 3): one per step, 100 in all``."""
    attrs = input_attrs(leaves[0])
    attrs["label"] = (f"{leaves[0].name} … {leaves[-1].name}  {shape_text(leaves[0].shape)}: "
                      f"one per step, {len(leaves)} in all")
    return attrs


def _cell_for_param(p, cells):
    for u in p.uses:
        for c in cells:
            if u.op is not None and u.op.family == c.family:
                return c
    return cells[0]


def _legend(graph, opts, cells, scale):
    steps = graph.steps()
    facts = [f"{len(steps)} time steps"] if steps else []
    rows = [heading(opts, facts + loss_fact(graph))]
    if not scale.empty:
        rows.append(colour_bar(scale, "strips: gradient norm, one log scale:"))
        rows.append(prose("operations are not filled here: the strips carry the gradient norms "
                          "(white cell: the parameter is not used at that step)"))
    for c in cells:
        if c.others:
            listed = ", ".join(f"t={k[-1].step}" for k in c.others[:4])
            more = " …" if len(c.others) > 4 else ""
            rows.append(prose(f"{c.family}: {listed}{more} ran another sequence of operations "
                              f"(e.g. no recurrent product from a zero initial state); the cell "
                              f"shows t={c.rep_key[-1].step}, the strips count every step"))
    if graph.why_no_grad:
        rows.append(prose(graph.why_no_grad))
    return legend(rows)
