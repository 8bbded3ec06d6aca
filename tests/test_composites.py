"""Every public function composed of primitives, tested from ``tapegrad.COMPOSITES``."""
import numpy
import pytest

import tapegrad
from tapegrad.testing import FLOAT32_EXAMPLES, check_primitive, reference_problem

COMPOSITES = sorted(tapegrad.COMPOSITES)


def test_the_composites_are_registered():
    assert {"sum", "mean", "softmax", "cat", "squeeze"} <= set(COMPOSITES)


@pytest.mark.parametrize("name", COMPOSITES)
def test_composite_has_test_metadata(name):
    fn = tapegrad.COMPOSITES[name]
    assert fn.sampler is not None, f"{name} has no sampler"
    problem = reference_problem(name, fn, fn.reference)
    assert problem is None, problem


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", COMPOSITES)
def test_composite(name, dtype):
    examples = FLOAT32_EXAMPLES if dtype == numpy.float32 else None
    check_primitive(tapegrad.COMPOSITES[name], dtype, examples)()


@pytest.mark.parametrize("dtype, big", [(numpy.float64, 1e17), (numpy.float32, 1e9)])
def test_softmax_and_log_softmax_stay_exact_at_huge_logits(dtype, big):
    """Two tied huge logits share the mass; log(2) must not be rounded away by the magnitude."""
    x = tapegrad.tensor(numpy.array([[0.0, big, big]], dtype), requires_grad=True)
    p = tapegrad.softmax(x, 1)
    numpy.testing.assert_allclose(p.numpy(), [[0.0, 0.5, 0.5]])
    logp = tapegrad.log_softmax(x, 1)
    numpy.testing.assert_allclose(logp.numpy()[0, 1:], [-numpy.log(2)] * 2, rtol=1e-6)
    logp[0, 1].backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.5, -0.5]], atol=1e-7)
