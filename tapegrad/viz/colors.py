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
NONFINITE = {"style": "striped,bold", "fillcolor": "#ff00ff:#ffffff:#ff00ff:#ffffff",
             "color": "#cc0000", "penwidth": "3", "shape": "box", "fontcolor": "black"}
MAX_DECADES = 12              # norms below max / 10**12 share the palest colour


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
    """Maps a norm to a palette colour on log10 between the smallest and largest norm seen."""

    def __init__(self, norms):
        good = [n for n in norms if n is not None and math.isfinite(n) and n > 0]
        self.empty = not good
        self.hi = max(good) if good else 1.0
        self.lo = max(min(good), self.hi / 10 ** MAX_DECADES) if good else 1.0
        self.clipped = bool(good) and min(good) < self.lo

    def position(self, n):
        """0 (smallest) .. 1 (largest); None for zero, missing or non-finite."""
        if n is None or not math.isfinite(n) or n <= 0:
            return None
        if self.hi == self.lo:
            return 1.0
        p = (math.log10(max(n, self.lo)) - math.log10(self.lo)) / (
            math.log10(self.hi) - math.log10(self.lo))
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
            return "#ff00ff"
        if n is None or n == 0:
            return ZERO_FILL
        return PALETTE[self.index(n)]

    def penwidth(self, n):
        p = self.position(n)
        return "4" if is_bad(n) else f"{1.0 + 3.0 * (p or 0.0):.1f}"
