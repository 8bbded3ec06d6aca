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

    def __init__(self, node_id, text, column, anchor):
        self.id = node_id
        self.text = text
        self.column = column      # the column it is drawn in (None: outside the steps)
        self.anchor = anchor      # the box of its first use (None: no use drawn)
        self.uses = []
        self.value = None
        self.norm = None
        self.share = None


def rail_terms(param, view):
    """The rail of ``param``: one term per drawn step, per elided run, and per use outside
    the steps, in time order; each holds the sum of its uses (value, norm, signed share)."""
    terms = {}
    columns = view.columns
    for u in param.uses:
        if u.step is None:
            key, text, suffix, column = ("op", u.op.pos), f"from {op_text(u.op)}", \
                f"op{u.op.pos}", None
        elif u.step in view.drawn:
            key, text, suffix = ("step", u.step), f"t={u.step}", f"t{u.step}"
            box = view.use_box(u)
            column = next((c for c in columns if box is not None and box in c.boxes), None) \
                or next((c for c in columns if c.order[0] == u.step), None)
        else:
            run = run_of(u.step, view.runs)
            key, text, suffix = ("run", run), step_range(*run), f"t{run[0]}_{run[1]}"
            column = next((c for c in columns if c.key[:1] == ("elided",) and c.key[2] == run),
                          None)
        term = terms.get(key)
        if term is None:
            box = view.use_box(u)
            term = terms[key] = Term(f"rail_{ident(param.name)}_{suffix}", text, column,
                                     None if box is None else box.id)
        term.uses.append(u)
    found = sorted(terms.values(), key=lambda t: (t.column is None, min(
        (u.step for u in t.uses if u.step is not None), default=0)))
    for term in found:
        if param.grad is not None:
            term.value = sum(u.value for u in term.uses)
            term.norm = gradients.norm(term.value)
            term.share = sum(u.share for u in term.uses)
        if term.column is not None:
            term.column.extra.append(term.id)
    return found


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
    """The weights shared across steps (matrices: input, recurrent, output), else every
    shared parameter."""
    shared = graph.shared_params()
    return [p for p in shared if len(p.shape) >= 2] or shared


def focus_params(graph, opts):
    """The parameters that get a rail: ``opts.focus`` by name, or the default."""
    if opts.focus is None:
        return default_focus(graph)
    return graph.find_params(opts.focus)


def term_node(dot, p, term, scale, opts):
    """A rail term: ``∂L/∂W_hh  t=2``, its norm and signed share, filled by its norm."""
    uses = f" ({len(term.uses)} uses)" if len(term.uses) > 1 else ""
    if all(u.op is None for u in term.uses):
        uses = " (not used)"
    lines = [f"<B>{esc(f'∂{p.name}  {term.text}')}</B>" + (small(esc(uses)) if uses else ""),
             small(esc(f"{fmt(term.norm)}  ({percent(term.share)})"))]
    attrs = scale.node_style(term.norm) if opts.color_by else {}
    attrs = dict(attrs, color=RAIL_COLOR)
    dot.node(term.id, label=Html("<BR/>".join(lines)), style=attrs.pop("style", "filled"),
             **attrs)
    dot.meta[term.id] = {"kind": "term", "name": p.name, "step": term.text,
                         "grad": term.norm, "share": term.share,
                         "uses": [u.op.rec.site for u in term.uses if u.op is not None][:3]}


def sum_node(dot, p, terms):
    """``W.grad = Σ of T terms``, level with nothing in particular: after the last term."""
    n = len(terms)
    label = (f"<B>{esc(p.name)}.grad</B><BR/>"
             + small(esc(f"= Σ of {n} term{'s' if n != 1 else ''}, norm "
                         f"{fmt(gradients.norm(p.grad))}")))
    total = sum_id(p)
    dot.node(total, label=Html(label), style="filled", fillcolor="#fff0f0", color=RAIL_COLOR,
             peripheries="2")
    dot.meta[total] = {"kind": "sum", "name": p.name, "grad": gradients.norm(p.grad)}


def stack_terms(dot, terms_of):
    """Terms of several rails on one box (an elided run) one above the other, not side by
    side: the column stays narrow."""
    on = {}
    for terms in terms_of.values():
        for t in terms:
            if t.anchor is not None:
                on.setdefault(t.anchor, []).append(t.id)
    for ids in on.values():
        for a, b in zip(ids, ids[1:]):
            dot.edge(a, b, style="invis")


def sum_id(p):
    return f"rail_{ident(p.name)}_sum"


def rail_edges(dot, p, terms, scale):
    """The use -> term edges (width ~ norm) and the ``+`` chain into the sum."""
    for term in terms:
        if term.anchor is not None:
            dot.edge(term.anchor, term.id, color=RAIL_COLOR, penwidth=scale.penwidth(term.norm),
                     constraint=None if term.column is not None else "false")
    chain = [t.id for t in terms] + [sum_id(p)]
    for k, (a, b) in enumerate(zip(chain, chain[1:])):
        dot.edge(a, b, xlabel="=" if b == chain[-1] else "+", color=RAIL_COLOR,
                 fontcolor=RAIL_COLOR, penwidth=scale.penwidth(terms[k].norm),
                 constraint="false")
