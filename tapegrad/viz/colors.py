"""One logarithmic colour scale for gradient norms across a whole drawing.

Nine steps of a pale-yellow-to-dark-red sequential scheme; exactly zero gets
its own neutral grey; NaN and Inf get a style that cannot be mistaken for a
large value (magenta stripes, a thick red border, the word in the label).
"""
import math

PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c",
           "#fc4e2a", "#e31a1c", "#bd0026", "#800026")
DARK_FROM = 6                 # palette entries from here on get white text
ZERO_FILL = "#eeeeee"
NONFINITE_FILL = "#ff00ff"
NONFINITE = {"style": "striped,bold",
             "fillcolor": f"{NONFINITE_FILL}:#ffffff:{NONFINITE_FILL}:#ffffff",
             "color": "#cc0000", "penwidth": "3", "shape": "box", "fontcolor": "black"}
MAX_DECADES = 12              # norms below the top decade by more than this share a colour
MIN_DECADES = 2               # a scale spans at least this many decades


def fmt(x):
    """A norm or share in 2-3 significant digits, readable at a glance."""
    if x is None:
        return "–"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    return f"{x:.2g}"


def is_bad(x):
    return x is not None and not math.isfinite(x)


class LogScale:
    """Maps a norm to a palette colour on a log10 scale whose ends are powers of ten.

    The ends are the decades around the smallest and largest norm seen, at
    least `MIN_DECADES` apart (so norms that differ by a factor of two
    do not span the whole palette and look alarming) and at most
    `MAX_DECADES` (smaller norms are clipped to the palest colour).
    """

    def __init__(self, norms):
        good = [n for n in norms if n is not None and math.isfinite(n) and n > 0]
        self.empty = not good
        top = math.ceil(math.log10(max(good))) if good else 0
        bottom = math.floor(math.log10(min(good))) if good else 0
        bottom = min(max(bottom, top - MAX_DECADES), top - MIN_DECADES)
        self.top, self.bottom = top, bottom
        self.hi = 10.0 ** top
        self.lo = 10.0 ** bottom
        self.clipped = bool(good) and min(good) < self.lo

    def position(self, n):
        """0 (bottom decade) .. 1 (top decade); None for zero, missing or non-finite."""
        if n is None or not math.isfinite(n) or n <= 0:
            return None
        p = (math.log10(n) - self.bottom) / (self.top - self.bottom)
        return min(max(p, 0.0), 1.0)

    def index(self, n):
        p = self.position(n)
        return None if p is None else min(int(p * len(PALETTE)), len(PALETTE) - 1)

    def node_style(self, n):
        """DOT attributes colouring a node whose gradient norm is ``n`` (None: no gradient)."""
        if n is None:
            return {}
        if is_bad(n):
            return dict(NONFINITE)
        if n == 0:
            return {"fillcolor": ZERO_FILL}
        i = self.index(n)
        style = {"fillcolor": PALETTE[i]}
        if i >= DARK_FROM:
            style["fontcolor"] = "white"
        return style

    def fill(self, n):
        """Just the fill colour (for table cells); zero grey, non-finite magenta."""
        if is_bad(n):
            return NONFINITE_FILL
        if n is None or n == 0:
            return ZERO_FILL
        return PALETTE[self.index(n)]

    def penwidth(self, n):
        p = self.position(n)
        return "4" if is_bad(n) else f"{1.0 + 3.0 * (p or 0.0):.1f}"
