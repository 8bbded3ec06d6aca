"""Node labels and the legend, as HTML-like Graphviz labels (well-formed XML), shared by
the three views.

Every piece of user text (names, scope paths, source lines) goes through
`esc`; labels are built from a few small tag helpers so they stay
balanced.
"""
import html

from . import gradients
from .colors import NONFINITE_FILL, PALETTE, ZERO_FILL, fmt
from .dot import Html
from .graph import Leaf, parameter_expression

INFIX = {"matmul": "@", "add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^"}


def esc(text):
    return html.escape(str(text), quote=True)


def small(text, size=10):
    """Smaller text in the node's own font colour (readable on dark fills too)."""
    return f'<FONT POINT-SIZE="{size}">{text}</FONT>'


def shape_text(shape):
    if not shape:
        return "scalar"
    return "(" + ", ".join(str(n) for n in shape) + ")" if len(shape) != 1 else f"({shape[0]},)"


def constant_text(value):
    """A constant operand as drawn: a Python number's value, else ``const`` (arrays)."""
    return fmt(float(value)) if isinstance(value, (int, float)) else "const"


def operand(node, i):
    """A short name for input ``i`` of an operation: a leaf's name or a constant, else None."""
    src = node.sources[i]
    if isinstance(src, Leaf):
        return src.short + node.marks[i]
    if src is None:
        return constant_text(node.rec.inputs[i])
    if parameter_expression(src):
        return f"({op_text(src)})"
    return None


def uses_text(param):
    """``used at t=1..5``, ``used 3×``: where a parameter is used, in a few words."""
    used = [u for u in param.uses if u.op is not None]     # not the zero terms of unused steps
    steps = sorted({u.step for u in used if u.step is not None})
    n = len(used)
    if not steps:
        return f"used {n}×" if n != 1 else "used once"
    if len(steps) <= 6 and steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 3:
        return f"used at t={steps[0]}..{steps[-1]}"
    if len(steps) <= 6:
        return "used at t=" + ",".join(str(s) for s in steps)
    return f"used {n}× (t={steps[0]}..{steps[-1]})"


def param_label(p, note=None):
    """A parameter's label: name, shape, where it is used, its gradient norm, an optional note."""
    lines = [f"<B>{esc(p.name)}</B>", small(esc(shape_text(p.shape) + "  " + uses_text(p)))]
    if p.grad is not None:
        lines.append(small(esc(f"|grad| {fmt(gradients.norm(p.grad))}")))
    if note:
        lines.append(small(f"<I>{esc(note)}</I>"))
    return Html("<BR/>".join(lines))


def input_attrs(leaf):
    """Node attributes of an input or constant leaf: its name and shape in a grey ellipse."""
    return {"label": f"{leaf.name}  {shape_text(leaf.shape)}", "shape": "ellipse",
            "fillcolor": "gray93", "fontsize": "10"}


def op_text(node):
    """``h @ W_hh``-style text: the operation with the names of its leaf operands
    (``addmm(c, a, b)`` as ``c + a @ b``)."""
    names = [operand(node, i) for i in range(len(node.sources))]
    if node.name == "addmm" and len(names) == 3:       # c + a @ b, unnamed operands left out
        return " ".join(x for x in (names[0], "+", names[1], "@", names[2]) if x)
    sym = INFIX.get(node.name)
    if sym and len(names) == 2:
        if names[0] is None and names[1] is None:
            return sym
        return " ".join(x for x in (names[0], sym, names[1]) if x)
    name = display_name(node.name)
    if len(node.shapes) > 1:
        return f"{name} → {len(node.shapes)}"
    args = [n for n in names if n]
    return name + (f"({', '.join(args)})" if args else "")


def display_name(op_name):
    """A primitive's name as a reader knows it: ``stack_`` -> ``stack``."""
    return op_name.rstrip("_") or op_name


def out_shape_text(node):
    if len(node.shapes) == 1:
        return shape_text(node.shapes[0])
    if len(set(node.shapes)) == 1:
        return f"{len(node.shapes)} × {shape_text(node.shapes[0])}"
    return f"{len(node.shapes)} outputs"


def op_label(node, show, is_root=False):
    """HTML label of one operation: text, shape, gradient norm, source line, scope path (as
    ``show`` asks); the root reads ``loss = value``."""
    lines = []
    if is_root:
        value = node.value
        scalar = value is not None and value.size == 1
        lines.append("<B>loss</B>" + (" = " + esc(fmt(float(value.reshape(-1)[0]))) if scalar
                                      else ""))
        if "op" in show:
            lines.append(small(esc(op_text(node))))
    elif "op" in show:
        lines.append(f"<B>{esc(op_text(node))}</B>")
    if "shape" in show and not (is_root and node.shapes == [()]):
        lines.append(small(esc(out_shape_text(node))))
    if "grad" in show and node.grad_norm is not None and not is_root:
        lines.append(small("|grad| " + esc(fmt(node.grad_norm))))
    if "site" in show:
        lines.append(small(esc(node.rec.site)))
    if "scope" in show and node.scope_path:
        lines.append(small(esc(node.scope_path)))
    return Html("<BR/>".join(lines) or esc(node.name))


def colour_bar(scale, caption, cells=9):
    """A legend row: ``caption``, the palette between the scale's two ends, and the
    swatches for exactly zero and for NaN/Inf."""
    def swatch(colour):
        return f'<TD BGCOLOR="{colour}" WIDTH="18" HEIGHT="11" FIXEDSIZE="TRUE"></TD>'
    low = ("≤ " if scale.clipped else "") + fmt(scale.lo)
    return ('<TABLE ALIGN="LEFT" BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
            f'<TR><TD>{esc(caption)}  {esc(low)} </TD>'
            + "".join(swatch(c) for c in PALETTE[:cells])
            + f'<TD> {esc(fmt(scale.hi))}      </TD>{swatch(ZERO_FILL)}<TD> exactly 0   </TD>'
            f'{swatch(NONFINITE_FILL)}<TD> NaN/Inf</TD></TR></TABLE>')


def heading(opts, facts):
    """The legend's first row: the title (if given), the ``draw`` call, then ``facts``."""
    call = esc(opts.call_text())
    head = f"<B>{esc(opts.title)}</B>   {call}" if opts.title else f"<B>{call}</B>"
    return head + "".join(esc("   " + f) for f in facts)


def loss_fact(graph):
    """``["loss = 0.462"]`` when the root is one number, else ``[]``."""
    root = graph.root
    if root is None or root.value is None or root.value.size != 1:
        return []
    return [f"loss = {fmt(float(root.value.reshape(-1)[0]))}"]


def prose(text, width=100):
    """Plain text for a legend row, escaped and broken into lines of at most ``width``
    characters.  Legend rows stay narrower than the colour bar: Graphviz stretches a
    table nested in a row to the legend's full width, spreading its swatches apart."""
    lines, line = [], ""
    for word in str(text).split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return '<BR ALIGN="LEFT"/>'.join(esc(x) for x in lines + [line])


def legend(rows):
    """The graph label: one left-aligned row per entry (entries are HTML fragments)."""
    body = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{r}</TD></TR>' for r in rows if r)
    return Html(f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{body}'
                f'</TABLE>')
