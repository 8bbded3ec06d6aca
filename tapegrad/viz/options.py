"""The drawing options ``draw`` accepts, checked once."""
from dataclasses import dataclass

from .errors import DrawError

VIEWS = ("unrolled", "rolled", "tape")
SHOW = ("op", "shape", "grad", "site", "scope")
COLOR_BY = ("grad_norm", None)


@dataclass(frozen=True)
class Options:
    view: str = "unrolled"
    steps: object = "auto"
    focus: tuple = None           # parameter names, or None for the default choice
    collapse: object = None       # None, "step", or a scope depth (int >= 1)
    show: tuple = ("op", "shape", "grad")
    color_by: str = "grad_norm"
    max_nodes: int = 400
    title: str = None

    def __post_init__(self):
        if self.view not in VIEWS:
            raise DrawError(f"draw: view must be one of {VIEWS}, got {self.view!r}.")
        unknown = [s for s in self.show if s not in SHOW]
        if unknown:
            raise DrawError(f"draw: show={self.show!r} has unknown entries {unknown}; choose "
                            f"from {SHOW}.")
        if self.color_by not in COLOR_BY:
            raise DrawError(f"draw: color_by must be 'grad_norm' or None, got "
                            f"{self.color_by!r}.")
        c = self.collapse
        if not (c is None or c == "step" or (isinstance(c, int) and not isinstance(c, bool)
                                               and c >= 1)):
            raise DrawError(f"draw: collapse must be None, 'step' or a scope depth >= 1 (e.g. "
                            f"2 to draw each 'model/rnn' box as one), got {c!r}.")
        if not isinstance(self.max_nodes, int) or self.max_nodes < 1:
            raise DrawError(f"draw: max_nodes must be a positive int, got {self.max_nodes!r}.")

    def call_text(self):
        """``draw(loss, view='unrolled', focus='W_hh')``: the non-default options, as code."""
        parts = [f"view={self.view!r}"]
        defaults = Options()
        for name in ("steps", "focus", "collapse", "show", "color_by", "max_nodes"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                if name == "focus" and value is not None and len(value) == 1:
                    value = value[0]
                parts.append(f"{name}={value!r}")
        return "draw(loss, " + ", ".join(parts) + ")"
