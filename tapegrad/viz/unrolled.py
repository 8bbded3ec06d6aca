"""The unrolled view: one cluster per time step, time running left to right.

Each parameter is drawn once.  A focused parameter (by default the recurrent
weight) hangs on a bus with a tap to every use, and gets a gradient rail: one
node per time step holding that step's term of ``dL/dW``, chained with ``+``
into ``W.grad``.  Another parameter used once has an edge to its use; one
shared across steps but not in focus is named by the boxes that use it.  The
recurrent state runs on straight lanes (``layout.py``); a box that feeds or
collects every step is joined to them by connector labels.  Operations are
coloured by the norm of the gradient of their output, on one log scale.
"""
from . import layout, rails
from .boxes import Box, assign, boundary_norm, op_summary, step_text
from .colors import LogScale, fmt
from .dot import Dot, Html
from .graph import Leaf, OpNode, ident
from .labels import (colour_bar, display_name, esc, heading, input_attrs, legend, loss_fact,
                     op_label, param_label, prose, small)
from .rails import percent
from .steps import select, step_range
from .style import EDGE_ATTRS, NODE_ATTRS, PARAM_FILL, RAIL_COLOR, USE_COLOR

GRAPH_ATTRS = {"rankdir": "LR", "newrank": "true", "fontname": "Helvetica", "fontsize": "11",
               "nodesep": "0.22", "ranksep": "0.3", "labelloc": "b", "labeljust": "l"}


def render(graph, opts):
    """The unrolled view, as a `Dot`."""
    drawn, runs = select(graph.steps(), opts.steps)
    boxes, box_of = assign(graph, opts, drawn, runs)
    consumers = {}
    for op in graph.ops:
        for s in op.sources:
            if isinstance(s, OpNode):
                consumers.setdefault(s, []).append(op)
    focus = rails.focus_params(graph, opts) if graph.has_grad else []
    terms_of = {p: rails.rail_terms(p, box_of, runs, drawn) for p in focus}
    leaf_home = _leaf_homes(graph, box_of)
    targets = {p: _use_targets(p, box_of) for p in graph.params}
    edges = _data_edges(graph, box_of, leaf_home)
    fan_out, fan_in = layout.fans(edges)
    notes = _connector_notes(fan_out, fan_in, edges, runs)

    box_norm = {b: (b.ops[0].grad_norm if b.kind == "op"
                    else boundary_norm(b, box_of, consumers, graph.root)) for b in boxes}
    norms = list(box_norm.values()) + [t.norm for ts in terms_of.values() for t in ts]
    scale = LogScale(norms if opts.color_by else [])
    colour = (lambda n: scale.node_style(n)) if opts.color_by else (lambda n: {})

    dot = Dot("tapegrad_unrolled", graph=dict(GRAPH_ATTRS, label=_legend(
        graph, opts, scale, terms_of, drawn, runs, boxes, bool(notes))), node=NODE_ATTRS,
        edge=EDGE_ATTRS)
    root_box = box_of.get(graph.root) if graph.root is not None else None
    ranks = {}
    bussed = [p for p in terms_of if len(targets[p]) >= layout.BUS_MIN]
    hidden = [p for p in graph.params if p not in terms_of and len(targets[p]) > 1]
    # A box alone on its rank (a collapsed step, an elision) has room for one bus tap on
    # one side and one rail term on the other level with it; further ones go one rank off.
    alone = {b.id for b in boxes if b.kind != "op"}
    buses = [layout.Bus(p.id, targets[p], USE_COLOR, _param_attrs(p), alone if k == 0 else ())
             for k, p in enumerate(bussed)]
    if buses:
        dot.comment("parameters used by several boxes: one tap per use")
    for bus in buses:
        bus.nodes(dot, ranks)

    dot.comment("parameters: each drawn once")
    for p in graph.params:
        if p not in bussed:
            dot.node(p.id, **_param_attrs(p, hidden=p in hidden))
    top_inputs = [leaf for leaf, home in leaf_home.items() if home is None]
    if top_inputs:
        dot.comment("inputs and constants")
    for leaf in top_inputs:
        _input_node(dot, leaf)

    clusters = {}
    for b in boxes:
        clusters.setdefault(b.cluster, []).append(b)

    def draw_box(box):
        _box_node(dot, box, box_norm[box], colour, opts, box is root_box, notes.get(box, ()))

    _steps(dot, graph, boxes, clusters, leaf_home, draw_box)
    for k, (p, terms) in enumerate(terms_of.items()):
        dot.comment(f"gradient rail: {p.name}.grad as the sum of its per-step terms")
        rails.draw_rail(dot, p, terms, scale, colour, ranks, root_box, alone if k == 0 else ())

    _data_edges_drawn(dot, edges, fan_out, fan_in)
    layout.hold_fans(dot, fan_out, fan_in)
    for bus in buses:
        bus.edges(dot)
    layout.keep_steps_apart(dot, clusters, boxes, leaf_home, edges)
    main = layout.lanes(dot, clusters, boxes, edges)
    _lane_to_root(dot, edges, fan_in, clusters, main, root_box)
    dot.comment("uses of parameters (dashed): each parameter is one tensor")
    for p in graph.params:
        if p not in bussed and p not in hidden:
            _use_edges(dot, p, targets[p])
    for anchor, ids in ranks.items():
        dot.same_rank([anchor] + ids)
    return dot


def _steps(dot, graph, boxes, clusters, leaf_home, draw_box):
    """The boxes, each step's in a dashed cluster (``l0 · t = 3``) with its own inputs."""
    multi_family = len({op.family for op in graph.ops if op.family is not None}) > 1
    emitted = set()
    for b in boxes:
        if b.cluster is None or _is_whole_step(b, clusters, leaf_home):
            draw_box(b)
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
                    draw_box(member)


def _data_edges_drawn(dot, edges, fan_out, fan_in):
    """The data edges, except those a connector label replaces; a multi-output box's edge
    names its output slot (``[2]``)."""
    dot.comment("data flow")
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


def _lane_to_root(dot, edges, fan_in, clusters, main, root_box):
    """The read-out after the last step continues the last step's main lane."""
    if root_box is None or root_box.cluster is not None or not main:
        return
    last = max((k for k in clusters if k is not None), key=lambda k: k[-1].step, default=None)
    if last is None:
        return
    family = clusters[last][0].ops[0].family
    starts = [hub for hub, tails in fan_in.items() if tails[-1].cluster == last]
    starts += [h for (t, h) in edges if t in clusters[last] and h.cluster is None]
    if family in main and starts:
        layout.lane_to_root(dot, edges, list(dict.fromkeys(starts)), root_box, main[family])


def _connector_notes(fan_out, fan_in, edges, runs):
    """Box -> label lines that replace long edges between one box and many steps.

    Like the connectors of a circuit diagram: a step's box that reads a slice
    of a hub says ``← unbind[2]``, one that feeds a hub says ``→ stack``, and
    the hub says which steps (``→ t=1..20``).
    """
    notes = {}
    for hub, heads in fan_out.items():
        name = _hub_text(hub)
        notes.setdefault(hub, []).append("→ " + _steps_text(heads, runs))
        for h in heads:
            slots = sorted(edges[(hub, h)])
            which = "" if slots[0] < 0 else (f"[{slots[0]}]" if len(slots) == 1
                                             else f"[{slots[0]}..{slots[-1]}]")
            notes.setdefault(h, []).append(f"← {name}{which}")
    for hub, tails in fan_in.items():
        notes.setdefault(hub, []).append("← " + _steps_text(tails, runs))
        for t in tails:
            notes.setdefault(t, []).append(f"→ {_hub_text(hub)}")
    return notes


def _hub_text(box):
    """How a connector names the box at the other end: ``unbind``, ``stack``."""
    return display_name(box.ops[0].name) if box.kind == "op" else box.id


def _steps_text(boxes, runs):
    """``t=1..20``: the steps a hub's connectors lead to (elided runs included)."""
    steps = set()
    for b in boxes:
        if b.kind == "elided":
            steps.update(b.key[1])
        else:
            steps.update(op.step for op in b.ops if op.step is not None)
    if not steps:
        return "each step"
    return step_range(min(steps), max(steps))


def _leaf_homes(graph, box_of):
    """Inputs (leaves without grad) -> the step cluster all their readers are in, or None;
    inputs read only by elided steps are left out."""
    homes = {}
    for leaf in graph.inputs:
        where = {box_of[c].cluster if box_of[c].kind != "elided" else "elided"
                 for c in leaf.consumers}
        if where == {"elided"}:
            continue
        homes[leaf] = where.pop() if len(where) == 1 else None
    return homes


def _use_targets(p, box_of):
    """The boxes that use ``p``, in tape order, with how many uses each."""
    seen = {}
    for u in p.uses:
        b = box_of[u.op]
        seen[b.id] = seen.get(b.id, 0) + 1
    return seen


def _data_edges(graph, box_of, leaf_home):
    """(tail, head) -> the output slots of the tail it carries, between distinct boxes."""
    edges = {}
    for op in graph.ops:
        head = box_of[op]
        for src, slot in zip(op.sources, op.slots):
            if isinstance(src, OpNode):
                tail = box_of[src]
                if tail is not head:
                    edges.setdefault((tail, head), set()).add(slot)
            elif isinstance(src, Leaf) and src in leaf_home:
                edges.setdefault((src, head), set())
    return edges


def _is_whole_step(box, clusters, leaf_home):
    """A collapsed box that is its step's only content needs no cluster around it."""
    return (box.kind == "group" and box.key[0] == box.cluster and len(clusters[box.cluster]) == 1
            and box.cluster not in leaf_home.values())


def _input_node(dot, leaf):
    dot.node(leaf.id, **input_attrs(leaf))


def _box_node(dot, box, norm, colour, opts, is_root, notes=()):
    """One box; ``notes`` are connector lines (``← unbind[2]``) added to its label."""
    style = colour(norm)
    attrs = dict(style)
    if box.kind == "op":
        op = box.ops[0]
        label = op_label(op, opts.show, is_root)
        lines = [label]
        if "NaN" not in label and style.get("style", "").startswith("striped"):
            lines.append("<B>NaN/Inf in grad</B>")
        if is_root:
            attrs.setdefault("peripheries", "2")
    elif box.kind == "group":
        path = box.key[0]
        title = (step_text(path) if path[-1].step is not None else str(path[-1]))
        lines = [f"<B>{esc(title)}</B>"]
        lines += [small(esc(line)) for line in op_summary(box.ops)]
    else:
        family, run = box.key
        lines = [f"<B>⋯ {esc(step_range(*run))} ⋯</B>",
                 small(esc(f"{run[1] - run[0] + 1} steps, {len(box.ops)} ops not drawn"))]
        attrs["style"] = attrs.get("style", "rounded,filled") + ",dashed"
    if box.kind != "op" and "grad" in opts.show and norm is not None:
        lines.append(small(esc(f"|grad| out {fmt(norm)}")))
    lines += [small(f"<I>{esc(n)}</I>") for n in notes]
    dot.node(box.id, label=Html("<BR/>".join(lines)), **attrs)


def _param_attrs(p, hidden=False):
    """A parameter's node.  A shared parameter outside the focus is drawn without its
    use edges (the boxes that use it name it): only the focused ones get buses."""
    label = param_label(p, "not in focus: uses named in the boxes" if hidden else None)
    return {"label": label, "fillcolor": PARAM_FILL, "peripheries": "2"}


def _use_edges(dot, p, targets):
    for k, (box_id, count) in enumerate(targets.items()):
        dot.edge(p.id, box_id, xlabel=f"×{count}" if count > 1 else None, fontcolor=USE_COLOR,
                 constraint="false" if k else None, style="dashed", color=USE_COLOR)


def _legend(graph, opts, scale, terms_of, drawn, runs, boxes, connected):
    steps = graph.steps()
    facts = []
    if steps:
        shown = "all drawn" if not runs else f"{len(drawn)} drawn"
        facts.append(f"{len(steps)} time steps ({shown})")
    rows = [heading(opts, facts + loss_fact(graph))]
    key = ('<FONT COLOR="gray25"><B>→</B></FONT> data   <FONT COLOR="'
           f'{USE_COLOR}"><B>⇢</B></FONT> use of a parameter (one tensor, drawn once)')
    if terms_of:
        key += (f'   <FONT COLOR="{RAIL_COLOR}"><B>→</B></FONT> gradient term '
                '(width ~ norm)')
    rows.append(key)
    if connected:
        rows.append("<I>← unbind[2]</I>, <I>→ stack</I>: "
                    + esc("data from / to a box outside the steps (instead of a long edge)"))
    if graph.has_grad and opts.color_by:
        rows.append(colour_bar(scale, "fill: |grad| of each output, one log scale:"))
    if terms_of:
        rows.append(prose("rail: ∂L/∂W is the sum of one term per use;  share = ⟨term, "
                          "W.grad⟩ / |W.grad|²  (signed: shares sum to 100%, terms can cancel)"))
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
        ops = sum(len(b.ops) for b in boxes if b.kind == "elided" and b.key[1] == run)
        rows.append(prose(f"{step_range(*run)} not drawn (steps={opts.steps!r}): "
                          f"{run[1] - run[0] + 1} steps, {ops} ops in one ⋯ node; its gradient "
                          f"terms stay in the rails, so the sums are complete"))
    if opts.collapse is not None:
        rows.append(prose(f"collapse={opts.collapse!r}: each box stands for the operations of "
                          f"one scope; |grad| out = norm of the gradients leaving it"))
    if graph.why_no_grad:
        rows.append(prose(graph.why_no_grad))
    return legend(rows)
