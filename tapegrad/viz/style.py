"""Colours and Graphviz defaults shared by the views."""

PARAM_FILL = "#cfe3f3"
USE_COLOR = "steelblue"
#: One colour per parameter: the border of every box that uses it (qualitative, colour-blind safe).
PARAM_COLORS = ("#0072b2", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#d55e00", "#000000")
RAIL_COLOR = "#d62728"
NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "12", "shape": "box",
              "style": "rounded,filled", "fillcolor": "white", "height": "0.3",
              "margin": "0.08,0.04"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "10", "color": "gray25", "arrowsize": "0.7"}
