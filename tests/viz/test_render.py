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
    assert {"op_11_matmul->rail_W_hh_t3", "rail_W_hh_t3->rail_W_hh_sum",
            "op_4_tanh->op_6_matmul"} <= edges


@pytest.mark.needs_dot
def test_time_runs_left_to_right_in_rows_read_downwards(elman, lstm):
    for d in (draw(elman(steps=5).loss, steps="all"), draw(lstm(steps=4).loss),
              draw(build("lstm", 20)[0])):
        boxes, _ = cluster_boxes(d)
        order = sorted(boxes, key=lambda n: int(re.findall(r"\d+", n)[-2 if "elided" in n
                                                                       else -1]))
        assert len(order) >= 4
        for a, b in zip(order, order[1:]):     # next to the right, or on a lower row
            a_right, a_bottom = boxes[a][2], boxes[a][1]
            b_left, b_top = boxes[b][0], boxes[b][3]
            assert b_left >= a_right - 1 or b_top <= a_bottom + 1, (a, b)


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


def size_and_fonts(drawing):
    """(width, height) of the whole drawing in points and every font size used, from
    ``dot -Tjson``."""
    layout = json.loads(drawing.pipe("json"))
    x0, y0, x1, y1 = (float(v) for v in layout["bb"].split(","))
    sizes = []
    for obj in [layout] + layout.get("objects", []) + layout.get("edges", []):
        for key in ("_ldraw_", "_hldraw_", "_tldraw_"):
            sizes += [op["size"] for op in obj.get(key, ()) if op.get("op") == "F"]
    return (x1 - x0, y1 - y0), sizes


#: Smallest text, in pixels, when the picture is shown 1000 px wide: readable, as the PNGs
#: of these drawings were checked to be.
LEGIBLE_PX = 7.5


@needs_dot
@pytest.mark.parametrize("kind", ["elman", "lstm"])
@pytest.mark.parametrize("steps", [3, 20, 100])
def test_default_drawings_fit_a_page_and_stay_legible(kind, steps):
    """Aspect ratio between 1:3 and 3:1; the smallest text legible at 1000 px wide."""
    (width, height), sizes = size_and_fonts(draw(build(kind, steps)[0]))
    assert 1 / 3 <= width / height <= 3
    assert min(sizes) * 1000 / width >= LEGIBLE_PX
