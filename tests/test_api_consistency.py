"""The bugs and API inconsistencies of issue 13: pow at its boundaries, 0-d dims, non-tensor
arguments, tensors inside ``tensor([...])``, and the NumPy spellings accepted beside PyTorch's."""
import math

import numpy
import pytest

import tapegrad as tg

INF = math.inf
NAN = math.nan


def _f64(v, grad=True):
    return tg.tensor(numpy.asarray(v, dtype=numpy.float64), requires_grad=grad)


# --- pow at its boundaries (PyTorch's values) ------------------------------------------------
# (base, exponent, d/dbase, d/dexponent)
POW_CASES = [
    (0.0, 0.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (0.0, 2.0, 0.0, 0.0), (0.0, -1.0, -INF, -INF),
    (0.0, 0.5, INF, 0.0), (-2.0, 0.0, 0.0, NAN), (-2.0, 1.0, 1.0, NAN), (-2.0, 2.0, -4.0, NAN),
    (-2.0, -1.0, -0.25, NAN), (INF, 0.0, 0.0, INF), (INF, 1.0, 1.0, INF), (INF, -1.0, 0.0, NAN),
    (-INF, 2.0, -INF, NAN), (2.0, 0.0, 0.0, math.log(2.0)), (2.0, -1.0, -0.25, 0.5 * math.log(2)),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("base, exponent, d_base, d_exponent", POW_CASES)
def test_pow_gradients_at_the_boundaries_match_pytorch(base, exponent, d_base, d_exponent):
    x, y = _f64(base), _f64(exponent)
    gx, gy = tg.grad(x ** y, [x, y])
    numpy.testing.assert_allclose(gx.item(), d_base, rtol=1e-15)
    numpy.testing.assert_allclose(gy.item(), d_exponent, rtol=1e-15)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("exponent", [0.0, 0, 1.0, 1, 2.0, -1.0])
def test_pow_with_a_python_exponent_matches_the_tensor_exponent(exponent):
    x = _f64([0.0, 1.5, -2.0])
    (g_py,) = tg.grad((x ** exponent).sum(), [x])
    (g_t,) = tg.grad((x ** _f64(float(exponent), grad=False)).sum(), [x])
    numpy.testing.assert_equal(g_py.numpy(), g_t.numpy())


def test_the_derivatives_of_x_to_the_0_and_1_at_0_are_finite():
    x = _f64(0.0)
    (g,) = tg.grad(x ** 0, [x])
    assert g.item() == 0.0
    (g,) = tg.grad(x ** 1, [x], create_graph=True)
    (gg,) = tg.grad(g, [x], allow_unused=True)
    assert g.item() == 1.0 and (gg is None or gg.item() == 0.0)
    y = _f64(0.0)                                     # a tensor exponent, second order too
    (g,) = tg.grad(x ** y, [x], create_graph=True)
    gx, gy = tg.grad(g, [x, y], allow_unused=True)
    assert g.item() == 0.0 and gx.item() == 0.0 and gy.item() == 0.0


def test_pow_keeps_float32():
    x = tg.tensor([0.0, 2.0], requires_grad=True)
    gx, = tg.grad((x ** 0.0).sum(), [x])
    gy, = tg.grad((2.0 ** x).sum(), [x])
    assert gx.dtype == gy.dtype == numpy.float32


# --- 0-d tensors: dim 0 and -1 are the tensor itself ---------------------------------------
@pytest.mark.parametrize("dim", [0, -1])
def test_dims_0_and_minus_1_of_a_0d_tensor_are_the_tensor_itself(dim):
    x = tg.tensor(1.5)
    assert tg.sum(x, dim).item() == 1.5 and tg.mean(x, dim).item() == 1.5
    assert tg.softmax(x, dim).item() == 1.0 and tg.log_softmax(x, dim).item() == 0.0
    assert tg.amax(x, dim).item() == 1.5 and tg.logsumexp(x, dim).item() == 1.5
    assert tg.max(x, dim).values.item() == 1.5 and tg.argmax(x, dim).item() == 0
    assert x.sum(dim, keepdim=True).shape == () and tg.squeeze(x, dim).shape == ()
    assert x.transpose(dim, 0).shape == ()


# every function with a dim, on a 0-d tensor of 1.5: (function, PyTorch's value at dim 0/-1)
ZERO_D = [(tg.sum, 1.5), (tg.mean, 1.5), (tg.logsumexp, 1.5), (tg.amax, 1.5), (tg.amin, 1.5),
          (tg.prod, 1.5), (tg.softmax, 1.0), (tg.log_softmax, 0.0), (tg.cumsum, 1.5),
          (tg.cumprod, 1.5), (tg.squeeze, 1.5), (lambda x, d: tg.max(x, d).values, 1.5),
          (lambda x, d: tg.sort(x, d).values, 1.5), (lambda x, d: tg.var(x, d, correction=0),
                                                     0.0),
          (lambda x, d: tg.linalg.vector_norm(x, 2, d), 1.5), (lambda x, d: x.norm(2, d), 1.5)]


@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("fn, value", ZERO_D)
def test_every_dim_taking_function_treats_a_0d_tensor_as_itself(fn, value, dim):
    x = _f64(1.5)
    y = fn(x, dim)
    assert y.shape == () and y.item() == pytest.approx(value)
    tg.grad(y, [x], allow_unused=True)                 # and differentiates


def test_other_dims_of_a_0d_tensor_are_refused_and_ops_needing_a_dim_say_so():
    x = tg.tensor(1.5)
    with pytest.raises(tg.OpError, match=r"sum: dim 1 is out of range .*valid dims are -1\.\.0"):
        tg.sum(x, 1)
    with pytest.raises(tg.OpError, match=r"cat: the operand is 0-d.*reshape\(1\)"):
        tg.cat([x, x])
    with pytest.raises(tg.OpError, match="unbind: the operand is 0-d"):
        tg.unbind(x)


# --- arguments that are not tensors ---------------------------------------------------------
def test_a_list_where_a_tensor_is_expected_names_the_function_and_the_fix():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(tg.OpError, match=r"mean: input is a list, not a tensor.*tapegrad\.stack"):
        tg.mean([x, x])
    with pytest.raises(tg.OpError, match=r"softmax|log_softmax: input is a tuple"):
        tg.softmax((x, x))
    with pytest.raises(tg.OpError, match=r"stack: element 1 of the list is a float.*full_like"):
        tg.stack([x, 2.0])
    with pytest.raises(tg.OpError, match=r"cat: element 0 of the list is a list"):
        tg.cat([[1.0], x])


def test_numbers_and_arrays_run_as_plain_numpy_values():
    assert tg.sum(2.0) == 2.0 and tg.mean(numpy.ones(3)) == 1.0
    out = tg.tanh(numpy.zeros(3))            # no tensor among the arguments: a NumPy value
    assert type(out) is numpy.ndarray
    assert type(tg.stack([numpy.ones(2), tg.tensor([1.0, 2.0])])) is tg.Tensor


def test_tensor_of_a_list_of_tensors_points_to_stack():
    x = _f64(1.0)
    for data in ([x, 2 * x], [[1.0, 2.0], [x, 3.0]], (x,)):
        with pytest.raises(tg.OpError, match=r"tensor: the list holds tensors.*tapegrad\.stack"):
            tg.tensor(data)
    y = tg.stack([x, 2 * x])                  # what the message recommends
    assert y.dtype == numpy.float64 and y.requires_grad


# --- NumPy spellings beside PyTorch's ------------------------------------------------------
def test_axis_and_keepdims_are_accepted_wherever_dim_and_keepdim_are():
    a = numpy.arange(6.0).reshape(2, 3)
    x = tg.tensor(a)
    for fn, ref in [(tg.sum, numpy.sum), (tg.mean, numpy.mean), (tg.amax, numpy.amax),
                    (tg.amin, numpy.amin)]:
        numpy.testing.assert_allclose(fn(x, axis=1, keepdims=True).numpy(),
                                      ref(a, axis=1, keepdims=True))
    assert tg.max(x, axis=0).values.shape == (3,) and tg.argmin(x, axis=1).shape == (2,)
    assert tg.squeeze(tg.tensor(numpy.ones((1, 2))), axis=0).shape == (2,)
    numpy.testing.assert_allclose(tg.softmax(x, axis=0).numpy(), tg.softmax(x, 0).numpy())
    numpy.testing.assert_allclose(tg.log_softmax(x, axis=0).numpy(),
                                  tg.log_softmax(x, 0).numpy())
    assert tg.cat([x, x], axis=1).shape == (2, 6) and tg.stack([x, x], axis=2).shape == (2, 3, 2)
    with pytest.raises(tg.OpError, match="give dim or axis, not both"):
        tg.cat([x, x], 0, axis=1)


def test_concatenate_takes_a_sequence_like_numpy_and_torch():
    x = tg.tensor(numpy.ones((2, 3)))
    assert tg.concatenate([x, x]).shape == (4, 3)
    assert tg.concatenate((x, x), axis=1).shape == (2, 6)
    assert tg.concatenate([x, x], dim=1).shape == (2, 6)


def test_clip_takes_pytorch_and_numpy_bound_names():
    x = tg.tensor([-1.0, 0.5, 2.0])
    for y in (tg.clip(x, 0.0, 1.0), tg.clip(x, a_min=0.0, a_max=1.0), tg.clamp(x, min=0.0, max=1.0),
              x.clip(0.0, 1.0)):
        numpy.testing.assert_array_equal(y.numpy(), [0.0, 0.5, 1.0])
    with pytest.raises(tg.OpError, match="give min/max or a_min/a_max, not both"):
        tg.clip(x, 0.0, a_max=1.0)


def test_size_numel_norm_repeat_and_percent_on_tensors():
    x = tg.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=tg.float64)
    assert x.size() == (2, 2) and x.size(-1) == 2 and x.numel() == 4
    assert x.norm().item() == pytest.approx(math.sqrt(26.0))
    numpy.testing.assert_allclose(x.norm(1, dim=1).numpy(), [7.0, 1.0])
    numpy.testing.assert_allclose(x.norm(float("inf")).numpy(), 4.0)
    numpy.testing.assert_allclose(x.norm("nuc").numpy(), numpy.linalg.norm(x.numpy(), "nuc"))
    assert x.repeat(2, 1).shape == (4, 2) and tg.repeat(x, 2).shape == (8,)   # torch vs numpy
    numpy.testing.assert_allclose((x % 2.5).numpy(), numpy.remainder(x.numpy(), 2.5))
    numpy.testing.assert_allclose((7.0 % (x + 1.0)).numpy(), numpy.remainder(7.0, x.numpy() + 1))


def test_remainder_gradient_is_one_for_the_dividend():
    x = _f64([5.5, -2.5])
    y = _f64([2.0, 2.0])
    gx, gy = tg.grad((x % y).sum(), [x, y])
    numpy.testing.assert_array_equal(gx.numpy(), [1.0, 1.0])
    numpy.testing.assert_array_equal(gy.numpy(), [-2.0, 2.0])    # -floor(x / y)


def test_floor_ceil_round_and_sign_are_recorded_with_zero_gradient():
    x = _f64([0.3, -1.7])
    for fn in (tg.floor, tg.ceil, tg.round, tg.sign):
        y = fn(x)
        assert y.requires_grad
        (g,) = tg.grad((y * x).sum(), [x])
        numpy.testing.assert_array_equal(g.numpy(), y.numpy())     # only the product's x term


# --- nn layers refuse a dtype that is not their parameters' -------------------------------
def _layers():
    from tapegrad import nn
    return [(nn.Linear(3, 2), (4, 3)), (nn.LayerNorm(3), (4, 3)), (nn.RNN(3, 2), (5, 1, 3)),
            (nn.LSTM(3, 2), (5, 1, 3)), (nn.GRU(3, 2), (5, 1, 3)), (nn.RNNCell(3, 2), (1, 3)),
            (nn.LSTMCell(3, 2), (1, 3)), (nn.Conv1d(3, 2, 2), (1, 3, 5))]


@pytest.mark.parametrize("index", range(8))
def test_an_nn_layer_refuses_an_input_of_another_float_dtype(index):
    layer, shape = _layers()[index]
    batch = numpy.ones(shape)                          # a float64 NumPy batch, float32 layer
    with pytest.raises(tg.OpError, match=r"input is float64 but the layer's parameters are "
                                         r"float32.*Fix: .*x\.to\(tapegrad\.float32\)"):
        layer(batch)
    layer(tg.tensor(batch, dtype=tg.float32))          # the fix works
    layer.double()(tg.tensor(batch, dtype=tg.float64))  # and so does the other one


def test_an_nn_layer_refuses_a_list_of_numbers_but_embedding_takes_ids():
    from tapegrad import nn
    with pytest.raises(tg.OpError, match=r"Linear.*: input is a list; nn layers take a tensor"):
        nn.Linear(3, 2)([1.0, 2.0, 3.0])
    assert nn.Embedding(5, 2)([1, 2]).shape == (2, 2)


def test_a_numpy_function_on_a_tensor_still_raises_naming_the_tapegrad_function():
    x = tg.tensor(numpy.eye(2))
    with pytest.raises(tg.OpError, match=r"numpy\.cumsum was applied .*Use tapegrad\.cumsum"):
        numpy.cumsum(x)
    with pytest.raises(tg.OpError, match=r"Use tapegrad\.linalg\.det"):
        numpy.linalg.det(x)
    with pytest.raises(tg.OpError, match=r"Use tapegrad\.arctan2"):
        numpy.arctan2(x, x)
