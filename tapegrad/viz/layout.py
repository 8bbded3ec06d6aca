"""Graphviz layout aids for the unrolled view.

Invisible edges keep the time steps side by side; ``group`` attributes put
each recurrent state (an RNN's h; an LSTM's h and c) on one straight lane
through every step and on to the loss; borderless "band" clusters give the
gradient rails and the parameter buses lines of their own beside the steps.
Nothing here changes what the drawing means, only where things go.
"""
from collections import Counter, deque

from .boxes import Box
from .graph import ident

FAN_MIN = 3                 # a box feeding (or fed by) this many steps gets connectors
BUS_MIN = 2                 # a parameter used by this many boxes gets a bus
#: Weight that keeps an edge one rank long (bus taps, rail terms).  Not more: Graphviz
#: also pulls the ends of a heavy edge level, which would bend the lanes.  And the taps
#: and rail terms get no ``group`` (whose edges weigh a hundred times more) for the same
#: reason: their band keeps them on one line.
NEXT_RANK = "10"


def band(dot, name):
    """A borderless cluster: what is drawn inside it forms a line of its own."""
    return dot.subgraph("cluster_band_" + ident(name), peripheries="0", label="")


def segments(clusters, boxes):
    """{family: [(first step, boxes)]}: each step's boxes, and each elided run, in time order."""
    found = {}
    for key, members in clusters.items():
        if key is not None:
            found.setdefault(members[0].ops[0].family, []).append((key[-1].step, members))
    for b in boxes:
        if b.kind == "elided":
            family, run = b.key
            found.setdefault(family, []).append((run[0], [b]))
    for segs in found.values():
        segs.sort(key=lambda s: s[0])
    return found


def keep_steps_apart(dot, clusters, boxes, leaf_home, edges):
    """Invisible edges from each step's last box to the next step's unfed boxes.

    They keep the steps' ranks disjoint, so the steps sit side by side on one
    line instead of sliding over each other.
    """
    fed = {head for (tail, head) in edges
           if head.cluster is not None and getattr(tail, "cluster", None) == head.cluster}
    pairs = []
    for segs in segments(clusters, boxes).values():
        for (_, a), (_, b) in zip(segs, segs[1:]):
            key = b[0].cluster
            heads = [leaf for leaf, home in leaf_home.items() if key is not None and home == key]
            heads += [box for box in b if box not in fed]
            pairs += [(a[-1].id, h.id) for h in heads]
    if pairs:
        dot.comment("invisible: keep consecutive steps side by side")
    for tail, head in pairs:
        dot.edge(tail, head, style="invis")


def lanes(dot, clusters, boxes, edges):
    """Put each recurrent state's path through a step in a Graphviz ``group`` of its own.

    Edges inside a group are drawn straight, so each state (h, and c for an
    LSTM) runs level through every step: the steps line up, and the gates
    branch off the lanes.  A step that ran the same operations as the others
    gets the same lanes, box for box (the template), so identical steps look
    identical.  Returns {family: the group of its first lane}.
    """
    succ, pred = {}, {}
    for tail, head in edges:
        succ.setdefault(tail, []).append(head)
        pred.setdefault(head, []).append(tail)
    main = {}
    for family, segs in segments(clusters, boxes).items():
        members = [m for _, m in segs]
        template = _template(members, succ, pred)
        lane_of = {}
        others = []
        for k, seg in enumerate(members):
            if template is not None and _signature(seg) == template[0]:
                for lane, path in enumerate(template[1]):
                    for i in path:
                        lane_of[seg[i]] = lane
            else:
                others.append(k)
        for k in others:
            seg = members[k]
            previous = set(members[k - 1]) if k else set()
            following = set(members[k + 1]) if k + 1 < len(members) else set()
            exits = [b for b in seg if any(h in following for h in succ.get(b, ()))]
            entries = [b for b in seg if any(t in previous for t in pred.get(b, ()))]
            starts = entries or _fed_from_outside(seg, pred) or seg[:1]
            for goal in exits:
                known = [lane_of[h] for h in succ.get(goal, ()) if h in following and h in lane_of]
                lane = min(known, default=0)
                for b in shortest_path(starts, goal, succ, set(seg)):
                    lane_of.setdefault(b, lane)
        group = "lane_" + ident(family) + "_"
        for b, lane in lane_of.items():
            dot.node(b.id, group=f"{group}{lane}")
        if lane_of:
            main[family] = group + "0"
    return main


def lane_to_root(dot, edges, starts, root, group):
    """Continue a lane from the steps to the loss: the path from ``starts`` (boxes outside
    the steps) to ``root`` joins ``group``, so the read-out runs level with the state."""
    succ = {}
    for tail, head in edges:
        succ.setdefault(tail, []).append(head)
    outside = {b for b in succ} | {h for hs in succ.values() for h in hs}
    outside = {b for b in outside if isinstance(b, Box) and b.cluster is None}
    path = shortest_path(starts, root, succ, outside)
    if path[0] in starts:
        for b in path:
            dot.node(b.id, group=group)


def _signature(seg):
    return tuple((b.kind, tuple(op.name for op in b.ops)) for b in seg)


def _fed_from_outside(seg, pred):
    inside = set(seg)
    return [b for b in seg if any(isinstance(t, Box) and t not in inside
                                  for t in pred.get(b, ()))]


def _template(segs, succ, pred):
    """(signature, lane paths as member indices) of the commonest step that has recurrent
    edges both in and out; None when no step has both."""
    candidates = []
    for k in range(1, len(segs) - 1):
        seg, before, after = segs[k], set(segs[k - 1]), set(segs[k + 1])
        if seg[0].kind == "elided":
            continue
        entries = [b for b in seg if any(t in before for t in pred.get(b, ()))]
        exits = [b for b in seg if any(h in after for h in succ.get(b, ()))]
        if entries and exits:
            candidates.append((_signature(seg), seg, entries, exits))
    if not candidates:
        return None
    common = Counter(c[0] for c in candidates).most_common(1)[0][0]
    signature, seg, entries, exits = next(c for c in candidates if c[0] == common)
    inside = set(seg)
    pairs = sorted((len(path), seg.index(e), seg.index(x), path)
                   for e in entries for x in exits
                   for path in [shortest_path([e], x, succ, inside)] if path[0] is e)
    paths, used = [], set()
    for _, e, x, path in pairs:
        if e not in used and x not in used:
            used.update((e, x))
            paths.append((e, [seg.index(b) for b in path]))
    return signature, [p for _, p in sorted(paths)]


def shortest_path(starts, goal, succ, inside):
    """Breadth-first path from any of ``starts`` to ``goal`` through boxes in ``inside``."""
    previous = {s: None for s in starts}
    queue = deque(starts)
    while queue:
        node = queue.popleft()
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


def fans(edges):
    """Data edges to draw as connectors (labels) instead of long edges: a box outside the
    steps feeding (or fed by) many steps.  Returns ({hub: [heads]}, {hub: [tails]})."""
    outs, ins = {}, {}
    for tail, head in edges:
        if not isinstance(tail, Box):
            continue
        if in_steps(head) and not in_steps(tail):
            outs.setdefault(tail, []).append(head)
        if in_steps(tail) and not in_steps(head):
            ins.setdefault(head, []).append(tail)
    return ({t: hs for t, hs in outs.items() if len(hs) >= FAN_MIN},
            {h: ts for h, ts in ins.items() if len(ts) >= FAN_MIN})


def in_steps(box):
    """A box of a time step, or the elision standing for some."""
    return box.cluster is not None or box.kind == "elided"


def hold_fans(dot, fan_out, fan_in):
    """Invisible edges that keep a hub feeding many steps before the first of them, and a
    hub fed by many steps after the last (their connectors are labels, not edges)."""
    for hub, heads in fan_out.items():
        dot.edge(hub.id, heads[0].id, style="invis")
    for hub, tails in fan_in.items():
        dot.edge(tails[-1].id, hub.id, style="invis")


class Bus:
    """A parameter on a straight line of small taps, one per use.

    The hub (the parameter) and its taps sit in a band of their own.  A tap
    to a box that stands alone on its rank (a whole collapsed step, an
    elision) is level with it, so the tap edge is a short straight line.  A
    tap to an operation is one rank before it instead: an edge within one
    rank is bent around every node between its ends (a gate beside the use),
    while an edge to the next rank runs through the gap between the ranks.
    """

    def __init__(self, hub, counts, color, hub_node, level=()):
        """``hub``: the parameter's node id; ``counts``: box id -> uses, one tap per box;
        ``hub_node``: the parameter's node attributes; ``level``: boxes alone on a rank."""
        self.hub, self.ends, self.color = hub, list(counts), color
        self.counts, self.hub_node, self.level = counts, hub_node, level
        self.band = "bus_" + ident(hub)
        self.taps = [f"{self.band}_{k}" for k in range(len(self.ends))]

    def nodes(self, dot, ranks):
        with band(dot, self.band):
            dot.node(self.hub, **self.hub_node)
            for tap, end in zip(self.taps, self.ends):
                dot.node(tap, shape="point", width="0.06", color=self.color,
                         fillcolor=self.color, label="")
                if end in self.level:
                    ranks.setdefault(end, []).append(tap)

    def edges(self, dot):
        color, taps = self.color, self.taps
        for tap, end in zip(taps, self.ends):
            count = self.counts[end]
            dot.edge(tap, end, color=color, style="dashed", fontcolor=color,
                     xlabel=f"×{count}" if count > 1 else None,
                     weight=None if end in self.level else NEXT_RANK)
        line = {"color": color, "penwidth": "2", "arrowhead": "none"}
        dot.edge(self.hub, taps[0], **line)
        for a, b in zip(taps, taps[1:]):
            dot.edge(a, b, **line)
