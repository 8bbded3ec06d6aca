"""Every public function composed of primitives, tested from ``tapegrad.COMPOSITES``."""
import numpy
import pytest

import tapegrad
from tapegrad.testing import check_primitive

COMPOSITES = sorted(tapegrad.COMPOSITES)


def test_the_composites_are_registered():
    assert {"sum", "mean", "softmax", "cat", "squeeze"} <= set(COMPOSITES)


@pytest.mark.parametrize("name", COMPOSITES)
def test_composite_has_test_metadata(name):
    fn = tapegrad.COMPOSITES[name]
    assert fn.sampler is not None, f"{name} has no sampler"
    assert fn.reference is not None, f"{name} has no reference forward"


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", COMPOSITES)
def test_composite(name, dtype):
    check_primitive(tapegrad.COMPOSITES[name], dtype)()
