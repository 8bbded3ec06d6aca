"""Errors the renderer raises on purpose."""
from ..errors import TapegradError

INSTALL_HINT = ("Install the Graphviz program: 'apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS) or 'conda install -c conda-forge graphviz'. "
                "Drawing.source (the DOT text) works without it.")


class DrawError(TapegradError, ValueError):
    """The graph cannot be drawn as asked (released graph, unknown focus, too many nodes)."""


class GraphvizNotFoundError(TapegradError, RuntimeError):
    """``render``/``pipe`` need the Graphviz ``dot`` program and it is not on PATH."""

    def __init__(self, what):
        super().__init__(f"{what} needs the Graphviz 'dot' program, which is not on PATH. "
                         f"{INSTALL_HINT}")
