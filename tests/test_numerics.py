"""Numerical edge cases with no silent wrong answer: float16 reductions, NaN at kinks,
complex operands, empty sequences."""
import warnings

import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg

NAN = float("nan")
F16_EPS = float(numpy.finfo(numpy.float16).eps)

# name -> (tapegrad function, NumPy reference computed in float64)
REDUCTIONS = {
    "sum": (lambda x: x.sum(1), lambda a: a.sum(1)),
    "mean": (lambda x: x.mean(1), lambda a: a.mean(1)),
    "mean_all": (lambda x: x.mean(), lambda a: a.mean()),
    "amax": (lambda x: x.amax(1), lambda a: a.max(1)),
    "amin": (lambda x: x.amin(0), lambda a: a.min(0)),
    "logsumexp": (lambda x: x.logsumexp(1), lambda a: numpy.log(numpy.exp(a).sum(1))),
    "softmax": (lambda x: x.softmax(1),
                lambda a: numpy.exp(a) / numpy.exp(a).sum(1, keepdims=True)),
    "log_softmax": (lambda x: x.log_softmax(0),
                    lambda a: a - numpy.log(numpy.exp(a).sum(0, keepdims=True))),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_float16_reductions_match_float64_rounded_and_keep_the_dtype(name):
    fn, reference = REDUCTIONS[name]
    data = numpy.random.default_rng(0).uniform(-2, 2, (3, 7)).astype(numpy.float16)
    x = tg.tensor(data, requires_grad=True)
    y = fn(x)
    assert y.dtype == numpy.float16
    expected = reference(data.astype(numpy.float64))
    numpy.testing.assert_allclose(y.data.astype(numpy.float64), expected,
                                  rtol=4 * F16_EPS, atol=4 * F16_EPS)
    weights = numpy.linspace(-1, 1, y.numel()).reshape(y.shape)
    (y * tg.tensor(weights.astype(numpy.float16))).sum().backward()
    x64 = tg.tensor(data.astype(numpy.float64), requires_grad=True)
    (fn(x64) * tg.tensor(weights)).sum().backward()
    assert x.grad.dtype == numpy.float16
    numpy.testing.assert_allclose(x.grad.data.astype(numpy.float64), x64.grad.data,
                                  rtol=8 * F16_EPS, atol=8 * F16_EPS)


@pytest.mark.parametrize("dim", [None, 0])
def test_float16_mean_of_a_sum_past_65504_does_not_overflow(dim):
    # 5000 * 20 overflows float16 (max 65504); NumPy and PyTorch give 20.0
    x = tg.full((5000, 2), 20.0, dtype=tg.float16, requires_grad=True)
    m = x.mean(dim)
    assert m.dtype == numpy.float16 and numpy.all(m.data == 20.0)
    m.sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, numpy.float16(1 / x.numel() * m.numel()))
    assert float(nn.functional.mse_loss(x, tg.zeros((5000, 2), dtype=tg.float16))) == 400.0


# ------------------------------------------------------------ NaN at kinks
@pytest.mark.parametrize("fn,grad", [
    # what PyTorch gives for the same input [1, nan, 3] (torch 2.x, float64)
    (tg.relu, [1.0, 1.0, 1.0]),                          # NaN passes the gradient through
    (lambda x: x.max(), [0.0, 1.0, 0.0]),                # NaN is the maximum
    (lambda x: x.min(), [0.0, 1.0, 0.0]),
    (lambda x: tg.max(x, 0).values, [0.0, 1.0, 0.0]),
    (lambda x: x.amax(0), [0.0, 1.0, 0.0]),              # PyTorch: all NaN here (documented)
    (lambda x: x.reshape(1, 3).amin(1), [0.0, 1.0, 0.0]),
])
def test_nan_inputs_of_relu_and_max_get_pytorchs_gradients(fn, grad):
    x = tg.tensor([1.0, NAN, 3.0], dtype=tg.float64, requires_grad=True)
    fn(x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, grad)


def test_several_nans_share_the_gradient_of_max():
    x = tg.tensor([NAN, 2.0, NAN], dtype=tg.float64, requires_grad=True)
    x.max().backward()
    numpy.testing.assert_array_equal(x.grad.data, [0.5, 0.0, 0.5])


# ------------------------------------------------------------ complex operands
@pytest.mark.parametrize("constant,dtype", [
    (1 + 2j, "complex64"), (numpy.complex128(1j), "complex128"),
    (numpy.array([1j, 2.0]), "complex128"),
])
def test_a_complex_constant_raises_naming_the_dtype(constant, dtype):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.OpError, match=f"(?s)mul: the result is {dtype}.*requires grad.*"
                                         f"test_numerics.py"):
        x * constant


def test_complex_results_without_gradient_are_allowed():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert (x.detach() * 1j).dtype == numpy.complex64
    with tg.no_grad():
        assert (x * 1j).dtype == numpy.complex64


# ------------------------------------------------------------ empty sequences
@pytest.mark.parametrize("cls,kwargs,shape", [
    (nn.LSTM, {}, (0, 2, 3)), (nn.RNN, {}, (0, 3)), (nn.GRU, {"batch_first": True}, (2, 0, 3)),
])
def test_a_recurrent_layer_on_a_length_0_sequence_names_module_and_shape(cls, kwargs, shape):
    layer = cls(3, 4, **kwargs)
    with pytest.raises(tg.OpError, match=rf"{cls.__name__}\(3, 4.*input of shape "
                                         rf"\({shape[0]}, {shape[1]}.*sequence length 0"):
        layer(tg.zeros(shape))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_sigmoid_keeps_relative_accuracy_in_the_negative_tail_without_warnings(dtype):
    # 0.5 + 0.5 tanh(x / 2) rounds sigmoid(-20) to 0 in float32 (true value 2.06e-9),
    # and a naive exp(-x) warns of overflow at x = -200; neither may happen.
    points = numpy.array([-200.0, -60.0, -20.0, -3.0, 0.0, 3.0, 20.0, 200.0])
    x = tg.tensor(points.astype(dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = tg.sigmoid(x)
        y.sum().backward()
    exact = numpy.exp(-numpy.logaddexp(0.0, -points))        # float64, stable both ways
    tiny, eps = numpy.finfo(dtype).tiny, numpy.finfo(dtype).eps
    normal = exact >= tiny                  # below the smallest normal number 0 is the answer
    numpy.testing.assert_allclose(y.data[normal], exact[normal], rtol=4 * eps)
    assert (y.data[~normal] >= 0).all() and (y.data[~normal] < tiny).all()
    # The slope out * (1 - out): relative accuracy where out is small (x <= 0); for
    # x > 0, 1 - out cancels (as in every framework), so there it is exact to eps absolute.
    slope = exact * (1 - exact)
    left = normal & (points <= 0)
    numpy.testing.assert_allclose(x.grad.data[left], slope[left], rtol=8 * eps)
    numpy.testing.assert_allclose(x.grad.data[points > 0], slope[points > 0], rtol=0, atol=2 * eps)


def test_the_2_norm_has_pytorchs_zero_gradient_at_a_zero_vector():
    # sqrt(sum(x * x)) composed gives 0/0 there; PyTorch's subgradient is 0
    x = tg.zeros(3, dtype=tg.float64, requires_grad=True)
    x.norm().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), numpy.zeros(3))
    y = tg.tensor(numpy.array([[0.0, 0.0], [3.0, 4.0]]), requires_grad=True)
    tg.linalg.vector_norm(y, dim=1).sum().backward()        # a zero row and a 3-4-5 row
    numpy.testing.assert_array_equal(y.grad.numpy()[0], [0.0, 0.0])
    numpy.testing.assert_allclose(y.grad.numpy()[1], [0.6, 0.8], rtol=4e-16, atol=0)
