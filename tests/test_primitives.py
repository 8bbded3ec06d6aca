"""Every built-in primitive, tested from the registry: forward vs reference, dtype, gradients.

The cases come from each primitive's own sampler, so adding a primitive to
``tapegrad/ops`` (with sampler, reference and vjp) adds it here.
"""
import math
import re

import numpy
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import testing as s
from tapegrad.primitive import is_built_in
from tapegrad.testing import check_primitive

BUILT_IN = sorted(name for name, prim in tapegrad.REGISTRY.items()
                  if is_built_in(prim.forward))


def test_the_registry_lists_the_built_in_primitives():
    assert {"add", "matmul", "reduce_sum", "getitem", "split_sizes"} <= set(BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_primitive_has_test_metadata_and_a_vjp(name):
    prim = tapegrad.REGISTRY[name]
    assert prim.vjp is not None, f"{name} has no vjp"
    assert prim.sampler is not None, f"{name} has no sampler"
    problem = s.reference_problem(name, prim.forward, prim.reference)
    assert problem is None, problem


@pytest.mark.parametrize("forward, reference, problem", [
    (numpy.sin, numpy.sin, "is its forward itself"),
    (lambda x: numpy.sin(x), numpy.sin, "is the NumPy function sin"),
    (lambda x: numpy.sin(x), lambda x: numpy.sin(x), r"same NumPy function\(s\) as its forward: "
                                                     r"\['numpy\.sin'\]"),
    (lambda x: numpy.sin(x), lambda x: [numpy.sin(v) for v in x], "same NumPy"),   # nested
    (lambda x: numpy.sin(x), None, "has no reference"),
])
def test_the_metadata_check_refuses_a_reference_that_is_the_forward(forward, reference,
                                                                      problem):
    assert re.search(problem, s.reference_problem("op", forward, reference))
    assert s.reference_problem("op", forward, lambda x: [math.sin(v) for v in x]) is None


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", BUILT_IN)
def test_primitive(name, dtype):
    examples = s.FLOAT32_EXAMPLES if dtype == numpy.float32 else None
    check_primitive(tapegrad.REGISTRY[name], dtype, examples)()


# --- the factory on user primitives ---------------------------------------------------------
def _one_input(draw, s, dtype):
    return s.elementwise(draw, dtype, 1, "any"), {}


@tapegrad.primitive(sampler=_one_input, reference=lambda x: x ** 3)
def good_cube(x):
    return x * x * x


@good_cube.defvjp
def _(g, out, x):
    return g * 3 * x * x


@tapegrad.primitive(sampler=_one_input, reference=lambda x: x ** 3)
def bad_cube(x):
    return x * x * x


@bad_cube.defvjp
def _(g, out, x):
    return g * 3.3 * x * x


@tapegrad.primitive(sampler=_one_input, reference=lambda x: x ** 3)
def cut_cube(x):
    return x * x * x


@cut_cube.defvjp
def _(g, out, x):
    return g * (3 * numpy.asarray(x) ** 2)  # right first derivative, x cut off from the tape


@tapegrad.primitive(sampler=_one_input, reference=lambda x: 2 * x)
def upcasting_double(x):
    return x * numpy.float64(2.0)      # float32 in, float64 out: a silent upcast


@upcasting_double.defvjp
def _(g, out, x):
    return g * 2


@tapegrad.primitive(reference=numpy.sin)
def no_sampler(x):
    return numpy.sin(x)


@tapegrad.primitive(sampler=_one_input, reference=numpy.sin)
def no_vjp(x):
    return numpy.sin(x)


def failing_check(op, dtype):
    """``check_primitive(op, dtype)`` that stops at the first failing case: a test expecting
    the failure needs the error, not Hypothesis's search for the smallest case."""
    return settings(phases=[Phase.explicit, Phase.generate])(check_primitive(op, dtype))


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_check_primitive_passes_a_correct_user_primitive(dtype):
    check_primitive(good_cube, dtype)()


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_check_primitive_catches_a_wrong_vjp(dtype):
    with pytest.raises(tapegrad.GradcheckError, match="bad_cube at"):
        failing_check(bad_cube, dtype)()


def test_check_primitive_catches_a_wrong_second_derivative():
    """The second-order check goes along random directions: a vjp cut off from the tape
    (its own derivative lost) still fails it."""
    with pytest.raises(tapegrad.GradcheckError, match="gradgradcheck"):
        failing_check(cut_cube, numpy.float64)()


def test_check_primitive_catches_a_silent_upcast():
    check_primitive(upcasting_double, numpy.float64)()
    with pytest.raises(AssertionError, match="float64 for float32 inputs"):
        failing_check(upcasting_double, numpy.float32)()


def test_check_primitive_needs_a_sampler_and_a_vjp():
    with pytest.raises(ValueError, match="no_sampler has no sampler"):
        check_primitive(no_sampler)
    with pytest.raises(ValueError, match="no_vjp has no vjp"):
        check_primitive(no_vjp)


# --- the strategies themselves -------------------------------------------------------------
@given(st.data())
def test_index_reshape_broadcast_and_axes_are_valid_for_their_shape(data):
    shape = data.draw(s.shape(min_dims=1))
    x = numpy.zeros(shape)
    x[data.draw(s.index(shape))]                           # raises if invalid
    assert x.reshape(data.draw(s.reshape_target(shape))).size == x.size
    numpy.broadcast_to(x, data.draw(s.broadcast_target(shape)))
    axes = data.draw(s.axes(x.ndim))
    numpy.sum(x, axis=axes)
    if isinstance(axes, tuple):
        assert len({a % x.ndim for a in axes}) == len(axes)


@given(st.integers(0, 6).flatmap(lambda n: st.tuples(st.just(n), s.partition(n))))
def test_partition_sums_to_n_in_at_least_two_parts(case):
    n, parts = case
    assert sum(parts) == n and len(parts) >= 2 and min(parts) >= 0


@given(st.data(), st.sampled_from([numpy.float32, numpy.float64]))
def test_elementwise_domains(data, dtype):
    n = data.draw(st.integers(1, 3))
    xs = s.elementwise(data.draw, dtype, n, "any")
    numpy.broadcast_shapes(*(x.shape for x in xs))
    assert all(x.dtype == dtype and numpy.abs(x).max() <= 3 for x in xs)
    (pos,) = s.elementwise(data.draw, dtype, 1, "positive")
    assert pos.min() >= 0.2 - 1e-6
    (away,) = s.elementwise(data.draw, dtype, 1, "away_from_zero")
    assert numpy.abs(away).min() >= 0.2 - 1e-6
    (safe,) = s.elementwise(data.draw, dtype, 1, "clip_safe")
    assert all(numpy.abs(safe - b).min() >= 0.05 - 1e-6 for b in (-0.5, -0.3, 0.3, 0.5))
    distinct = numpy.concatenate([x.ravel() for x in s.elementwise(data.draw, dtype, 2,
                                                                   "distinct")])
    gaps = numpy.diff(numpy.sort(distinct.astype(numpy.float64)))
    assert gaps.size == 0 or gaps.min() >= 0.01 - 1e-6
    x, y = s.elementwise(data.draw, dtype, 2, ("any", "nonzero"))
    assert numpy.abs(y).min() >= 0.2 - 1e-6


@given(st.data())
def test_joinable_and_matmul_operands_fit_their_operations(data):
    xs, axis = data.draw(s.joinable(numpy.float64, False))
    numpy.concatenate(xs, axis)
    xs, axis = data.draw(s.joinable(numpy.float64, True))
    numpy.stack(xs, axis)
    a, b = data.draw(s.matmul_operands(numpy.float32))
    assert a.dtype == b.dtype == numpy.float32
    numpy.matmul(a, b)
