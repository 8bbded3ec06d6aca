"""``Drawing``: the DOT source of a drawing, its per-use ledger, and rendering.

``.source`` is plain text and needs nothing installed.  ``render``/``pipe``
run the Graphviz ``dot`` program (found on PATH when called); without it they
raise `GraphvizNotFoundError` saying how to install it.
"""
import os
import shutil
import subprocess

from .colors import fmt
from .errors import INSTALL_HINT, DrawError, GraphvizNotFoundError
from .page import page

FORMATS = ("svg", "png", "pdf", "json", "dot")
#: What ``render`` writes: Graphviz's formats, and the interactive page.
FILE_FORMATS = FORMATS + ("html",)


class LedgerEntry:
    """One use of a parameter and its gradient term (see `Drawing.ledger`)."""

    __slots__ = ("step", "index", "op", "scope", "site", "norm", "share", "value")

    def __init__(self, use):
        rec = None if use.op is None else use.op.rec
        self.step = use.step
        self.index = None if rec is None else rec.index
        self.op = "(unused)" if rec is None else use.op.name
        self.scope = "" if rec is None else rec.scope_path
        self.site = "" if rec is None else rec.site
        self.norm = use.norm
        self.share = use.share
        self.value = use.value

    def __repr__(self):
        step = "" if self.step is None else f" t={self.step}"
        return (f"<LedgerEntry {self.op}#{self.index}{step} norm={fmt(self.norm)} "
                f"share={fmt(self.share)}>")


class Ledger(list):
    """The uses of one parameter, in tape order; ``print`` shows them as a table."""

    def __init__(self, name, entries, total):
        super().__init__(entries)
        self.name = name
        self.total = total        # the parameter's gradient (the entries' values sum to it)

    def __str__(self):
        rows = [f"{self.name}: {len(self)} uses", f"{'step':>5} {'op':>10} {'#':>6} "
                f"{'norm':>10} {'share':>8}  scope"]
        for e in self:
            share = "–" if e.share is None or e.share != e.share else f"{100 * e.share:.1f}%"
            rows.append((f"{'' if e.step is None else e.step:>5} {e.op:>10} "
                        f"{'–' if e.index is None else e.index:>6} "
                        f"{fmt(e.norm):>10} {share:>8}  {e.scope}").rstrip())
        return "\n".join(rows)


def dot_program():
    return shutil.which("dot")


class Drawing:
    """A computation graph drawn as DOT text (``.source``), ready to render."""

    def __init__(self, source, graph, options, meta=None):
        self.source = source
        self.graph = graph
        self.options = options
        self.meta = meta or {}      # node id -> what the interactive page shows about it

    def uses(self, param_name):
        """The ids of the drawn nodes that use a parameter (a step's rows of a batched
        product count as a use in that step), in time order."""
        (p,) = self.graph.find_params([param_name])
        return list(self.meta.get(p.id, {}).get("uses", ()))

    def ledger(self, param_name):
        """The per-use gradient terms of a parameter: step, op index, norm, signed share.

        ``param_name`` is the name ``named_parameters()`` gives (``rnn.weight_hh_l0``),
        or a unique last part of it (``weight_hh_l0``).  The entries' ``value``
        arrays sum to the parameter's gradient; share = ``<value, G> / <G, G>``
        with ``G`` that gradient, so the shares sum to 1.
        """
        if not self.graph.has_grad:
            raise DrawError(f"Drawing.ledger: {self.graph.why_no_grad}; draw a scalar loss.")
        (p,) = self.graph.find_params([param_name])
        return Ledger(p.name, [LedgerEntry(u) for u in p.uses], p.grad)

    @property
    def params(self):
        """The names of the parameters in the drawing, in order of first use."""
        return [p.name for p in self.graph.params]

    def pipe(self, format="svg"):
        """The rendered drawing as bytes (needs Graphviz ``dot``)."""
        if format not in FORMATS:
            raise DrawError(f"Drawing.pipe: format must be one of {FORMATS}, got {format!r}.")
        program = dot_program()
        if program is None:
            raise GraphvizNotFoundError(f"Drawing.pipe(format={format!r})")
        done = subprocess.run([program, f"-T{format}"], input=self.source.encode("utf-8"),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise DrawError(f"Graphviz dot failed ({done.returncode}): "
                            f"{done.stderr.decode('utf-8', 'replace').strip()}")
        return done.stdout

    def render(self, path, format=None):
        """Write the drawing to ``path``; the format defaults to the file's extension."""
        path = os.fspath(path)
        if format is None:
            format = os.path.splitext(path)[1].lstrip(".").lower() or "svg"
        if format not in FILE_FORMATS:
            raise DrawError(f"Drawing.render({path!r}): cannot write format {format!r}. Fix: "
                            f"end the file name in one of {FILE_FORMATS} or pass format=.")
        if format == "html":
            return self.to_html(path)
        if format == "dot":
            data = self.source.encode("utf-8")
        else:
            if dot_program() is None:
                raise GraphvizNotFoundError(f"Drawing.render({path!r})")
            data = self.pipe(format)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def to_html(self, path):
        """Write one self-contained HTML page (no network needed): the SVG with pan and
        zoom, a node's facts on hover, a parameter's uses and terms on click, and a slider
        that highlights one time step.  Needs Graphviz ``dot``."""
        path = os.fspath(path)
        if dot_program() is None:
            raise GraphvizNotFoundError(f"Drawing.to_html({path!r})")
        title = self.options.title or self.options.call_text()
        text = page(self.pipe("svg").decode("utf-8"), self.meta, self.graph.steps(), title)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = f"<Drawing: {self.options.view} view, {self.source.count(chr(10))} lines of DOT>"
        if dot_program() is None:
            return {"text/plain": f"{text}. {INSTALL_HINT}"}
        return {"image/svg+xml": self.pipe("svg").decode("utf-8"), "text/plain": text}

    def __repr__(self):
        return f"<Drawing: {self.options.view} view, {len(self.graph.ops)} operations>"
