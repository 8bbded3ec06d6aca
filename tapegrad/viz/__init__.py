"""``tapegrad.viz``: draw the computation graph on the tape.

    from tapegrad.viz import draw
    d = draw(loss)                     # unrolled view, gradient rails for shared weights
    d.render("rnn.svg")                # or show ``d`` in Jupyter; ``d.source`` is the DOT

Kept out of ``import tapegrad``: import it explicitly.
"""
from .drawing import Drawing, Ledger, LedgerEntry
from .errors import DrawError, GraphvizNotFoundError
from .graph import extract
from .options import Options
from . import rolled, tapeview, unrolled

_VIEWS = {"unrolled": unrolled.render, "rolled": rolled.render, "tape": tapeview.render}
_FEWER = {"unrolled": "Draw fewer: collapse='step' (one box per time step), steps=6 (the first "
                      "and last steps, the rest elided) or view='rolled'; or raise max_nodes.",
          "rolled": "Draw a smaller model, or raise max_nodes.",
          "tape": "Draw a shorter tape (view='unrolled' elides long sequences), or raise "
                  "max_nodes."}

__all__ = ["draw", "Drawing", "DrawError", "GraphvizNotFoundError", "Ledger", "LedgerEntry"]


def draw(root, view="unrolled", steps="auto", focus=None, collapse=None,
         show=("op", "shape", "grad"), color_by="grad_norm", max_nodes=400, title=None):
    """Draw the graph behind ``root`` (a tensor, usually the loss, or a ``Tape``).

    ``view``: ``"unrolled"`` (one cluster per time step, time left to right,
    a gradient rail per focused parameter), ``"rolled"`` (the cell once, each
    shared parameter with a strip of per-step gradient norms) or ``"tape"``
    (the raw Wengert list).  ``steps``: ``"auto"`` (all up to 8, else the
    first and last 3 with the rest elided), ``"all"``, an int (how many to
    draw) or a list of step numbers.  ``focus``: parameter name(s) that get a
    gradient rail (default: the recurrent weights, else every weight shared
    across steps).  ``collapse``: ``"step"`` (one box per time step) or a
    scope depth.  ``show``: which label lines (``op``, ``shape``, ``grad``,
    ``site``, ``scope``).  ``color_by``: ``"grad_norm"`` or None.  More than
    ``max_nodes`` nodes raises `DrawError` with what to do instead.
    ``title``: a first line for the legend (what was drawn), before the call.

    The graph must still hold its saved values: draw before ``backward()``,
    or after ``backward(retain_graph=True)``.  Drawing never changes any ``.grad``.
    """
    if isinstance(focus, str):
        focus = (focus,)
    elif focus is not None:
        focus = tuple(focus)
    opts = Options(view=view, steps=steps, focus=focus, collapse=collapse, show=tuple(show),
                   color_by=color_by, max_nodes=max_nodes, title=title)
    graph = extract(root)
    dot = _VIEWS[view](graph, opts)
    if len(dot.node_ids) > max_nodes:
        raise DrawError(f"draw: this drawing needs {len(dot.node_ids)} nodes, more than "
                        f"max_nodes={max_nodes}. {_FEWER[view]}")
    return Drawing(dot.source(), graph, opts, dot.meta)
