"""Rendering with Graphviz ``dot``, and the error when it is missing."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from tapegrad.viz import DrawError, GraphvizNotFoundError, draw
from tapegrad.viz.models import build

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.needs_dot


def svg_titles(svg):
    """(kind, title) of every node, edge and cluster group in an SVG from dot."""
    root = ET.fromstring(svg)
    found = []
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if g.get("class") in ("node", "edge", "cluster") and title is not None:
            if not title.text.startswith("cluster_band_"):        # layout bands
                found.append((g.get("class"), title.text))
    return found


def cluster_boxes(drawing):
    """cluster name -> (x0, y0, x1, y1) from ``dot -Tjson``."""
    layout = json.loads(drawing.pipe("json"))
    boxes = {}
    for obj in layout.get("objects", []):
        name = obj.get("name", "")
        if name.startswith("cluster_") and not name.startswith("cluster_band_"):
            boxes[name] = tuple(float(v) for v in obj["bb"].split(","))
    return boxes, tuple(float(v) for v in layout["bb"].split(","))


@pytest.mark.needs_dot
def test_svg_parses_with_the_expected_titles(elman):
    d = draw(elman(steps=3).loss)
    titles = svg_titles(d.pipe("svg"))
    nodes = {t for k, t in titles if k == "node"}
    assert {"param_W_hh", "op_1_matmul", "rail_W_hh_t3", "rail_W_hh_sum"} <= nodes
    assert [t for k, t in titles if k == "cluster"] == ["cluster_rnn_cell_t_1",
                                                       "cluster_rnn_cell_t_2",
                                                       "cluster_rnn_cell_t_3"]
    edges = {t for k, t in titles if k == "edge"}
    assert {"param_W_hh->bus_param_W_hh_0", "bus_param_W_hh_0->op_1_matmul",
            "op_11_matmul->rail_W_hh_t3", "rail_W_hh_t3->rail_W_hh_sum"} <= edges


@pytest.mark.needs_dot
def test_time_runs_left_to_right(elman, lstm):
    for d in (draw(elman(steps=5).loss, steps="all"), draw(lstm(steps=4).loss)):
        boxes, _ = cluster_boxes(d)
        xs = [boxes[name][0] for name in sorted(boxes, key=lambda n: int(n.rsplit("_", 1)[1]))]
        assert len(xs) >= 4 and xs == sorted(xs) and len(set(xs)) == len(xs)


@pytest.mark.needs_dot
def test_height_stays_bounded_as_the_sequence_grows():
    heights = {}
    widths = {}
    for steps in (10, 100):
        loss, _ = build("lstm", steps)
        _, bb = cluster_boxes(draw(loss))
        widths[steps], heights[steps] = bb[2] - bb[0], bb[3] - bb[1]
    assert heights[100] <= 1.25 * heights[10]
    assert widths[100] <= 1.25 * widths[10]


@pytest.mark.needs_dot
@pytest.mark.parametrize("fmt,magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_render_writes_the_format_of_the_extension(tmp_path, elman, fmt, magic):
    d = draw(elman(steps=2).loss)
    path = d.render(tmp_path / f"g.{fmt}")
    assert open(path, "rb").read().startswith(magic)


@pytest.mark.needs_dot
def test_jupyter_gets_svg(elman):
    bundle = draw(elman(steps=2).loss)._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_without_dot_render_and_pipe_say_how_to_install(monkeypatch, tmp_path, elman):
    monkeypatch.setenv("PATH", str(tmp_path))          # no dot on this PATH
    d = draw(elman(steps=2).loss)
    assert d.source.startswith("digraph")
    for call in (lambda: d.render(tmp_path / "g.svg"), lambda: d.pipe("png")):
        with pytest.raises(GraphvizNotFoundError) as info:
            call()
        message = str(info.value)
        for hint in ("apt-get install graphviz", "brew install graphviz",
                     "conda install -c conda-forge graphviz", "Drawing.source"):
            assert hint in message
    assert d.render(tmp_path / "g.dot") == str(tmp_path / "g.dot")   # DOT text needs no dot
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == d.source
    assert set(d._repr_mimebundle_()) == {"text/plain"}
    assert "apt-get install graphviz" in d._repr_mimebundle_()["text/plain"]


def test_render_to_an_unknown_extension_names_render_and_the_format(tmp_path, elman):
    d = draw(elman(steps=2).loss)
    with pytest.raises(DrawError, match=r"Drawing\.render\(.*g\.txt'\): cannot write format "
                                        r"'txt'.*Fix"):
        d.render(tmp_path / "g.txt")
    assert not (tmp_path / "g.txt").exists()


def positions(drawing):
    """node name -> (x, y) of its centre, from ``dot -Tjson``."""
    layout = json.loads(drawing.pipe("json"))
    return {o["name"]: tuple(float(v) for v in o["pos"].split(","))
            for o in layout["objects"] if "pos" in o}


@needs_dot
@pytest.mark.parametrize("kind,options", [("elman", {}), ("lstm", {}), ("gru", {}),
                                          ("jordan", {}), ("lstm", {"collapse": "step"}),
                                          ("elman", {"steps": 4})])
def test_each_state_runs_level_and_so_do_the_rail_and_the_bus(kind, options):
    """The recurrent state keeps one height through every step (an LSTM's h and c each
    their own), and the rail terms and bus taps each sit on one line."""
    loss, _ = build(kind, 6)
    d = draw(loss, **options)
    pos = positions(d)
    lanes = {}
    for node, group in re.findall(r"^\s*(\w+) \[group=(lane_\w+)\]$", d.source, re.M):
        lanes.setdefault(group, []).append(pos[node][1])
    assert lanes
    for ys in lanes.values():
        assert len(ys) >= 6 and max(ys) - min(ys) < 0.5
    for prefix in ("rail_", "bus_"):
        ys = [y for name, (_, y) in pos.items() if name.startswith(prefix)
              and not name.endswith("_sum")]
        assert len(ys) >= 3 and max(ys) - min(ys) < 0.5, prefix
