"""DOT text emission: quoting, attribute lists, clusters -- deterministic by construction.

Statements come out in the order the views add them; attribute dicts keep
their insertion order; numbers are formatted by the caller.  Nothing here
needs Graphviz.
"""
import contextlib
import re

#: Inches per character of 12-point Helvetica, on average: for width estimates.
CHAR_WIDTH = 0.09


class Html(str):
    """An HTML-like label: emitted between ``<`` and ``>`` instead of quotes."""


def quote(value):
    if isinstance(value, Html):
        return f"<{value}>"
    text = str(value)
    if text.isidentifier() and text.isascii():
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def attr_list(attrs):
    items = [f"{k}={quote(v)}" for k, v in attrs.items() if v is not None]
    return f" [{', '.join(items)}]" if items else ""


class Dot:
    """A digraph being written, statement by statement."""

    def __init__(self, name, graph=None, node=None, edge=None):
        self.lines = [f"digraph {quote(name)} {{"]
        self.depth = 1
        self.node_ids = {}      # every node id stated or used by an edge, in first-seen order
        self.meta = {}          # node id -> what an interactive page shows about it
        self.widths = {}        # node id -> estimated width in inches (for folding)
        for kind, attrs in (("graph", graph), ("node", node), ("edge", edge)):
            if attrs:
                self.line(kind + attr_list(attrs))

    def line(self, text):
        self.lines.append("  " * self.depth + text)

    def comment(self, text):
        self.line(f"// {text}")

    def node(self, node_id, **attrs):
        self.node_ids.setdefault(node_id)
        if "label" in attrs:
            self.widths[node_id] = label_width(attrs["label"])
        self.line(quote(node_id) + attr_list(attrs))

    def edge(self, tail, head, **attrs):
        self.node_ids.setdefault(tail)
        self.node_ids.setdefault(head)
        self.line(f"{quote(tail)} -> {quote(head)}" + attr_list(attrs))

    def same_rank(self, ids):
        ids = list(dict.fromkeys(ids))
        if len(ids) > 1:
            self.line("{rank=same; " + " ".join(quote(i) + ";" for i in ids) + "}")

    @contextlib.contextmanager
    def subgraph(self, name, **attrs):
        self.line(f"subgraph {quote(name)} {{")
        self.depth += 1
        for k, v in attrs.items():
            if v is not None:
                self.line(f"{k}={quote(v)};")
        try:
            yield
        finally:
            self.depth -= 1
            self.line("}")

    def source(self):
        return "\n".join(self.lines + ["}"]) + "\n"


def label_width(label):
    """Estimated width in inches of a label: its longest line of text, plus margins."""
    text = re.sub(r"<BR[^>]*>", "\n", str(label)) if isinstance(label, Html) else str(label)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r"&[a-z]+;|&#[0-9]+;", "x", text)
    return 0.25 + CHAR_WIDTH * max((len(line) for line in text.split("\n")), default=0)
