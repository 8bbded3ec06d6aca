"""Graphviz layout aids for the unrolled view.

Invisible edges and ``group`` attributes keep the time steps side by side on
one level; buses replace a broom of long edges by a line of short taps.
Nothing here changes what the drawing means, only where things go.
"""
from .boxes import Box
from .graph import OpNode, ident

BUS_MIN = 4                 # a node feeding (or fed by) this many steps gets a bus


def keep_steps_apart(dot, clusters, leaf_home, edges):
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


def spines(dot, clusters, edges):
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
            path = shortest_path(from_previous or outside_fed or unfed, exits[-1], succ,
                                  inside)
            for b in path:
                dot.node(b.id, group=group)
            previous_exit = path[-1]


def shortest_path(starts, goal, succ, inside):
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


def bus_taps(graph, box_of):
    """How many bus taps the data edges will need (counted against max_nodes)."""
    edges = {}
    for op in graph.ops:
        for src in op.sources:
            if isinstance(src, OpNode) and box_of[src] is not box_of[op]:
                edges[(box_of[src], box_of[op])] = 1
    outs, ins = buses(edges)
    return sum(len(v) for v in outs.values()) + sum(len(v) for v in ins.values())


def buses(edges):
    """Edges to redraw as buses: a box outside the steps feeding (or fed by) many steps."""
    outs, ins = {}, {}
    for tail, head in edges:
        if isinstance(tail, Box) and tail.cluster is None and head.cluster is not None:
            outs.setdefault(tail, []).append(head)
        if isinstance(tail, Box) and tail.cluster is not None and head.cluster is None:
            ins.setdefault(head, []).append(tail)
    return ({t: hs for t, hs in outs.items() if len(hs) >= BUS_MIN},
            {h: ts for h, ts in ins.items() if len(ts) >= BUS_MIN})


def bus(dot, hub, ends, ranks, color, kind, outward=True, counts=None):
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
