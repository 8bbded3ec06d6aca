"""The unrolled view: one cluster per time step, time running left to right.

Each parameter is drawn once, with a use edge (or, for many uses, a bus of
short taps) to every operation that reads it.  For each focused parameter a
gradient rail runs above the steps: one node per time step holding that
step's term of ``dL/dW``, chained with ``+`` into ``W.grad``.  Operations are
coloured by the norm of the gradient of their output, on one log scale.
"""
from collections import Counter

from . import gradients
from .colors import LogScale, fmt
from .dot import Dot, Html
from .errors import DrawError
from .graph import Leaf, OpNode, ident
from .labels import colour_bar, esc, legend, op_label, op_text, shape_text, small
from .steps import run_of, select, step_range

BUS_MIN = 4                 # a parameter with this many drawn uses gets a bus
PARAM_FILL = "#cfe3f3"
USE_COLOR = "steelblue"
RAIL_COLOR = "#d62728"
GRAPH_ATTRS = {"rankdir": "LR", "newrank": "true", "fontname": "Helvetica", "fontsize": "11",
               "nodesep": "0.22", "ranksep": "0.3", "labelloc": "b", "labeljust": "l",
               "compound": "true"}
NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "shape": "box",
              "style": "rounded,filled", "fillcolor": "white", "height": "0.3",
              "margin": "0.08,0.04"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "10", "color": "gray25", "arrowsize": "0.7"}


class Box:
    """A drawn node standing for one or more operations."""

    def __init__(self, box_id, kind, cluster):
        self.id = box_id
        self.kind = kind            # "op", "group" or "elided"
        self.cluster = cluster      # step key of the enclosing cluster, or None
        self.ops = []
        self.key = None             # group path, or (family, run) for elided boxes


def step_text(frames):
    """``l0[t=3]`` -> ``l0 · t = 3`` for cluster titles."""
    f = frames[-1]
    return f"{f.name} · t = {f.step}" if f.name not in ("t", "step") else f"t = {f.step}"


def group_key(op, collapse):
    if collapse is None:
        return None
    if collapse == "step":
        return op.step_key
    return op.frames[:collapse] if len(op.frames) >= collapse else None


def assign(graph, opts, drawn, runs):
    """Map every operation to its box; returns (boxes in order, op -> box)."""
    boxes = {}
    box_of = {}
    for op in graph.ops:
        gk = group_key(op, opts.collapse)
        spans_steps = gk is not None and not any(f.step is not None for f in gk)
        if spans_steps:
            key, kind, cluster = ("group", gk), "group", None
        elif op.step is not None and op.step not in drawn:
            run = run_of(op.step, runs)
            key, kind, cluster = ("elided", op.family, run), "elided", None
        elif gk is not None:
            key, kind, cluster = ("group", gk), "group", op.step_key
        else:
            key, kind, cluster = ("op", op.pos), "op", op.step_key
        box = boxes.get(key)
        if box is None:
            if kind == "op":
                box_id = op.id
            elif kind == "group":
                box_id = "group_" + ident("/".join(str(f) for f in gk))
            else:
                box_id = f"elided_{ident(op.family)}_t{key[2][0]}_{key[2][1]}"
            box = boxes[key] = Box(box_id, kind, cluster)
            box.key = key[1:]
        box.ops.append(op)
        box_of[op] = box
    return list(boxes.values()), box_of


def boundary_norm(box, box_of, consumers, root):
    """Norm of the gradients of the values that leave a box (its outputs as a unit)."""
    parts = []
    for op in box.ops:
        if op is root or any(box_of[c] is not box for c in consumers.get(op, ())):
            if op.grad_norm is not None:
                parts.append(op.grad_norm)
    if not parts:
        return None
    return float(sum(p * p for p in parts) ** 0.5)


def op_summary(ops, width=28):
    """``matmul, add, sigmoid×3`` wrapped into lines of about ``width`` characters."""
    counts = Counter(op.name for op in ops)
    words = [f"{n}×{k}" if k > 1 else n for n, k in counts.items()]
    lines, line = [], ""
    for w in words:
        if line and len(line) + len(w) + 2 > width:
            lines.append(line + ",")
            line = w
        else:
            line = f"{line}, {w}" if line else w
    return lines + [line]


class Term:
    """One node of a gradient rail: the summed uses of one step (or one elided run)."""

    def __init__(self, node_id, text, anchor):
        self.id = node_id
        self.text = text
        self.anchor = anchor
        self.uses = []
        self.value = None
        self.norm = None
        self.share = None


def rail_terms(param, box_of, runs, drawn):
    terms = {}
    ids = set()
    for u in param.uses:
        op = u.op
        if op.step is None:
            key, text, suffix = ("op", op.pos), f"from {op_text(op)}", f"op{op.pos}"
        elif op.step in drawn:
            key, text, suffix = ("step", op.step_key), f"from t={op.step}", f"t{op.step}"
        else:
            run = run_of(op.step, runs)
            key = ("run", op.family, run)
            text, suffix = f"from {step_range(*run)}", f"t{run[0]}_{run[1]}"
        term = terms.get(key)
        if term is None:
            node_id = f"rail_{ident(param.name)}_{suffix}"
            while node_id in ids:
                node_id += "_"
            ids.add(node_id)
            term = terms[key] = Term(node_id, text, box_of[op].id)
        term.uses.append(u)
    for term in terms.values():
        if param.grad is not None and term.uses[0].value is not None:
            term.value = sum(u.value for u in term.uses)
            term.norm = gradients.norm(term.value)
            term.share = sum(u.share for u in term.uses)
    return list(terms.values())


def share_text(share):
    return "share –" if share is None or share != share else f"share {100 * share:.0f}%"


def default_focus(graph):
    return graph.recurrent_params() or graph.shared_params()


def focus_params(graph, opts):
    if opts.focus is None:
        return default_focus(graph)
    return graph.find_params(opts.focus)


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
    focus = focus_params(graph, opts) if graph.has_grad else []
    rails = {p: rail_terms(p, box_of, runs, drawn) for p in focus}

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
               + sum(len(ts) + 1 for ts in rails.values())
               + sum(len(t) for t in targets.values() if len(t) >= BUS_MIN)
               + _bus_taps(graph, box_of))
    if n_nodes > opts.max_nodes:
        raise DrawError(
            f"draw: this drawing needs {n_nodes} nodes, more than max_nodes={opts.max_nodes}. "
            f"Draw fewer: collapse='step' (one box per time step), steps=6 (first and last "
            f"steps, the rest elided), view='rolled'; or raise max_nodes.")

    box_norm = {b: (b.ops[0].grad_norm if b.kind == "op"
                    else boundary_norm(b, box_of, consumers, graph.root)) for b in boxes}
    norms = list(box_norm.values()) + [t.norm for ts in rails.values() for t in ts]
    scale = LogScale(norms if opts.color_by else [])
    colour = (lambda n: scale.node_style(n)) if opts.color_by else (lambda n: {})

    dot = Dot("tapegrad_unrolled", graph=dict(GRAPH_ATTRS, label=_legend(
        graph, opts, scale, focus, rails, drawn, runs, boxes)), node=NODE_ATTRS, edge=EDGE_ATTRS)

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
    fan_out, fan_in = _buses(edges)
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
        _bus(dot, tail.id, [h.id for h in heads], ranks, "gray40", "data", outward=True)
    for head, tails in fan_in.items():
        _bus(dot, head.id, [t.id for t in tails], ranks, "gray40", "data", outward=False)
    _keep_steps_apart(dot, clusters, leaf_home, edges)
    _spines(dot, clusters, edges)

    dot.comment("uses of parameters (dashed): each parameter is one tensor")
    for p in graph.params:
        _uses(dot, p, targets[p], ranks)
    for p, terms in rails.items():
        dot.comment(f"gradient rail: {p.name}.grad as the sum of its per-step terms")
        _rail(dot, p, terms, scale, colour, ranks, root_box)
    for anchor, ids in ranks.items():
        dot.same_rank([anchor] + ids)
    return dot.source()


def _is_whole_step(box, clusters, leaf_home):
    """A collapsed box that is its step's only content needs no cluster around it."""
    return (box.kind == "group" and box.key[0] == box.cluster and len(clusters[box.cluster]) == 1
            and box.cluster not in leaf_home.values())


def _keep_steps_apart(dot, clusters, leaf_home, edges):
    """Invisible edges from each step's last box to the next step's first nodes.

    They keep the clusters' ranks disjoint, so the steps sit side by side on one
    line instead of sliding into a staircase.
    """
    keys = [k for k in clusters if k is not None]
    by_family = {}
    for key in keys:
        family = key[:-1] + (key[-1].name,)
        by_family.setdefault(family, []).append(key)
    fed = {head for (tail, head) in edges
           if head.cluster is not None and getattr(tail, "cluster", None) == head.cluster}
    lines = []
    for family_keys in by_family.values():
        family_keys.sort(key=lambda k: k[-1].step)
        for a, b in zip(family_keys, family_keys[1:]):
            tail = clusters[a][-1]
            heads = [leaf for leaf, home in leaf_home.items() if home == b]
            heads += [box for box in clusters[b] if box not in fed]
            lines += [(tail.id, h.id) for h in heads]
    if lines:
        dot.comment("invisible: keep consecutive steps side by side")
    for tail, head in lines:
        dot.edge(tail, head, style="invis")


def _spines(dot, clusters, edges):
    """Put each step's main path (state in -> state out) in one Graphviz ``group``.

    Edges inside a group are drawn straight, so the path that carries the
    recurrent state runs level through every step and the steps line up
    instead of drifting into a staircase (an LSTM's gates branch off it).
    The path of step t starts where step t-1's path left off.
    """
    succ, pred = {}, {}
    for tail, head in edges:
        succ.setdefault(tail, []).append(head)
        pred.setdefault(head, []).append(tail)
    by_family = {}
    for key in clusters:
        if key is not None:
            by_family.setdefault(key[:-1] + (key[-1].name,), []).append(key)
    for family, keys in by_family.items():
        group = "spine_" + ident("/".join(str(f) for f in family))
        previous_exit = None
        for key in sorted(keys, key=lambda k: k[-1].step):
            members = clusters[key]
            inside = set(members)
            exits = [b for b in members if any(h not in inside for h in succ.get(b, ()))]
            if not exits:
                continue
            outside_fed = [b for b in members if any(t not in inside and isinstance(t, Box)
                                                     for t in pred.get(b, ()))]
            from_previous = [b for b in outside_fed if previous_exit in pred.get(b, ())]
            unfed = [b for b in members if not any(t in inside for t in pred.get(b, ()))]
            path = _shortest_path(from_previous or outside_fed or unfed, exits[-1], succ,
                                  inside)
            for b in path:
                dot.node(b.id, group=group)
            previous_exit = path[-1]


def _shortest_path(starts, goal, succ, inside):
    """Breadth-first path from any of ``starts`` to ``goal`` through boxes in ``inside``."""
    previous = {s: None for s in starts}
    queue = list(starts)
    for node in queue:
        if node is goal:
            path = []
            while node is not None:
                path.append(node)
                node = previous[node]
            return path[::-1]
        for nxt in succ.get(node, ()):
            if nxt in inside and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return [goal]


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


def _bus_taps(graph, box_of):
    """How many bus taps the data edges will need (counted against max_nodes)."""
    edges = {}
    for op in graph.ops:
        for src in op.sources:
            if isinstance(src, OpNode) and box_of[src] is not box_of[op]:
                edges[(box_of[src], box_of[op])] = 1
    outs, ins = _buses(edges)
    return sum(len(v) for v in outs.values()) + sum(len(v) for v in ins.values())


def _buses(edges):
    """Edges to redraw as buses: a box outside the steps feeding (or fed by) many steps."""
    outs, ins = {}, {}
    for tail, head in edges:
        if isinstance(tail, Box) and tail.cluster is None and head.cluster is not None:
            outs.setdefault(tail, []).append(head)
        if isinstance(tail, Box) and tail.cluster is not None and head.cluster is None:
            ins.setdefault(head, []).append(tail)
    return ({t: hs for t, hs in outs.items() if len(hs) >= BUS_MIN},
            {h: ts for h, ts in ins.items() if len(ts) >= BUS_MIN})


def _bus(dot, hub, ends, ranks, color, kind, outward=True, counts=None):
    """A line of small taps, one level with each end, instead of a broom of long edges.

    ``outward``: the hub feeds the ends (taps -> ends); else the ends feed the hub.
    """
    line = {"color": color, "penwidth": "2", "arrowhead": "none"}
    taps = []
    for k, end in enumerate(ends):
        tap = f"bus_{ident(hub)}_{k}"
        dot.node(tap, shape="point", width="0.07", color=color, fillcolor=color, label="")
        ranks.setdefault(end, []).append(tap)
        taps.append(tap)
        count = counts[end] if counts else 1
        attrs = {"color": color, "style": "dashed" if kind == "use" else None,
                 "label": f"×{count}" if count > 1 else None, "fontcolor": color}
        if outward:
            dot.edge(tap, end, **attrs)
        else:
            dot.edge(end, tap, arrowhead="none", **attrs)
    if outward:
        dot.edge(hub, taps[0], **line)
        for a, b in zip(taps, taps[1:]):
            dot.edge(a, b, **line)
    else:
        for a, b in zip(taps, taps[1:]):
            dot.edge(a, b, **line)
        dot.edge(taps[-1], hub, color=color, penwidth="2")


def _uses(dot, p, targets, ranks):
    if len(targets) >= BUS_MIN:
        _bus(dot, p.id, list(targets), ranks, USE_COLOR, "use", counts=targets)
        return
    for k, (box_id, count) in enumerate(targets.items()):
        dot.edge(p.id, box_id, label=f"×{count}" if count > 1 else None, fontcolor=USE_COLOR,
                 constraint="false" if k else None, style="dashed", color=USE_COLOR)


def _rail(dot, p, terms, scale, colour, ranks, root_box):
    for term in terms:
        lines = [esc(f"∂L/∂{p.short} {term.text}")]
        if len(term.uses) > 1:
            lines[0] += esc(f" ({len(term.uses)} uses)")
        lines.append(small(esc(f"norm {fmt(term.norm)} · {share_text(term.share)}")))
        attrs = colour(term.norm)
        attrs.setdefault("color", RAIL_COLOR)
        dot.node(term.id, label=Html("<BR/>".join(lines)), style=attrs.pop("style", "filled"),
                 fontsize="10", **attrs)
        ranks.setdefault(term.anchor, []).append(term.id)
        dot.edge(term.anchor, term.id, color=RAIL_COLOR, penwidth=scale.penwidth(term.norm))
    total_id = f"rail_{ident(p.name)}_sum"
    n_uses = sum(len(t.uses) for t in terms)
    label = (f"<B>{esc(p.name)}.grad</B> = Σ of {n_uses} use{'s' if n_uses != 1 else ''}"
             f"<BR/>{small(esc('norm ' + fmt(gradients.norm(p.grad))))}")
    dot.node(total_id, label=Html(label), style="filled", fillcolor="#fff0f0", color=RAIL_COLOR,
             peripheries="2")
    chain = [t.id for t in terms] + [total_id]
    for k, (a, b) in enumerate(zip(chain, chain[1:])):
        last = b == total_id
        dot.edge(a, b, label="=" if last else "+", color=RAIL_COLOR, fontcolor=RAIL_COLOR,
                 penwidth=scale.penwidth(terms[k].norm))
    if root_box is not None:
        ranks.setdefault(root_box.id, []).append(total_id)


def _legend(graph, opts, scale, focus, rails, drawn, runs, boxes):
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
    if rails:
        key += (f'   <FONT COLOR="{RAIL_COLOR}"><B>→</B></FONT> gradient term '
                '(width ~ norm)')
    rows.append(key)
    if graph.has_grad and opts.color_by:
        rows.append('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>'
                    '<TD>fill: |grad| of each output, one log scale:  </TD>'
                    f'<TD>{colour_bar(scale)}</TD></TR></TABLE>')
    if rails:
        rows.append(esc("rail: ∂L/∂W is the sum of one term per use;  share = ⟨term, W.grad⟩"
                        " / |W.grad|²  (signed: shares sum to 100%, terms can cancel)"))
    others = [p for p in graph.shared_params() if p not in rails]
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
