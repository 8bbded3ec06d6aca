"""Golden DOT files: the renderer's exact output for a few small nets.

A change to the drawings shows up here as a diff to review.  Regenerate the
files only on purpose: ``TAPEGRAD_REGEN_GOLDEN=1 pytest tests/viz/test_golden.py``.
"""
import os
import pathlib

import pytest

from tapegrad.viz import draw

GOLDEN = pathlib.Path(__file__).parent / "golden"
REGENERATE = os.environ.get("TAPEGRAD_REGEN_GOLDEN") == "1"

CASES = {
    "elman_T3_unrolled": lambda nets: draw(nets["elman"](steps=3).loss),
    "elman_T12_auto": lambda nets: draw(nets["elman"](steps=12).loss),
    "elman_T6_rolled": lambda nets: draw(nets["elman"](steps=6).loss, view="rolled"),
    "lstm_T3_collapsed": lambda nets: draw(nets["lstm"](steps=3).loss, collapse="step"),
    "lstm_T2_expanded": lambda nets: draw(nets["lstm"](steps=2).loss),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_dot(name, elman, lstm):
    source = CASES[name]({"elman": elman, "lstm": lstm}).source
    path = GOLDEN / f"{name}.dot"
    if REGENERATE:
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run with TAPEGRAD_REGEN_GOLDEN=1 once"
    expected = path.read_text(encoding="utf-8")
    assert source == expected, (f"{name}: the DOT output changed. If the change is intended, "
                                f"regenerate with TAPEGRAD_REGEN_GOLDEN=1 and review the diff.")
