"""Gradient rails: a parameter's gradient drawn as the sum of its per-step terms."""
from . import gradients
from .colors import fmt
from .dot import Html
from .graph import ident
from .labels import esc, op_text, small
from .layout import NEXT_RANK, band
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
    return "share " + percent(share)


def percent(share):
    """``63%``; shares under 1% keep two significant digits (``-0.0031%``), so that a tiny
    term does not read as ``-0%``."""
    if share is None or share != share:
        return "–"
    pct = 100 * share
    if pct == 0 or abs(pct) >= 0.995:
        return f"{pct:.0f}%"
    return f"{pct:.2g}%"


def default_focus(graph):
    """The recurrent weights (``W_hh``), else every weight shared across steps."""
    return graph.recurrent_params() or graph.shared_params()


def focus_params(graph, opts):
    """The parameters that get a rail: ``opts.focus`` by name, or the default."""
    if opts.focus is None:
        return default_focus(graph)
    return graph.find_params(opts.focus)


def draw_rail(dot, p, terms, scale, colour, ranks, root_box, level):
    """The rail of ``p`` on a line of its own: each term level with its use when that box
    is in ``level`` (alone on its rank), else just after it (see
    `Bus`); ``W.grad`` level with the loss."""
    total_id = f"rail_{ident(p.name)}_sum"
    with band(dot, f"rail_{ident(p.name)}"):
        for term in terms:
            uses = f" ({len(term.uses)} uses)" if len(term.uses) > 1 else ""
            lines = [small(esc(f"∂L/∂{p.short}")), f"<B>{esc(term.text + uses)}</B>",
                     small(esc(f"norm {fmt(term.norm)}")), small(esc(share_text(term.share)))]
            attrs = colour(term.norm)
            attrs.setdefault("color", RAIL_COLOR)
            dot.node(term.id, label=Html("<BR/>".join(lines)),
                     style=attrs.pop("style", "filled"), fontsize="10", **attrs)
            if term.anchor in level:
                ranks.setdefault(term.anchor, []).append(term.id)
        n_uses = sum(len(t.uses) for t in terms)
        label = (f"<B>{esc(p.name)}.grad</B> = Σ of {n_uses} use{'s' if n_uses != 1 else ''}"
                 f"<BR/>{small(esc('norm ' + fmt(gradients.norm(p.grad))))}")
        dot.node(total_id, label=Html(label), style="filled", fillcolor="#fff0f0",
                 color=RAIL_COLOR, peripheries="2")
    for term in terms:
        dot.edge(term.anchor, term.id, color=RAIL_COLOR, penwidth=scale.penwidth(term.norm),
                 weight=None if term.anchor in level else NEXT_RANK)
    chain = [t.id for t in terms] + [total_id]
    for k, (a, b) in enumerate(zip(chain, chain[1:])):
        last = b == total_id
        dot.edge(a, b, xlabel="=" if last else "+", color=RAIL_COLOR, fontcolor=RAIL_COLOR,
                 penwidth=scale.penwidth(terms[k].norm))
    if root_box is not None:
        ranks.setdefault(root_box.id, []).append(total_id)
