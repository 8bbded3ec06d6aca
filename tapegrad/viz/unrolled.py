"""The unrolled view, drawn as the textbooks draw an RNN.

Time runs left to right, one dashed cluster per step; inside a step the
data flows upwards: the input x_t at the bottom, the state in the middle,
the output y_t and the loss terms at the top.  Long sequences fold into rows
of steps (`tapegrad.viz.fold`), so the drawing keeps a page's shape.

Operations that ``nn`` batches over all steps (the input projection before
the loop, a read-out after it) are drawn in every step as that step's rows
(`tapegrad.viz.rows` finds which rows belong to which step), so every
shared parameter shows one use per step.  Each parameter is one node, and
its uses carry its colour; a focused parameter (by default every weight
shared across steps) gets a gradient rail: one term per step, chained with
``+`` into ``W.grad``.  Operations are filled by the norm of the gradient of
their output, on one log scale.
"""
from . import fold, gradients, rails
from .boxes import assign, boundary_norm, op_summary, step_text
from .colors import LogScale, fmt
from .dot import Dot, Html
from .labels import (colour_bar, esc, heading, input_attrs, legend, loss_fact, op_label,
                     op_text, param_label, prose, shape_text, small)
from .rails import percent
from .steps import select, step_range
from .style import EDGE_ATTRS, NODE_ATTRS, PARAM_COLORS, PARAM_FILL, RAIL_COLOR

GRAPH_ATTRS = {"rankdir": "BT", "newrank": "true", "fontname": "Helvetica", "fontsize": "12",
               "nodesep": "0.18", "ranksep": "0.22", "labelloc": "b", "labeljust": "l",
               "compound": "true"}


def render(graph, opts):
    """The unrolled view, as a `tapegrad.viz.dot.Dot` (with ``meta`` for the page)."""
    drawn, runs = select(graph.steps(), opts.steps)
    boxes, box_of = assign(graph, opts, drawn, runs)
    view = fold.Unrolled(graph, boxes, box_of, drawn, runs)
    focus = rails.focus_params(graph, opts) if graph.has_grad else []
    colour_of = {p: PARAM_COLORS[k % len(PARAM_COLORS)] for k, p in enumerate(graph.params)}
    terms_of = {p: rails.rail_terms(p, view) for p in focus}

    norms = {b: _box_norm(b, view, graph) for b in view.boxes}
    all_norms = list(norms.values()) + [t.norm for ts in terms_of.values() for t in ts]
    scale = LogScale(all_norms if opts.color_by else [])

    dot = Dot("tapegrad_unrolled", graph=dict(GRAPH_ATTRS, label=_legend(
        graph, opts, scale, terms_of, drawn, runs, view, colour_of)), node=NODE_ATTRS,
        edge=EDGE_ATTRS)
    dot.comment("parameters: each drawn once; its uses carry its colour")
    for p in graph.params:
        dot.node(p.id, **_param_attrs(p, colour_of[p]))
        dot.meta[p.id] = _param_meta(p, view, terms_of.get(p))
    for leaf in view.outside_inputs:
        dot.node(leaf.id, **input_attrs(leaf))

    uses_at = view.param_uses()
    for column in view.columns:
        with dot.subgraph(column.cluster_id, label=column.title, style="rounded,dashed",
                          color="gray55", fontsize="13", labeljust="c"):
            for node_id, leaf in column.inputs:
                dot.node(node_id, **dict(input_attrs(leaf), label=f"{leaf.name} rows of "
                                         f"t={column.order[0]}"))
            for box in column.boxes:
                _box_node(dot, box, view, norms[box], scale, opts, box is view.root_box,
                          uses_at.get(box, ()), colour_of, focus)
            for p in terms_of:
                for term in terms_of[p]:
                    if term.column is column:
                        rails.term_node(dot, p, term, scale, opts)
    for box in view.outside_boxes:
        _box_node(dot, box, view, norms[box], scale, opts, box is view.root_box,
                  uses_at.get(box, ()), colour_of, focus)
    for p, terms in terms_of.items():
        rails.sum_node(dot, p, terms)

    dot.comment("data flow (edges between columns do not set the layout: time runs sideways)")
    for tail, head, sideways in view.edges():
        dot.edge(tail, head, constraint="false" if sideways else None,
                 penwidth="1.4" if sideways else None)
    for p, terms in terms_of.items():
        dot.comment(f"gradient rail: {p.name}.grad as the sum of its per-step terms")
        rails.rail_edges(dot, p, terms, scale)
    rails.stack_terms(dot, terms_of)
    fold.arrange(dot, view, [(t.anchor, t.id) for ts in terms_of.values() for t in ts
                             if t.anchor is not None and t.column is not None],
                 [rails.sum_id(p) for p in terms_of])
    return dot


def _box_norm(box, view, graph):
    if box.kind == "op":
        return box.ops[0].grad_norm
    return boundary_norm(box, view.box_of, view.readers, graph.root)


def _box_node(dot, box, view, norm, scale, opts, is_root, uses, colour_of, focus):
    """One box; a box that uses a parameter gets its colour as border (focused ones thick)."""
    attrs = dict(scale.node_style(norm)) if opts.color_by else {}
    if box.kind == "op":
        op = box.ops[0]
        lines = [op_label(op, opts.show, is_root)]
        if is_root:
            attrs.setdefault("peripheries", "2")
    elif box.kind == "rows":
        lines = [f"<B>{esc(op_text(box.ops[0]))}</B>"]
        lines += [small(esc(op_text(op))) for op in box.ops[1:]]
        if "shape" in opts.show:
            lines.append(small(esc(shape_text(view.row_shape(box)))))
        lines.append(small(f"<I>{esc(view.rows_note(box))}</I>"))
    elif box.kind == "group":
        path = box.key[0]
        title = (step_text(path) if path[-1].step is not None else str(path[-1]))
        lines = [f"<B>{esc(title)}</B>"] + [small(esc(x)) for x in op_summary(box.ops)]
    else:
        family, run = box.key
        lines = [f"<B>⋯ {esc(step_range(*run))} ⋯</B>",
                 small(esc(f"{run[1] - run[0] + 1} steps, {len(box.ops)} ops not drawn"))]
        attrs["style"] = attrs.get("style", "rounded,filled") + ",dashed"
    if box.kind not in ("op", "rows") and "grad" in opts.show and norm is not None:
        lines.append(small(esc(f"|grad| out {fmt(norm)}")))
    if uses:
        mine = [p for p in uses if p in focus] or list(uses)
        attrs["color"] = colour_of[mine[0]]
        attrs["penwidth"] = "3" if mine[0] in focus else "2"
    dot.node(box.id, label=Html("<BR/>".join(lines)), **attrs)
    dot.meta[box.id] = view.box_meta(box, norm, uses)


def _param_attrs(p, colour):
    return {"label": param_label(p), "fillcolor": PARAM_FILL, "color": colour,
            "penwidth": "3", "peripheries": "2"}


def _param_meta(p, view, terms):
    return {"kind": "param", "name": p.name, "shape": shape_text(p.shape),
            "grad": gradients.norm(p.grad) if p.grad is not None else None,
            "uses": view.use_box_ids(p), "terms": [t.id for t in terms or ()]}


def _legend(graph, opts, scale, terms_of, drawn, runs, view, colour_of):
    steps = graph.steps()
    facts = []
    if steps:
        facts.append(f"{len(steps)} time steps ({'all drawn' if not runs else f'{len(drawn)} drawn'})")
    rows = [heading(opts, facts + loss_fact(graph))]
    key = ('<B>↑</B> data (time runs left to right; inside a step: input at the bottom, '
           'state in the middle, output at the top)')
    rows.append(key)
    if graph.params:
        rows.append(esc("border colour: the parameter the box uses (thick: it has a rail):  ")
                    + "  ".join(f'<FONT COLOR="{colour_of[p]}"><B>■ {esc(p.name)}</B></FONT>'
                                for p in graph.params))
    if graph.has_grad and opts.color_by:
        rows.append(colour_bar(scale, "fill: |grad| of each output, one log scale:"))
    if terms_of:
        rows.append(f'<FONT COLOR="{RAIL_COLOR}"><B>→</B></FONT> ' + prose(
            "rail: ∂L/∂W is the sum of one term per step;  share = ⟨term, W.grad⟩ / "
            "|W.grad|²  (signed: shares sum to 100%, terms can cancel)"))
    for note in view.batched_notes():
        rows.append(prose(note))
    for p, steps_missing in view.unused_steps(terms_of).items():
        rows.append(prose(f"{p.name} is not used at {', '.join(f't={s}' for s in steps_missing)}"
                          f" (e.g. a zero initial state is not multiplied): its term there is 0"))
    others = [p for p in graph.shared_params() if p not in terms_of]
    for p in others:
        by_step = {}
        for u in p.uses:
            by_step[u.step] = by_step.get(u.step, 0.0) + (u.share or 0.0)
        items = [f"t={s} {percent(v)}" for s, v in by_step.items()]
        if len(items) > 8:
            items = items[:3] + ["…"] + items[-3:]
        rows.append(f"<I>{esc(p.name)}</I>" + esc(" (shared, no rail): " + "  ".join(items)))
    for run in runs:
        ops = sum(len(b.ops) for b in view.boxes if b.kind == "elided" and b.key[1] == run)
        rows.append(prose(f"{step_range(*run)} not drawn (steps={opts.steps!r}): "
                          f"{run[1] - run[0] + 1} steps, {ops} ops in one ⋯ node; its gradient "
                          f"terms stay in the rails, so the sums are complete"))
    if opts.collapse is not None:
        rows.append(prose(f"collapse={opts.collapse!r}: each box stands for the operations of "
                          f"one scope; |grad| out = norm of the gradients leaving it"))
    if graph.why_no_grad:
        rows.append(prose(graph.why_no_grad))
    return legend(rows)
