"""What the unrolled view draws where: columns of steps, batched rows, edges, and the fold.

`Unrolled` decides, from the graph and the boxes, which column (time
step) each box sits in -- including one box per step for the rows of a
batched operation -- and which edges join them.  `arrange` adds the
invisible structure that makes Graphviz draw the columns left to right, folded
into rows of at most `ROW_WIDTH` inches, so that a long sequence keeps
the shape of a page.
"""
import numpy

from . import gradients, rows
from .boxes import Box, step_text
from .graph import ident, parameter_expression
from .labels import display_name, op_text, shape_text
from .rows import MOVES
from .steps import step_range

#: Width (inches) a row of steps may take: the picture stays readable at page width.
ROW_WIDTH = 14.0
NODESEP = 0.18
#: An anchor's width as a share of its column's estimated width.  The estimate (the widest
#: layer) runs up to 40% over what Graphviz draws, which often spreads that layer over two
#: ranks, and the anchor sits under the column's first box, not its middle: an anchor as wide
#: as the estimate stuck out of its column and widened the whole drawing by up to 130 pt.
ANCHOR_SHARE = 0.5


class Column:
    """One drawn time step (or one elided run of steps) of one step family."""

    def __init__(self, key, title, order):
        self.key = key
        self.title = title
        self.order = order
        name = ident("/".join(str(f) for f in key))
        self.cluster_id = "cluster_" + name
        self.anchor = "anchor_" + name
        self.boxes = []
        self.inputs = []          # (node id, leaf) drawn in this column
        self.extra = []           # rail term ids drawn in this column


class Unrolled:
    """The boxes of the unrolled view placed in columns, and the edges between them."""

    def __init__(self, graph, boxes, box_of, drawn, runs):
        self.graph = graph
        self.box_of = dict(box_of)
        self.drawn = drawn
        self.runs = runs
        labels = graph.labels
        self.readers = {}
        for op in graph.ops:
            for s in op.sources:
                if s is not None and s.is_op:
                    self.readers.setdefault(s, []).append(op)
        self.sliced = {op for op in graph.ops if op.step is None and op is not graph.root
                       and box_of[op].kind == "op" and rows.fully_labelled(labels.get(op))}
        self.inline = {op for op in graph.ops if op not in self.sliced
                       and op is not graph.root and parameter_expression(op)
                       and all(r in self.sliced or r.step is not None
                               for r in self.readers.get(op, ()))}
        self.comp = _components(self.sliced)
        self._columns = {}
        self._rows_box = {}       # (component, step) -> Box
        step_keys = {}
        for op in graph.ops:
            if op.step is not None:
                step_keys.setdefault((op.family, op.step), op.step_key)
        for b in boxes:
            if b.kind == "elided":
                family, run = b.key
                self._column(("elided", family, run), f"t = {run[0]}..{run[1]}", (run[0], family)
                             ).boxes.append(b)
            elif b.cluster is not None:
                self._step_column(b.cluster).boxes.append(b)
        self.outside_boxes = [b for b in boxes if b.cluster is None and b.kind != "elided"
                              and not (b.kind == "op" and (b.ops[0] in self.sliced
                                                           or b.ops[0] in self.inline))]
        for comp in dict.fromkeys(self.comp.values()):
            shown = [op for op in comp if op.name not in MOVES]
            if not shown:
                continue
            family = self._home_family(comp)
            for t in sorted({t for op in shown for t in rows.label_steps(labels[op])}):
                key = step_keys.get((family, t))
                if t not in drawn or key is None:
                    continue
                box = Box(f"rows_{shown[0].pos}_t{t}", "rows", key)
                box.ops = shown
                box.key = (comp, t)
                self._rows_box[(comp, t)] = box
                self._step_column(key).boxes.append(box)
                self.box_of.setdefault(shown[0], box)
        self.boxes = [b for c in self.columns for b in c.boxes] + self.outside_boxes
        self.root_box = box_of.get(graph.root) if graph.root is not None else None
        self._place_inputs(labels)

    # ------------------------------------------------------------ columns
    def _column(self, key, title, order):
        column = self._columns.get(key)
        if column is None:
            column = self._columns[key] = Column(key, title, order)
        return column

    def _step_column(self, step_key):
        multi = len({op.family for op in self.graph.ops if op.family is not None}) > 1
        title = step_text(step_key) if not multi else (
            "/".join(str(f) for f in step_key[:-1] + (step_key[-1].name,))
            + f" · t = {step_key[-1].step}")
        return self._column(step_key, title, (step_key[-1].step, str(step_key[:-1])))

    @property
    def columns(self):
        return sorted(self._columns.values(), key=lambda c: c.order)

    def _home_family(self, comp):
        """The step family whose steps a batched component feeds (else: is fed by)."""
        for op in comp:
            for r in self.readers.get(op, ()):
                if r.step is not None:
                    return r.family
        for op in comp:
            for s in op.sources:
                if s is not None and s.is_op and s.step is not None:
                    return s.family
        return None

    def _place_inputs(self, labels):
        """Input leaves: per-step slices, a home column, operand text only, or outside."""
        self.outside_inputs = []
        self._slices = {}
        for leaf in self.graph.inputs:
            readers = leaf.consumers
            if readers and all(r in self.sliced for r in readers):
                found = labels.get(leaf)
                if rows.fully_labelled(found):
                    comp = self.comp[readers[0]]
                    for t in rows.label_steps(found):
                        box = self._rows_box.get((comp, t))
                        if box is not None:
                            node_id = f"{leaf.id}_t{t}"
                            self._slices[(leaf, t)] = node_id
                            self._step_column(box.cluster).inputs.append((node_id, leaf))
                continue            # a constant of a batched op (a target): named in its text
            homes = {self.box_of[r].cluster for r in readers}
            if len(homes) == 1 and None not in homes:
                self._step_column(homes.pop()).inputs.append((leaf.id, leaf))
            elif not all(self.box_of[r].kind == "elided" for r in readers):
                self.outside_inputs.append(leaf)

    # -------------------------------------------------------------- edges
    def _producers(self, src, t):
        """Node ids standing for the value ``src`` as read at step ``t`` (None: anywhere)."""
        if src is None or src in self.inline:
            return []
        if not src.is_op:
            if src.is_param:
                return []
            if t is not None and (src, t) in self._slices:
                return [self._slices[(src, t)]]
            return [src.id] if src in self.outside_inputs or any(
                src.id == i for c in self._columns.values() for i, _ in c.inputs) else []
        if src in self.sliced:
            comp = self.comp[src]
            steps = [t] if t is not None else sorted({s for (c, s) in self._rows_box
                                                      if c is comp})
            found = [self._rows_box[(comp, s)].id for s in steps if (comp, s) in self._rows_box]
            if found or any(op.name not in MOVES for op in comp):
                return found
            return [i for op in comp for s in op.sources if s not in comp
                    and (s is None or not s.is_op or s.step in (t, None) or t is None)
                    for i in self._producers(s, t)]
        return [self.box_of[src].id]

    def edges(self):
        """(tail id, head id, sideways) for every data edge, once each, in tape order.

        Sideways edges join two columns (the recurrent state) or a column and a box
        outside the columns (the loss): they must not set the ranks, which run up
        each column."""
        found = {}

        def add(tails, head):
            for tail in tails:
                if tail != head:
                    found.setdefault((tail, head))

        column_of = {b.id: c for c in self._columns.values() for b in c.boxes}
        for op in self.graph.ops:
            if op in self.inline:
                continue
            if op in self.sliced:
                comp = self.comp[op]
                for (c, t), box in self._rows_box.items():
                    if c is not comp:
                        continue
                    for s in op.sources:
                        if s is not None and s in comp:
                            continue
                        if s is not None and s.is_op and s.step is not None:
                            if s.step == t:
                                add([self.box_of[s].id], box.id)
                        else:
                            add(self._producers(s, t), box.id)
                continue
            head = self.box_of[op].id
            for s in op.sources:
                if s is not None and s.is_op and s.step is not None:
                    tail = self.box_of[s].id
                    add([tail], head)
                else:
                    add(self._producers(s, op.step), head)
        column_of.update({i: c for c in self._columns.values() for i, _ in c.inputs})
        return [(t, h, column_of.get(t) is not column_of.get(h)
                 and (t in column_of or h in column_of)) for (t, h) in found]

    # ------------------------------------------------------------ queries
    def rows_box(self, op, t):
        """The box drawing step ``t``'s rows of the batched operation ``op`` (or None)."""
        comp = self.comp.get(op)
        return None if comp is None else self._rows_box.get((comp, t))

    def use_box(self, use):
        """The box where a use of a parameter is drawn (None: not drawn)."""
        op = use.op
        if op is None:
            return None
        if op in self.inline:
            for r in self.readers.get(op, ()):
                box = self.rows_box(r, use.step) if r in self.sliced else self.box_of[r]
                if box is not None:
                    return box
            return None
        if op in self.sliced:
            return self.rows_box(op, use.step)
        return self.box_of[op]

    def param_uses(self):
        """{box: [parameters it uses]}."""
        found = {}
        for p in self.graph.params:
            for u in p.uses:
                box = self.use_box(u)
                if box is not None and p not in found.setdefault(box, []):
                    found[box].append(p)
        return found

    def use_box_ids(self, p):
        return list(dict.fromkeys(b.id for b in map(self.use_box, p.uses) if b is not None))

    def row_shape(self, box):
        """The shape of one step's rows of a batched box's first operation."""
        comp, t = box.key
        op = box.ops[0]
        n = int((self.graph.labels[op][0] == t).sum())
        last = op.shapes[0][-1] if op.shapes[0] else 1
        return (n // last, last) if last and n % last == 0 else (n,)

    def rows_note(self, box):
        comp, t = box.key
        steps = sorted({s for op in comp for s in rows.label_steps(self.graph.labels[op])})
        first = min(op.pos for op in box.ops)
        return f"rows t={t} of #{first} ({step_range(steps[0], steps[-1])})"

    def batched_notes(self):
        """One sentence per batched component drawn as rows."""
        notes = []
        for comp in dict.fromkeys(self.comp.values()):
            shown = [op for op in comp if op.name not in MOVES]
            steps = sorted({s for op in comp for s in rows.label_steps(self.graph.labels[op])})
            if not shown or len(steps) < 2:
                continue
            text = ", ".join(op_text(op) for op in shown)
            notes.append(f"batched: {text} ran once for {step_range(steps[0], steps[-1])} "
                         f"(#{shown[0].pos}); each step draws its own rows, and each "
                         f"parameter's term of that step comes from those rows exactly")
        return notes

    def unused_steps(self, focused):
        """{focused parameter: steps where it has no use (its term there is 0)}."""
        found = {}
        for p in focused:
            missing = [u.step for u in p.uses if u.op is None]
            if missing:
                found[p] = missing
        return found

    def box_meta(self, box, norm, uses):
        """What the page shows when the pointer is over a box."""
        ops = box.ops
        first = ops[0]
        step = None
        if box.kind == "rows":
            step = box.key[1]
        elif box.kind == "op":
            step = first.step
        meta = {"kind": box.kind, "op": ", ".join(display_name(o.name) for o in ops[:6])
                + (" …" if len(ops) > 6 else ""),
                "text": op_text(first), "shape": ", ".join(shape_text(s) for s in first.shapes),
                "grad": None if norm is None else float(norm),
                "site": first.rec.site, "scope": first.scope_path, "step": step,
                "uses": [p.name for p in uses]}
        if box.kind == "rows":
            last = ops[-1]
            meta["shape"] = (f"{shape_text(self.row_shape(box))}: rows of "
                             f"{shape_text(first.shapes[0])}")
            if last.value is not None:      # the norm of this step's rows of the last result
                mine = self.graph.labels[last][0] == box.key[1]
                meta["value"] = gradients.norm(numpy.where(mine, last.value, 0))
        if box.kind == "op" and first.value is not None:
            meta["value"] = gradients.norm(first.value)
        return meta


def _components(sliced):
    """{op: frozenset of the batched operations joined to it by data}: one per batched chain."""
    parent = {op: op for op in sliced}

    def root(x):
        while parent[x] is not x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for op in sliced:
        for s in op.sources:
            if s is not None and s in parent:
                parent[root(s)] = root(op)
    groups = {}
    for op in sorted(sliced, key=lambda o: o.pos):
        groups.setdefault(root(op), []).append(op)
    comps = {}
    for members in groups.values():
        comp = tuple(members)
        for op in members:
            comps[op] = comp
    return comps


def arrange(dot, view, rail_edges=(), sums=()):
    """Invisible structure: each column's anchor at its bottom, columns left to right in
    rows of at most `ROW_WIDTH` inches, row after row downwards.  ``rail_edges``:
    (use box id, term id) pairs, which take room in the columns too; ``sums``: the rails'
    total nodes, drawn level with the loss."""
    columns = view.columns
    if not columns:
        return
    inside = {}
    for c in columns:
        for b in c.boxes:
            inside[b.id] = c
        for node_id, _ in c.inputs:
            inside[node_id] = c
    for c in columns:
        for term_id in c.extra:
            inside[term_id] = c
    fed = set()
    tops = {c.anchor: set(i for i, _ in c.inputs) | {b.id for b in c.boxes} | set(c.extra)
            for c in columns}
    links = [(t, h) for t, h, recurrent in view.edges() if not recurrent] + list(rail_edges)
    links = [(t, h) for t, h in links if head_in(inside, t, h)]
    for tail, head in links:
        fed.add(head)
        tops[inside[tail].anchor].discard(tail)
    dot.comment("invisible: each column's anchor, half as wide as the column, below its first "
                "boxes (outside the clusters: Graphviz keeps the left-to-right order of flat "
                "edges only there, and a wide anchor holds its column above it)")
    for c in columns:
        dot.node(c.anchor, shape="box", style="invis", label="", height="0.02",
                 width=f"{ANCHOR_SHARE * column_width(c, dot.widths, links):.2f}")
    for c in columns:
        for node_id in [i for i, _ in c.inputs] + [b.id for b in c.boxes] + c.extra:
            if node_id not in fed:
                dot.edge(c.anchor, node_id, style="invis")
    lines = _fold(columns, dot.widths, links)
    dot.comment(f"invisible: {len(columns)} columns in {len(lines)} row(s), left to right")
    for line in lines:
        dot.same_rank([c.anchor for c in line])
        for a, b in zip(line, line[1:]):
            dot.edge(a.anchor, b.anchor, style="invis", weight="10")
    params = [p.id for p in view.graph.params]
    if params:
        dot.comment("invisible: the parameters in rows of three below the last row of steps")
        shelves = [params[k:k + 3] for k in range(0, len(params), 3)]
        for shelf in shelves:
            dot.same_rank(shelf)
            for a, b in zip(shelf, shelf[1:]):
                dot.edge(a, b, style="invis")
        for lower, upper in zip(shelves[1:], shelves):
            dot.edge(lower[0], upper[0], style="invis")
        for c in lines[-1]:
            dot.edge(shelves[0][0], c.anchor, style="invis", weight="0")
    if view.root_box is not None:
        dot.comment("the loss right of the first row, the gradients' sums above it")
        dot.same_rank([lines[0][-1].anchor, view.root_box.id])
        dot.edge(lines[0][-1].anchor, view.root_box.id, style="invis")
        stack = [view.root_box.id] + list(sums)
        for a, b in zip(stack, stack[1:]):
            dot.edge(a, b, style="invis")
    for upper, lower in zip(lines, lines[1:]):
        for c in lower:
            for top in sorted(tops[c.anchor]):
                for u in upper:
                    dot.edge(top, u.anchor, style="invis", weight="0")


def head_in(inside, tail, head):
    """True for an edge between two nodes of one column."""
    return head in inside and inside.get(tail) is inside[head]


def _fold(columns, widths, links):
    """Columns packed greedily into rows no wider than `ROW_WIDTH`."""
    lines, line, used = [], [], 0.0
    for c in columns:
        w = column_width(c, widths, links)
        if line and used + w > ROW_WIDTH:
            lines.append(line)
            line, used = [], 0.0
        line.append(c)
        used += w
    return lines + [line] if line else lines


def column_width(column, widths, links):
    """Estimated width of a column: its widest layer, layers counted as Graphviz ranks them
    (the longest path from the column's bottom)."""
    ids = [i for i, _ in column.inputs] + [b.id for b in column.boxes] + column.extra
    layer = dict.fromkeys(ids, 0)
    for _ in ids:               # longest path by relaxation (the column is acyclic)
        for tail, head in links:
            if tail in layer and head in layer and layer[head] < layer[tail] + 1:
                layer[head] = layer[tail] + 1
    per_layer = {}
    for i, k in layer.items():
        per_layer[k] = per_layer.get(k, 0.0) + widths.get(i, 1.0) + NODESEP
    return 0.3 + max(per_layer.values(), default=1.0)
