"""tapegrad.grad: returned gradients, create_graph, HVPs, third derivatives, allow_unused."""
import numpy
import pytest

import tapegrad as tg

F64 = numpy.float64
RNG = numpy.random.default_rng(0)
W_VALUE = RNG.standard_normal((4, 3)) * 0.7
X_VALUE = RNG.standard_normal(3)
V_VALUE = RNG.standard_normal(3)


def leaf(values, dtype=F64):
    return tg.tensor(numpy.asarray(values, dtype=dtype), requires_grad=True)


def energy(x):
    """A smooth scalar function of x with a dense Hessian."""
    W = tg.tensor(W_VALUE)
    return (tg.tanh(W @ x) ** 2).sum() + (x ** 3).sum() / 3.0 + (tg.sin(x) * x[0]).sum()


def gradient_at(values):
    x = leaf(values)
    (g,) = tg.grad(energy(x), x)
    return g.numpy()


def hvp(values, v):
    x = leaf(values)
    (g,) = tg.grad(energy(x), x, create_graph=True)
    (hv,) = tg.grad((g * tg.tensor(v)).sum(), x)
    return hv.numpy()


def test_hessian_vector_product_matches_finite_differences_of_the_gradient():
    eps = 1e-5
    numeric = (gradient_at(X_VALUE + eps * V_VALUE)
               - gradient_at(X_VALUE - eps * V_VALUE)) / (2 * eps)
    numpy.testing.assert_allclose(hvp(X_VALUE, V_VALUE), numeric, rtol=1e-7, atol=1e-9)


def test_hessian_vector_product_through_grad_outputs():
    x = leaf(X_VALUE)
    (g,) = tg.grad(energy(x), x, create_graph=True)
    (hv,) = tg.grad(g, x, grad_outputs=tg.tensor(V_VALUE))
    numpy.testing.assert_allclose(hv.numpy(), hvp(X_VALUE, V_VALUE), rtol=1e-13)


def test_the_hessian_of_a_quadratic_is_exact():
    A = RNG.standard_normal((3, 3))
    x = leaf(X_VALUE)
    (g,) = tg.grad(x @ (tg.tensor(A) @ x), x, create_graph=True)
    rows = [tg.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(3)]
    numpy.testing.assert_allclose(numpy.array(rows), A + A.T, rtol=1e-14, atol=1e-15)


def third_derivative(f, values):
    x = leaf(values)
    (d1,) = tg.grad(f(x).sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    (d3,) = tg.grad(d2.sum(), x)
    return d3.numpy()


POINTS = numpy.array([-1.3, -0.2, 0.4, 1.7])
THIRD = {
    "sin": (tg.sin, lambda x: -numpy.cos(x)),
    "x**3": (lambda x: x ** 3, lambda x: numpy.full_like(x, 6.0)),
    "x*x*x": (lambda x: x * x * x, lambda x: numpy.full_like(x, 6.0)),
    "exp(2x)": (lambda x: tg.exp(2.0 * x), lambda x: 8.0 * numpy.exp(2.0 * x)),
    "tanh": (tg.tanh, lambda x: -2 * (1 - numpy.tanh(x) ** 2) * (1 - 3 * numpy.tanh(x) ** 2)),
    "1/x": (lambda x: 1.0 / x, lambda x: -6.0 / x ** 4),
}


@pytest.mark.parametrize("name", THIRD)
def test_third_derivatives_match_the_analytic_ones(name):
    f, analytic = THIRD[name]
    numpy.testing.assert_allclose(third_derivative(f, POINTS), analytic(POINTS),
                                  rtol=1e-12, atol=1e-12)


def test_a_function_that_calls_grad_inside_itself_can_be_differentiated():
    def f(x):
        (inner,) = tg.grad((x ** 3).sum(), x, create_graph=True)     # 3x^2
        return (inner * x).sum()                                      # sum 3x^3

    x = leaf([0.5, -2.0])
    (outer,) = tg.grad(f(x), x)
    numpy.testing.assert_allclose(outer.numpy(), 9 * x.numpy() ** 2, rtol=1e-14)


def test_float32_higher_order_gradients_stay_float32():
    x = leaf([0.5, -1.0], dtype=numpy.float32)
    d3 = third_derivative(tg.sin, x.numpy())
    (d1,) = tg.grad(tg.sin(x).sum(), x, create_graph=True)
    assert d1.dtype == numpy.float32
    numpy.testing.assert_allclose(d3, -numpy.cos(x.numpy()), rtol=1e-6)


# --- the returned values ----------------------------------------------------------------
def test_grad_returns_a_tuple_and_leaves_grad_alone():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    result = tg.grad((x * y).sum(), [x, y])
    assert isinstance(result, tuple) and len(result) == 2
    numpy.testing.assert_array_equal(result[0].numpy(), y.numpy())
    numpy.testing.assert_array_equal(result[1].numpy(), x.numpy())
    assert x.grad is None and y.grad is None
    (only,) = tg.grad((x * x).sum(), x)
    numpy.testing.assert_array_equal(only.numpy(), 2 * x.numpy())


def test_without_create_graph_the_results_are_constants():
    x = leaf([1.0, 2.0])
    (g,) = tg.grad((x * x).sum(), x)
    assert not g.requires_grad and g.is_leaf


def test_with_create_graph_the_results_are_recorded():
    x = leaf([1.0, 2.0])
    (g,) = tg.grad((x * x).sum(), x, create_graph=True)
    assert g.requires_grad and not g.is_leaf


def test_retain_graph_defaults_to_create_graph():
    x = leaf([1.0, 2.0])
    y = (tg.exp(x)).sum()
    tg.grad(y, x, create_graph=True)
    tg.grad(y, x)                                 # still there; this call releases it
    with pytest.raises(tg.BackwardError, match="retain_graph=True"):
        tg.grad(y, x)
    z = (tg.exp(x)).sum()
    tg.grad(z, x, retain_graph=True)
    tg.grad(z, x)


def test_gradients_of_several_outputs_are_summed():
    x = leaf([1.0, 2.0])
    (g,) = tg.grad([(x * x).sum(), (3.0 * x).sum()], x)
    numpy.testing.assert_array_equal(g.numpy(), 2 * x.numpy() + 3.0)


def test_grad_outputs_weight_each_output():
    x = leaf([1.0, 2.0])
    y = x * x
    (g,) = tg.grad([y, x * 5.0], x, grad_outputs=[numpy.array([1.0, -1.0]), numpy.ones(2)])
    numpy.testing.assert_array_equal(g.numpy(), [2.0 + 5.0, -4.0 + 5.0])
    with pytest.raises(tg.OpError, match="2 outputs but 1 grad_outputs"):
        tg.grad([x * x, x * 2.0], x, grad_outputs=[numpy.ones(2)])


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = tg.grad(y, [h, x])
    numpy.testing.assert_array_equal(gh.numpy(), 2 * h.numpy())
    numpy.testing.assert_array_equal(gx.numpy(), 6 * h.numpy())


# --- allow_unused -------------------------------------------------------------------------
def test_an_unused_input_raises_without_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([[1.0]])
    with pytest.raises(tg.OpError) as info:
        tg.grad((x * x).sum(), [x, unused])
    message = str(info.value)
    assert "input 1" in message and "(1, 1)" in message and "allow_unused=True" in message


def test_allow_unused_gives_none_for_an_unused_input():
    x, unused = leaf([1.0, 2.0]), leaf([1.0])
    gx, gu = tg.grad((x * x).sum(), [x, unused], allow_unused=True)
    assert gu is None
    numpy.testing.assert_array_equal(gx.numpy(), 2 * x.numpy())


def test_an_input_used_only_outside_the_outputs_graph_is_unused():
    x, y = leaf([1.0]), leaf([2.0])
    elsewhere = y * 2.0                          # recorded, but not part of the output
    (gy,) = tg.grad((x * 3.0).sum(), [y], allow_unused=True)
    assert gy is None and elsewhere.requires_grad


def test_a_gradient_that_is_constant_in_x_is_unused_at_second_order():
    x = leaf([1.0, 2.0])
    (g,) = tg.grad((x * 3.0).sum(), x, create_graph=True)     # constant 3: no path back to x
    with pytest.raises(tg.OpError, match="allow_unused"):
        tg.grad(g.sum(), x)
    assert tg.grad(g.sum(), x, allow_unused=True) == (None,)


def test_grad_of_an_output_that_is_not_a_tensor_names_it():
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(tg.OpError, match="output 0 is a float, not a tensor"):
        tg.grad(1.5, x)


def test_grad_when_no_output_requires_grad_says_so():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2.0
    with pytest.raises(tg.OpError, match="not used .*no output requires grad.*allow_unused"):
        tg.grad(y, x)
