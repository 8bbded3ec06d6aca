"""The one log colour scale of a drawing, and how numbers are written on it."""
import math

import pytest
from hypothesis import given, strategies as st

from tapegrad.viz.colors import MAX_DECADES, NONFINITE, PALETTE, ZERO_FILL, LogScale, fmt
from tapegrad.viz.rails import percent


def test_ends_are_the_decades_around_the_norms():
    scale = LogScale([0.0031, 0.2, 47.0])
    assert (scale.lo, scale.hi) == (1e-3, 100.0)
    assert not scale.clipped


def test_norms_within_a_factor_of_a_few_do_not_span_the_palette():
    scale = LogScale([0.129, 2.14])
    assert (scale.lo, scale.hi) == (0.1, 10.0)
    assert scale.fill(0.129) == PALETTE[0]
    assert PALETTE.index(scale.fill(2.14)) < len(PALETTE) - 2


def test_tiny_norms_are_clipped_to_the_palest_colour():
    scale = LogScale([1.0, 5e-38])
    assert scale.lo == 10.0 ** -MAX_DECADES and scale.clipped
    assert scale.fill(5e-38) == scale.fill(scale.lo) == PALETTE[0]
    assert scale.fill(1.0) == PALETTE[-1]


def test_zero_and_non_finite_norms_have_their_own_styles():
    scale = LogScale([0.0, 1.0, float("nan"), float("inf")])
    assert scale.node_style(0.0) == {"fillcolor": ZERO_FILL}
    for bad in (float("nan"), float("inf")):
        assert scale.node_style(bad) == NONFINITE
        assert scale.fill(bad) == "#ff00ff"
    assert scale.node_style(None) == {}


@given(st.lists(st.floats(1e-30, 1e30), min_size=1, max_size=20))
def test_colour_never_decreases_with_the_norm(norms):
    scale = LogScale(norms)
    indices = [PALETTE.index(scale.fill(n)) for n in sorted(norms)]
    assert indices == sorted(indices)
    assert math.log10(scale.hi) == int(math.log10(scale.hi))


@pytest.mark.parametrize("share,text", [(0.638, "64%"), (-0.09, "-9%"), (0.0, "0%"),
                                        (-0.0023, "-0.23%"), (3.1e-7, "3.1e-05%"),
                                        (float("nan"), "–"), (None, "–")])
def test_shares_are_never_written_as_minus_zero(share, text):
    assert percent(share) == text


@pytest.mark.parametrize("x,text", [(0.0235, "0.0235"), (1.0, "1"), (5.4e-38, "5.4e-38"),
                                    (0.0, "0"), (float("inf"), "Inf"), (float("nan"), "NaN")])
def test_numbers_read_at_a_glance(x, text):
    assert fmt(x) == text
