"""The public surface of ``tapegrad.viz``: ``draw``'s signature, ``Drawing``, determinism,
the steps and max_nodes rules.  No Graphviz needed."""
import inspect
import os
import pathlib
import subprocess
import sys

import pytest

from dot_reading import clusters, node_ids
from tapegrad.viz import Drawing, DrawError, draw
from tapegrad.viz.models import build

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_draw_has_the_documented_defaults():
    params = inspect.signature(draw).parameters
    defaults = {name: p.default for name, p in params.items()}
    assert list(params)[0] == "root"
    assert defaults == {"root": inspect.Parameter.empty, "view": "unrolled", "steps": "auto",
                        "focus": None, "collapse": None, "show": ("op", "shape", "grad"),
                        "color_by": "grad_norm", "max_nodes": 400, "title": None}


def test_a_drawing_has_source_ledger_render_pipe_and_jupyter_display(elman):
    d = draw(elman(steps=2).loss)
    assert isinstance(d, Drawing) and isinstance(d.source, str)
    for name in ("ledger", "render", "pipe", "_repr_mimebundle_"):
        assert callable(getattr(d, name))


def _run(code, **env):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, **env))
    assert done.returncode == 0, done.stderr
    return done.stdout


SOURCE_OF_A_MODEL = (
    "from tapegrad.viz import draw\n"
    "from tapegrad.viz.models import build\n"
    "loss, _ = build('lstm', 12)\n"
    "print(draw(loss).source + draw(loss, view='rolled').source)\n")


def test_source_needs_no_graphviz_python_package():
    code = "import sys\nsys.modules['graphviz'] = None\n" + SOURCE_OF_A_MODEL
    assert _run(code).startswith("digraph tapegrad_unrolled")


def test_source_is_the_same_text_in_every_process():
    """Byte-identical DOT even when Python's hash randomization differs (set order)."""
    first = _run(SOURCE_OF_A_MODEL, PYTHONHASHSEED="1")
    assert _run(SOURCE_OF_A_MODEL, PYTHONHASHSEED="2") == first


@pytest.mark.parametrize("steps,drawn", [(8, 8), (9, 6)])
def test_auto_draws_every_step_up_to_eight(elman, steps, drawn):
    steps_drawn = [c for c in clusters(draw(elman(steps=steps).loss).source)
                   if not c.startswith("cluster_elided_")]
    assert len(steps_drawn) == drawn


DRAWINGS = {
    "unrolled": dict(),
    "elided": dict(steps=4),
    "collapsed": dict(collapse="step"),
    "all, focus on two": dict(steps="all", focus=["weight_hh_l0", "weight_ih_l0"]),
    "rolled": dict(view="rolled"),
    "tape": dict(view="tape"),
}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_max_nodes_is_the_exact_number_of_nodes_drawn(kind, name):
    """A drawing with n nodes fits max_nodes=n and is refused at n - 1: the limit counts
    what is drawn (taps, rail terms, elisions), so it is never exceeded silently."""
    loss, _ = build(kind, 10, hidden=2)
    options = DRAWINGS[name]
    n = len(node_ids(draw(loss, max_nodes=10_000, **options).source))
    assert len(node_ids(draw(loss, max_nodes=n, **options).source)) == n
    with pytest.raises(DrawError, match=rf"needs {n} nodes, more than max_nodes={n - 1}\."):
        draw(loss, max_nodes=n - 1, **options)
