"""Every built-in primitive, tested from the registry: forward vs reference, dtype, gradients.

The cases come from each primitive's own sampler, so adding a primitive to
``tapegrad/ops`` (with sampler, reference and vjp) adds it here.
"""
import numpy
import pytest

import tapegrad
from tapegrad.testing import check_primitive

BUILT_IN = sorted(name for name, prim in tapegrad.REGISTRY.items()
                  if prim.forward.__module__.startswith("tapegrad."))


def test_the_registry_lists_the_built_in_primitives():
    assert {"add", "matmul", "reduce_sum", "getitem", "split_sizes"} <= set(BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_primitive_has_test_metadata_and_a_vjp(name):
    prim = tapegrad.REGISTRY[name]
    assert prim.vjp is not None, f"{name} has no vjp"
    assert prim.sampler is not None, f"{name} has no sampler"
    assert prim.reference is not None, f"{name} has no reference forward"


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", BUILT_IN)
def test_primitive(name, dtype):
    check_primitive(tapegrad.REGISTRY[name], dtype)()
