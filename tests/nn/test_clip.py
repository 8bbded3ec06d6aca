"""Gradient clipping: total norm before clipping, scaling in place, inf norm, non-finite
gradients, clipping by value, and parity with torch.nn.utils."""
import math

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.nn.utils import NonFiniteNormError, clip_grad_norm_, clip_grad_value_


def _params_with_grads(*grads):
    params = []
    for g in grads:
        p = tg.tensor(numpy.zeros_like(numpy.asarray(g, dtype=numpy.float64)), requires_grad=True)
        p.grad = tg.tensor(numpy.asarray(g, dtype=numpy.float64))
        params.append(p)
    return params


def test_total_norm_is_returned_before_clipping_and_grads_are_scaled():
    params = _params_with_grads([3.0, 0.0], [[4.0]])          # total 2-norm 5
    total = clip_grad_norm_(params, max_norm=1.0)
    assert isinstance(total, tg.Tensor) and total.shape == () and total.item() == 5.0
    scale = 1.0 / (5.0 + 1e-6)
    numpy.testing.assert_allclose(params[0].grad.data, [3.0 * scale, 0.0], rtol=1e-15)
    numpy.testing.assert_allclose(params[1].grad.data, [[4.0 * scale]], rtol=1e-15)


def test_gradients_under_the_limit_are_left_alone():
    params = _params_with_grads([0.3, -0.4])
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total.item() == pytest.approx(0.5)
    numpy.testing.assert_array_equal(params[0].grad.data, [0.3, -0.4])


def test_inf_norm_is_the_largest_absolute_entry():
    params = _params_with_grads([1.0, -7.0], [2.0])
    total = clip_grad_norm_(params, max_norm=3.5, norm_type=math.inf)
    assert total.item() == 7.0
    numpy.testing.assert_allclose(params[0].grad.data, numpy.array([1.0, -7.0]) * 3.5 / (7 + 1e-6))


def test_one_norm_and_a_single_tensor_argument():
    (p,) = _params_with_grads([1.0, -2.0, 3.0])
    assert clip_grad_norm_(p, max_norm=100.0, norm_type=1).item() == 6.0


def test_parameters_without_grad_are_skipped():
    params = _params_with_grads([3.0, 4.0])
    params.append(tg.tensor([1.0], requires_grad=True))
    assert clip_grad_norm_(params, 1.0).item() == pytest.approx(5.0)
    assert params[1].grad is None
    assert clip_grad_norm_([params[1]], 1.0).item() == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_norm_raises_naming_the_parameter_and_changes_nothing(bad):
    params = _params_with_grads([1.0, 2.0], [bad])
    params[1].name = "lstm.weight_hh_l0"
    with pytest.raises(NonFiniteNormError, match="lstm.weight_hh_l0"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    numpy.testing.assert_array_equal(params[0].grad.data, [1.0, 2.0])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_norm_without_the_flag_returns_it():
    params = _params_with_grads([1.0, math.inf])
    assert math.isinf(clip_grad_norm_(params, 1.0).item())


def test_clipping_the_grad_of_a_trained_parameter_keeps_float32():
    w = tg.tensor([3.0, 4.0], dtype=tg.float32, requires_grad=True)
    (w * w).sum().backward()                       # grad (6, 8), norm 10
    total = clip_grad_norm_([w], 1.0)
    assert total.dtype == numpy.float32 and w.grad.dtype == numpy.float32
    numpy.testing.assert_allclose(numpy.linalg.norm(w.grad.data), 1.0, rtol=1e-5)


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=6),
       st.floats(0.01, 10), st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_clipped_norm_is_at_most_max_norm(values, max_norm, norm_type):
    params = _params_with_grads(values)
    before = clip_grad_norm_(params, max_norm, norm_type=norm_type).item()
    after = numpy.linalg.norm(params[0].grad.data, ord=norm_type)
    assert after <= max_norm * (1 + 1e-12) or after == pytest.approx(before, rel=1e-12)
    numpy.testing.assert_allclose(before, numpy.linalg.norm(values, ord=norm_type), rtol=1e-12)


def test_clip_grad_value_clamps_in_place():
    params = _params_with_grads([-3.0, 0.5, 2.0])
    clip_grad_value_(params, 1.0)
    numpy.testing.assert_array_equal(params[0].grad.data, [-1.0, 0.5, 1.0])


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_matches_torch(norm_type):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; parity needs it")
    rng = numpy.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(7)]
    ours = _params_with_grads(*grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    a = clip_grad_norm_(ours, 2.0, norm_type=norm_type)
    b = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type=norm_type)
    numpy.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    for o, t in zip(ours, theirs):
        numpy.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)
