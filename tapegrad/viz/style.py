"""Colours and Graphviz defaults shared by the views."""

PARAM_FILL = "#cfe3f3"
USE_COLOR = "steelblue"
RAIL_COLOR = "#d62728"
NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "shape": "box",
              "style": "rounded,filled", "fillcolor": "white", "height": "0.3",
              "margin": "0.08,0.04"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "10", "color": "gray25", "arrowsize": "0.7"}
