"""The tape view: the raw Wengert list, one node per record in tape order, for debugging.

Each node reads as an assignment, ``#7  v7 = mul(v3, v5)``, with the output
shape, dtype, source line and scope path; data edges connect them, and
invisible edges keep them in execution order from top to bottom.
"""
from .colors import LogScale, fmt
from .dot import Dot, Html
from .graph import Leaf, OpNode
from .labels import (colour_bar, constant_text, esc, heading, legend, loss_fact, out_shape_text,
                     prose, shape_text, small)
from .style import EDGE_ATTRS, PARAM_FILL

GRAPH_ATTRS = {"rankdir": "TB", "fontname": "Courier", "fontsize": "11", "nodesep": "0.25",
               "ranksep": "0.2", "labelloc": "t", "labeljust": "l"}
NODE_ATTRS = {"fontname": "Courier", "fontsize": "10", "shape": "box", "style": "filled",
              "fillcolor": "white", "height": "0.25", "margin": "0.08,0.03"}


def render(graph, opts):
    """The tape view, as a `Dot`."""
    names = {}
    for leaf in graph.params + graph.inputs:
        names[leaf] = leaf.name
    for op in graph.ops:
        names[op] = f"v{op.pos}"
    scale = LogScale([op.grad_norm for op in graph.ops] if opts.color_by else [])
    rows = [heading(opts, [f"{len(graph.ops)} records"] + loss_fact(graph))]
    if graph.has_grad and opts.color_by:
        rows.append(colour_bar(scale, "fill: |grad| of each output, one log scale:"))
    if graph.why_no_grad:
        rows.append(prose(graph.why_no_grad))
    dot = Dot("tapegrad_tape", graph=dict(GRAPH_ATTRS, label=legend(rows)),
              node=NODE_ATTRS, edge=EDGE_ATTRS)
    for leaf in graph.params + graph.inputs:
        fill = PARAM_FILL if leaf.is_param else "gray93"
        dot.node(leaf.id, label=f"{leaf.name} = input {shape_text(leaf.shape)}"
                 + (" requires_grad" if leaf.is_param else ""), fillcolor=fill)
    previous = None
    for op in graph.ops:
        args = []
        for i, src in enumerate(op.sources):
            if src is None:
                args.append(constant_text(op.rec.inputs[i]))
            else:
                slot = op.slots[i]
                args.append(names[src] + (f"[{slot}]" if slot >= 0 else "") + op.marks[i])
        text = f"#{op.pos}  {names[op]} = {op.name}({', '.join(args)})"
        lines = [f"<B>{esc(text)}</B>", small(esc(f"{out_shape_text(op)}  {op.rec.site}"
                                                  + (f"  {op.scope_path}" if op.scope_path
                                                     else "")))]
        if "grad" in opts.show and op.grad_norm is not None:
            lines.append(small(esc(f"|grad| {fmt(op.grad_norm)}")))
        dot.node(op.id, label=Html("<BR/>".join(lines)),
                 **(scale.node_style(op.grad_norm) if opts.color_by else {}))
        if previous is not None:
            dot.edge(previous.id, op.id, style="invis", weight="10")
        previous = op
    for op in graph.ops:
        for src in dict.fromkeys(s for s in op.sources if isinstance(s, (OpNode, Leaf))):
            dot.edge(src.id, op.id, constraint="false" if isinstance(src, OpNode) else None,
                     color="gray40")
    return dot
