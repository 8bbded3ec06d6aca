"""Gradient rails: a parameter's gradient drawn as the sum of its per-step terms."""
from . import gradients
from .colors import fmt
from .dot import Html
from .graph import ident
from .labels import esc, op_text, small
from .steps import run_of, step_range
from .style import RAIL_COLOR


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
    """The rail of ``param``: one term per drawn step, per elided run, and per use outside
    the steps, in tape order; each holds the sum of its uses (value, norm, signed share)."""
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
    """The recurrent weights (``W_hh``), else every weight shared across steps."""
    return graph.recurrent_params() or graph.shared_params()


def focus_params(graph, opts):
    """The parameters that get a rail: ``opts.focus`` by name, or the default."""
    if opts.focus is None:
        return default_focus(graph)
    return graph.find_params(opts.focus)


def draw_rail(dot, p, terms, scale, colour, ranks, root_box):
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
