"""The interactive page: one self-contained HTML file with the drawing's SVG.

Everything is inline (the SVG, the style, the script and the facts about each
node as JSON), so the file opens without a network.  The script: pan (drag)
and zoom (wheel, or the + / − / fit buttons); hovering a node shows its op,
shapes, value and gradient norms, source line and step; clicking a parameter
highlights the nodes that use it and its rail terms (click again, or on the
background, to clear); a time-step slider highlights step t across the graph.
"""
import html
import json

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ margin: 0; font: 14px Helvetica, Arial, sans-serif; background: #fafafa; }}
#bar {{ position: fixed; top: 0; left: 0; right: 0; padding: 6px 10px; background: #fff;
        border-bottom: 1px solid #ccc; z-index: 2; display: flex; gap: 12px;
        align-items: center; }}
#view {{ position: absolute; top: 44px; left: 0; right: 0; bottom: 0; overflow: hidden;
         cursor: grab; }}
#view svg {{ transform-origin: 0 0; }}
#tip {{ position: fixed; display: none; background: #fffff0; border: 1px solid #888;
        padding: 6px 8px; font-size: 13px; pointer-events: none; z-index: 3;
        white-space: pre; box-shadow: 2px 2px 6px rgba(0,0,0,.2); }}
g.node.dim, g.edge.dim {{ opacity: 0.18; }}
g.node.lit > path, g.node.lit > polygon, g.node.lit > ellipse {{ stroke: #000;
        stroke-width: 4px; }}
</style>
</head>
<body>
<div id="bar"><b>{title}</b>
<button id="zoom-in">+</button><button id="zoom-out">&#8722;</button>
<button id="fit">fit</button>
<label>step <input id="step" type="range" min="0" max="{max_step}" value="0">
<span id="step-text">all</span></label>
<span>hover: facts &#183; click a parameter: its uses and terms</span></div>
<div id="view">{svg}</div>
<div id="tip"></div>
<script>
var META = {meta};
var STEPS = {steps};
{script}
</script>
</body>
</html>
"""

SCRIPT = r"""
(function () {
  var view = document.getElementById("view");
  var svg = view.querySelector("svg");
  var tip = document.getElementById("tip");
  var scale = 1, x = 0, y = 0;
  function place() {
    svg.style.transform = "translate(" + x + "px," + y + "px) scale(" + scale + ")";
  }
  function fit() {
    var w = svg.width.baseVal.value, h = svg.height.baseVal.value;
    scale = Math.min(view.clientWidth / w, view.clientHeight / h, 1);
    x = 0; y = 0; place();
  }
  document.getElementById("zoom-in").onclick = function () { scale *= 1.25; place(); };
  document.getElementById("zoom-out").onclick = function () { scale /= 1.25; place(); };
  document.getElementById("fit").onclick = fit;
  view.addEventListener("wheel", function (e) {
    e.preventDefault();
    var k = e.deltaY < 0 ? 1.15 : 1 / 1.15;
    var r = view.getBoundingClientRect();
    var px = e.clientX - r.left, py = e.clientY - r.top;
    x = px - (px - x) * k; y = py - (py - y) * k; scale *= k; place();
  }, {passive: false});
  var drag = null;
  view.addEventListener("mousedown", function (e) { drag = [e.clientX - x, e.clientY - y]; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (drag) { x = e.clientX - drag[0]; y = e.clientY - drag[1]; place(); }
  });

  var nodes = {};
  svg.querySelectorAll("g.node").forEach(function (g) {
    var t = g.querySelector("title");
    if (t) { nodes[t.textContent] = g; g.dataset.id = t.textContent; g.removeChild(t); }
  });
  function fmt(v) {
    if (v === null || v === undefined) { return "\u2013"; }
    if (typeof v !== "number") { return String(v); }
    return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2)
                                                                  : String(+v.toPrecision(3));
  }
  function describe(id) {
    var m = META[id], lines = [];
    if (m.kind === "param") {
      lines.push(m.name + "  " + m.shape, "|grad| " + fmt(m.grad),
                 "used by " + m.uses.length + " node(s); click to highlight them");
    } else if (m.kind === "term" || m.kind === "sum") {
      lines.push("\u2202L/\u2202" + m.name + (m.step ? "  " + m.step : " (total)"),
                 "norm " + fmt(m.grad) + (m.share !== undefined ? "   share " +
                 fmt(100 * m.share) + "%" : ""));
    } else {
      lines.push(m.text + "   (" + m.op + ")", "shape " + m.shape);
      if (m.value !== undefined) { lines.push("|value| " + fmt(m.value)); }
      lines.push("|grad| " + fmt(m.grad), "at " + m.site + (m.scope ? "   " + m.scope : ""));
      if (m.step !== null) { lines.push("step t=" + m.step); }
      if (m.uses.length) { lines.push("uses " + m.uses.join(", ")); }
    }
    return lines.join("\n");
  }
  Object.keys(nodes).forEach(function (id) {
    var g = nodes[id];
    if (!META[id]) { return; }
    g.addEventListener("mouseenter", function (e) {
      tip.textContent = describe(id);
      tip.style.display = "block";
      tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 14) + "px";
    });
    g.addEventListener("mousemove", function (e) {
      tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 14) + "px";
    });
    g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    if (META[id].kind === "param") {
      g.style.cursor = "pointer";
      g.addEventListener("click", function (e) {
        e.stopPropagation();
        highlight(lit === id ? null : id, META[id].uses.concat(META[id].terms, [id]));
      });
    }
  });
  var lit = null;
  function highlight(key, ids) {
    lit = key;
    var keep = {};
    (ids || []).forEach(function (i) { keep[i] = true; });
    Object.keys(nodes).forEach(function (id) {
      var on = key !== null && keep[id] === true;
      nodes[id].classList.toggle("lit", on);
      nodes[id].classList.toggle("dim", key !== null && !on);
    });
    svg.querySelectorAll("g.edge").forEach(function (g) {
      g.classList.toggle("dim", key !== null);
    });
  }
  view.addEventListener("click", function () { if (lit !== null) { highlight(null); } });
  var slider = document.getElementById("step");
  slider.addEventListener("input", function () {
    var t = +slider.value;
    document.getElementById("step-text").textContent = t ? "t=" + STEPS[t - 1] : "all";
    if (!t) { highlight(null); return; }
    var ids = Object.keys(META).filter(function (id) {
      var s = META[id].step;
      return s === STEPS[t - 1] || s === "t=" + STEPS[t - 1];
    });
    highlight("step" + t, ids);
  });
  fit();
})();
"""


def page(svg, meta, steps, title):
    """The HTML text of the interactive page for a rendered ``svg`` (text) and the drawing's
    node facts ``meta``."""
    start = svg.find("<svg")
    return TEMPLATE.format(title=html.escape(title), svg=svg[start:], max_step=len(steps),
                           meta=_json(meta), steps=_json(list(steps)), script=SCRIPT)


def _json(value):
    """JSON safe to put inside a ``<script>`` element."""
    return json.dumps(value, sort_keys=True).replace("</", "<\\/")
