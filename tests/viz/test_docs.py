"""The example at the top of docs/viz.md runs as written and prints the table it shows; the
page's pictures are those the current renderer draws."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "viz.md"


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


def test_the_three_line_example_is_three_lines():
    build, three = blocks("python")[:2]
    assert "nn.LSTM" in build
    assert len(three.strip().splitlines()) == 3
    assert three.startswith("from tapegrad.viz import draw\n")


@pytest.mark.needs_dot
def test_the_example_draws_the_lstm_and_prints_the_ledger_shown(tmp_path):
    """Run in a fresh process, as a reader would: the ``#`` column is the tape index."""
    build, three = blocks("python")[:2]
    code = build + three + 'print(d.ledger("weight_hh_l0"))\n'
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lstm.svg").read_bytes().startswith(b"<?xml")
    assert done.stdout == blocks("text")[0]


def _pictures_module():
    spec = importlib.util.spec_from_file_location("viz_pictures",
                                                  ROOT / "docs" / "img" / "viz_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_picture_on_the_page_is_current():
    """Each SVG is stamped with the hash of the DOT it was drawn from; a renderer change
    makes the stamp differ.  Fix: python docs/img/viz_pictures.py"""
    pictures = _pictures_module()
    shown = set(re.findall(r"\(img/([\w.-]+\.svg)\)", PAGE.read_text(encoding="utf-8")))
    assert shown == set(pictures.PICTURES)
    stale = [name for name, args in pictures.PICTURES.items()
             if pictures.stamp_of(pictures.dot_source(args))
             not in (ROOT / "docs" / "img" / name).read_text(encoding="utf-8")]
    assert not stale, f"stale pictures {stale}: run python docs/img/viz_pictures.py"
