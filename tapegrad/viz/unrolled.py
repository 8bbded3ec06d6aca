"""The unrolled view: one cluster per time step, time running left to right.

Each parameter is drawn once, with a use edge (or, for many uses, a bus of
short taps) to every operation that reads it.  For each focused parameter a
gradient rail runs above the steps: one node per time step holding that
step's term of ``dL/dW``, chained with ``+`` into ``W.grad``.  Operations are
coloured by the norm of the gradient of their output, on one log scale.
"""
from . import gradients, layout, rails
from .boxes import Box, assign, boundary_norm, op_summary, step_text
from .colors import LogScale, fmt
from .dot import Dot, Html
from .errors import DrawError
from .graph import Leaf, OpNode, ident
from .labels import colour_bar, esc, legend, op_label, shape_text, small
from .steps import select, step_range
from .style import EDGE_ATTRS, NODE_ATTRS, PARAM_FILL, RAIL_COLOR, USE_COLOR

GRAPH_ATTRS = {"rankdir": "LR", "newrank": "true", "fontname": "Helvetica", "fontsize": "11",
               "nodesep": "0.22", "ranksep": "0.3", "labelloc": "b", "labeljust": "l",
               "compound": "true"}


def uses_text(param):
    steps = sorted({u.step for u in param.uses if u.step is not None})
    n = len(param.uses)
    if not steps:
        return f"used {n}×" if n != 1 else "used once"
    if len(steps) <= 6 and steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 3:
        return f"used at t={steps[0]}..{steps[-1]}"
    if len(steps) <= 6:
        return "used at t=" + ",".join(str(s) for s in steps)
    return f"used {n}× (t={steps[0]}..{steps[-1]})"


def param_label(p):
    lines = [f"<B>{esc(p.name)}</B>  {small(esc(shape_text(p.shape)))}",
             small(esc(uses_text(p)))]
    if p.grad is not None:
        lines.append(small(esc(f"|grad| {fmt(gradients.norm(p.grad))}")))
    return Html("<BR/>".join(lines))


def render(graph, opts):
    """DOT source of the unrolled view."""
    drawn, runs = select(graph.steps(), opts.steps)
    boxes, box_of = assign(graph, opts, drawn, runs)
    consumers = {}
    for op in graph.ops:
        for s in op.sources:
            if isinstance(s, OpNode):
                consumers.setdefault(s, []).append(op)
    focus = rails.focus_params(graph, opts) if graph.has_grad else []
    terms_of = {p: rails.rail_terms(p, box_of, runs, drawn) for p in focus}

    # inputs (leaves without grad): inside a cluster when all their readers are there
    leaf_home = {}
    for leaf in graph.inputs:
        homes = {box_of[c].cluster if box_of[c].kind != "elided" else "elided"
                 for c in leaf.consumers}
        if homes == {"elided"}:
            continue
        leaf_home[leaf] = homes.pop() if len(homes) == 1 and "elided" not in homes else None

    # use targets per parameter (boxes, in tape order, once each)
    targets = {}
    for p in graph.params:
        seen = {}
        for u in p.uses:
            b = box_of[u.op]
            seen[b.id] = seen.get(b.id, 0) + 1
        targets[p] = seen
    n_nodes = (len(boxes) + len(leaf_home) + len(graph.params)
               + sum(len(ts) + 1 for ts in terms_of.values())
               + sum(len(t) for t in targets.values() if len(t) >= layout.BUS_MIN)
               + layout.bus_taps(graph, box_of))
    if n_nodes > opts.max_nodes:
        raise DrawError(
            f"draw: this drawing needs {n_nodes} nodes, more than max_nodes={opts.max_nodes}. "
            f"Draw fewer: collapse='step' (one box per time step), steps=6 (first and last "
            f"steps, the rest elided), view='rolled'; or raise max_nodes.")

    box_norm = {b: (b.ops[0].grad_norm if b.kind == "op"
                    else boundary_norm(b, box_of, consumers, graph.root)) for b in boxes}
    norms = list(box_norm.values()) + [t.norm for ts in terms_of.values() for t in ts]
    scale = LogScale(norms if opts.color_by else [])
    colour = (lambda n: scale.node_style(n)) if opts.color_by else (lambda n: {})

    dot = Dot("tapegrad_unrolled", graph=dict(GRAPH_ATTRS, label=_legend(
        graph, opts, scale, terms_of, drawn, runs, boxes)), node=NODE_ATTRS, edge=EDGE_ATTRS)

    dot.comment("parameters: each drawn once")
    for p in graph.params:
        dot.node(p.id, label=param_label(p), fillcolor=PARAM_FILL, peripheries="2")
    top_inputs = [leaf for leaf, home in leaf_home.items() if home is None]
    if top_inputs:
        dot.comment("inputs and constants")
    for leaf in top_inputs:
        _input_node(dot, leaf)

    root_box = box_of.get(graph.root) if graph.root is not None else None
    clusters = {}
    for b in boxes:
        clusters.setdefault(b.cluster, []).append(b)
    multi_family = len({op.family for op in graph.ops if op.family is not None}) > 1
    emitted = set()
    for b in boxes:
        if b.cluster is None or _is_whole_step(b, clusters, leaf_home):
            _box_node(dot, b, box_norm[b], colour, opts, b is root_box)
        elif b.cluster not in emitted:
            emitted.add(b.cluster)
            key = b.cluster
            title = step_text(key) if not multi_family else (
                "/".join(str(f) for f in key[:-1] + (key[-1].name,)) + f" · t = {key[-1].step}")
            cid = "cluster_" + ident("/".join(str(f) for f in key))
            with dot.subgraph(cid, label=title, style="rounded,dashed", color="gray55",
                              fontsize="12", labeljust="c"):
                for leaf, home in leaf_home.items():
                    if home == key:
                        _input_node(dot, leaf)
                for member in clusters[key]:
                    _box_node(dot, member, box_norm[member], colour, opts, member is root_box)

    dot.comment("data flow")
    edges = {}                 # (tail, head) -> output slots of the tail it carries
    for op in graph.ops:
        head = box_of[op]
        for src, slot in zip(op.sources, op.slots):
            if isinstance(src, OpNode):
                tail = box_of[src]
                if tail is not head:
                    edges.setdefault((tail, head), set()).add(slot)
            elif isinstance(src, Leaf) and src in leaf_home:
                edges.setdefault((src, head), set())
    ranks = {}
    fan_out, fan_in = layout.buses(edges)
    for (tail, head), slots in edges.items():
        if tail in fan_out or head in fan_in:
            continue
        attrs = {}
        if isinstance(tail, Box) and tail.cluster and head.cluster:
            attrs = {"weight": "8"}
            if tail.cluster != head.cluster:
                attrs["penwidth"] = "1.4"
        if isinstance(tail, Box) and tail.kind == "op" and len(slots) == 1 and min(slots) >= 0:
            attrs.update(taillabel=f"[{min(slots)}]", labelfontsize="8",
                         labelfontcolor="gray35")
        dot.edge(tail.id, head.id, **attrs)
    for tail, heads in fan_out.items():
        layout.bus(dot, tail.id, [h.id for h in heads], ranks, "gray40", "data", outward=True)
    for head, tails in fan_in.items():
        layout.bus(dot, head.id, [t.id for t in tails], ranks, "gray40", "data", outward=False)
    layout.keep_steps_apart(dot, clusters, leaf_home, edges)
    layout.spines(dot, clusters, edges)

    dot.comment("uses of parameters (dashed): each parameter is one tensor")
    for p in graph.params:
        _uses(dot, p, targets[p], ranks)
    for p, terms in terms_of.items():
        dot.comment(f"gradient rail: {p.name}.grad as the sum of its per-step terms")
        rails.draw_rail(dot, p, terms, scale, colour, ranks, root_box)
    for anchor, ids in ranks.items():
        dot.same_rank([anchor] + ids)
    return dot.source()


def _is_whole_step(box, clusters, leaf_home):
    """A collapsed box that is its step's only content needs no cluster around it."""
    return (box.kind == "group" and box.key[0] == box.cluster and len(clusters[box.cluster]) == 1
            and box.cluster not in leaf_home.values())


def _input_node(dot, leaf):
    dot.node(leaf.id, label=f"{leaf.name}  {shape_text(leaf.shape)}", shape="ellipse",
             fillcolor="gray93", fontsize="10")


def _box_node(dot, box, norm, colour, opts, is_root):
    style = colour(norm)
    if box.kind == "op":
        op = box.ops[0]
        label = op_label(op, opts.show, is_root)
        if "NaN" not in label and style.get("style", "").startswith("striped"):
            label = Html(label + "<BR/><B>NaN/Inf in grad</B>")
        attrs = dict(style)
        if is_root:
            attrs.setdefault("peripheries", "2")
        dot.node(box.id, label=label, **attrs)
        return
    if box.kind == "group":
        path = box.key[0]
        title = (step_text(path) if path[-1].step is not None else str(path[-1]))
        lines = [f"<B>{esc(title)}</B>"]
        lines += [small(esc(line)) for line in op_summary(box.ops)]
    else:
        family, run = box.key
        lines = [f"<B>⋯ {esc(step_range(*run))} ⋯</B>",
                 small(esc(f"{run[1] - run[0] + 1} steps, {len(box.ops)} ops not drawn"))]
    if "grad" in opts.show and norm is not None:
        lines.append(small(esc(f"|grad| out {fmt(norm)}")))
    attrs = dict(style)
    if box.kind == "elided":
        attrs["style"] = attrs.get("style", "rounded,filled") + ",dashed"
    dot.node(box.id, label=Html("<BR/>".join(lines)), **attrs)


def _uses(dot, p, targets, ranks):
    if len(targets) >= layout.BUS_MIN:
        layout.bus(dot, p.id, list(targets), ranks, USE_COLOR, "use", counts=targets)
        return
    for k, (box_id, count) in enumerate(targets.items()):
        dot.edge(p.id, box_id, label=f"×{count}" if count > 1 else None, fontcolor=USE_COLOR,
                 constraint="false" if k else None, style="dashed", color=USE_COLOR)


def _legend(graph, opts, scale, terms_of, drawn, runs, boxes):
    steps = graph.steps()
    head = f"<B>{esc(opts.title or opts.call_text())}</B>"
    if steps:
        shown = "all drawn" if not runs else f"{len(drawn)} drawn"
        head += esc(f"   {len(steps)} time steps ({shown})")
    if graph.root is not None and graph.root.value is not None and graph.root.value.size == 1:
        head += esc(f"   loss = {fmt(float(graph.root.value.reshape(-1)[0]))}")
    rows = [head]
    key = ('<FONT COLOR="gray25"><B>→</B></FONT> data   '
           f'<FONT COLOR="{USE_COLOR}"><B>⇢</B></FONT> use of a parameter (one tensor, drawn once)')
    if terms_of:
        key += (f'   <FONT COLOR="{RAIL_COLOR}"><B>→</B></FONT> gradient term '
                '(width ~ norm)')
    rows.append(key)
    if graph.has_grad and opts.color_by:
        rows.append('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>'
                    '<TD>fill: |grad| of each output, one log scale:  </TD>'
                    f'<TD>{colour_bar(scale)}</TD></TR></TABLE>')
    if terms_of:
        rows.append(esc("rail: ∂L/∂W is the sum of one term per use;  share = ⟨term, W.grad⟩"
                        " / |W.grad|²  (signed: shares sum to 100%, terms can cancel)"))
    others = [p for p in graph.shared_params() if p not in terms_of]
    for p in others:
        by_step = {}
        for u in p.uses:
            by_step[u.step] = by_step.get(u.step, 0.0) + (u.share or 0.0)
        items = [f"t={s} {100 * v:.0f}%" for s, v in by_step.items()]
        if len(items) > 8:
            items = items[:3] + ["…"] + items[-3:]
        rows.append(f"<I>{esc(p.name)}</I>" + esc(" (shared, no rail): " + "  ".join(items)))
    for run in runs:
        ops = sum(len(b.ops) for b in boxes if b.kind == "elided" and b.key[1] == run)
        rows.append(esc(f"{step_range(*run)} not drawn (steps={opts.steps!r}): "
                        f"{run[1] - run[0] + 1} steps, {ops} ops in one ⋯ node; its gradient "
                        f"terms stay in the rails, so the sums are complete"))
    if opts.collapse is not None:
        rows.append(esc(f"collapse={opts.collapse!r}: each box stands for the operations of "
                        f"one scope; |grad| out = norm of the gradients leaving it"))
    if graph.why_no_grad:
        rows.append(esc(graph.why_no_grad))
    return legend(rows)
