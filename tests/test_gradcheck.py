"""gradcheck and gradgradcheck: pass on correct gradients, fail on wrong ones, and say where."""
import inspect
import re

import numpy
import pytest

import tapegrad
from tapegrad import GradcheckError, gradcheck, gradgradcheck


def leaf(shape, dtype=numpy.float64, seed=0, name=None, low=-2.0, high=2.0):
    rng = numpy.random.default_rng(seed)
    t = tapegrad.tensor(rng.uniform(low, high, shape).astype(dtype), requires_grad=True)
    t.name = name
    return t


# --- user primitives with deliberately wrong derivatives --------------------------------
@tapegrad.primitive
def cube(x):
    return x * x * x


@cube.defvjp
def _(g, out, x):
    return g * 3.3 * x * x            # wrong: 3.3 instead of 3


@tapegrad.primitive
def flipped_cube(x):
    return x * x * x


@flipped_cube.defvjp
def _(g, out, x):
    return -(g * 3 * x * x)           # wrong sign


@tapegrad.primitive
def square_cut(x):
    return x * x


@square_cut.defvjp
def _(g, out, x):
    return g * (2 * numpy.asarray(x))  # right values, but x is cut off from the tape


@tapegrad.primitive
def double(x):
    return 2 * x


@double.defvjp
def _(g, out, x):
    return g * 2.5                     # wrong; used only inside square_via_double's vjp


@tapegrad.primitive
def square_via_double(x):
    return x * x


@square_via_double.defvjp
def _(g, out, x):
    return g * double(x)               # right first derivative, wrong second one


def line_of(fn, marker):
    """Line number of the source line of ``fn`` containing ``marker``."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def rnn_with_cube(x, W, h0):
    """A short recurrence with the wrong primitive in the middle."""
    h = h0
    for t in range(3):
        with tapegrad.scope("cell", step=t):
            a = tapegrad.tanh(x[t] @ W + h)
            h = cube(a) * 0.5 + a          # the wrong primitive
    return (h * h).sum()


# --- passing ---------------------------------------------------------------------------
def test_passes_on_a_correct_function_with_several_inputs_and_outputs():
    x, W, b = leaf((3, 4), name="x"), leaf((4, 2), seed=1, name="W"), leaf((2,), seed=2)

    def f(x, W, b):
        h = tapegrad.tanh(x @ W + b)
        return h, tapegrad.sigmoid(x).sum() * tapegrad.softmax(h, dim=-1)

    assert gradcheck(f, (x, W, b)) is True
    assert gradcheck(f, (x, W, b), fast_mode=True) is True


def test_passes_on_a_float32_model_with_float32_internals():
    rng = numpy.random.default_rng(3)
    W = tapegrad.tensor(rng.uniform(-1, 1, (5, 5)).astype(numpy.float32))
    U = tapegrad.tensor(rng.uniform(-1, 1, (4, 5)).astype(numpy.float32))
    xs = leaf((8, 2, 4), numpy.float32, seed=4, name="xs")
    h0 = leaf((2, 5), numpy.float32, seed=5, name="h0")

    def rnn(xs, h):                    # 8 steps, parameters float32 in the closure
        for t in range(xs.shape[0]):
            h = tapegrad.tanh(h @ W + xs[t] @ U)
        return tapegrad.log_softmax(h, dim=-1).sum() * 3.0

    assert gradcheck(rnn, (xs, h0)) is True
    assert gradcheck(rnn, (xs, h0), fast_mode=True) is True


def test_float32_internals_make_the_working_precision_float32():
    x = leaf((3,), seed=6)                 # float64 input, float32 computation inside

    def f(x):
        return (x.float() * 2.0).exp()
    assert gradcheck(f, x) is True
    # with float64's step and tolerances the float32 differences are rounding noise
    assert gradcheck(f, x, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=False) is False


def test_checks_only_inputs_that_require_grad_and_passes_constants_through():
    x = leaf((3,), name="x")
    c = tapegrad.tensor(numpy.array([1.0, 2.0, 3.0]))
    assert gradcheck(lambda x, c, k: x * c + k, (x, c, 2.0)) is True


def test_a_function_that_calls_grad_itself():
    def f(x):
        return tapegrad.grad((x ** 3).sum(), x, create_graph=True)[0]
    assert gradcheck(f, leaf((4,))) is True


def test_inputs_are_left_alone():
    x = leaf((2, 3), name="x")
    (x * x).sum().backward()
    before, data, version = x.grad, x.data.copy(), x.version
    y = leaf((3,), seed=1)
    gradcheck(lambda x, y: tapegrad.tanh(x * y), (x, y))
    with pytest.raises(GradcheckError):
        gradcheck(lambda x, y: cube(x * y), (x, y))
    gradgradcheck(lambda x, y: tapegrad.tanh(x * y), (x, y))
    assert x.grad is before and y.grad is None
    assert numpy.array_equal(x.data, data) and x.version == version


# --- failing, and saying where -----------------------------------------------------------
def test_names_the_input_the_worst_element_and_the_wrong_primitive():
    x, W, h0 = leaf((3, 2, 3), name="x"), leaf((3, 4), seed=1, name="W"), leaf((2, 4), seed=2)
    with pytest.raises(GradcheckError) as info:
        gradcheck(rnn_with_cube, (x, W, h0))
    msg = str(info.value)
    assert "input 0 ('x')" in msg
    assert re.search(r"worst element: d output0 / d x\[\d, \d, \d\]: analytic \S+, numeric \S+",
                     msg)
    assert "max abs error" in msg and "max rel error" in msg and "atol=1e-05" in msg
    assert "also disagree: output 0 w.r.t. input 1 ('W'), output 0 w.r.t. input 2" in msg
    site = f"test_gradcheck.py:{line_of(rnn_with_cube, 'cube(a)')}"
    assert (f"the first primitive whose vjp disagrees with finite differences: cube at {site} "
            f"(scope cell[t=0])") in msg


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("wrong", [cube, flipped_cube], ids=["factor_1.1", "sign"])
def test_a_wrong_vjp_fails_in_float64_and_in_float32(wrong, dtype, fast_mode):
    x = leaf((2, 3), dtype, name="x")
    with pytest.raises(GradcheckError, match=f"disagrees with finite differences: "
                                             f"{wrong.primitive.name} at"):
        gradcheck(lambda x: tapegrad.sin(wrong(tapegrad.tanh(x))), x, fast_mode=fast_mode)


def test_names_the_failing_output_and_uses_tensor_names():
    x = leaf((3,), name="x")

    def f(x):
        y = cube(x)
        y.name = "y"
        return tapegrad.exp(x), y
    msg = str(pytest.raises(GradcheckError, gradcheck, f, x).value)
    assert "the gradient of y (shape (3,)) with respect to input 0 ('x')" in msg
    assert re.search(r"d y\[\d\] / d x\[\d\]", msg)


def test_raise_exception_false_returns_false():
    assert gradcheck(cube, leaf((3,)), raise_exception=False) is False
    assert gradgradcheck(square_cut, leaf((3,)), raise_exception=False) is False


def test_says_so_when_no_recorded_primitive_is_wrong():
    def outside_the_tape(x):           # a constant made from x's values: d/dx is lost
        return x * tapegrad.tensor(x.data.copy())
    with pytest.raises(GradcheckError, match="every recorded primitive's vjp agrees"):
        gradcheck(outside_the_tape, leaf((3,)))


def test_a_kink_is_blamed_on_the_primitive_that_has_it():
    x = tapegrad.tensor(numpy.array([0.0, 1.0, -1.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="disagrees with finite differences: relu at"):
        gradcheck(lambda x: tapegrad.relu(x) * 2.0, x)


def test_usage_errors():
    with pytest.raises(tapegrad.OpError, match="no input requires grad"):
        gradcheck(tapegrad.exp, tapegrad.tensor(numpy.ones(2)))
    with pytest.raises(tapegrad.OpError, match="must return a Tensor"):
        gradcheck(lambda x: x.data, leaf((2,)))
    with pytest.raises(tapegrad.OpError, match="2 floating-point output"):
        gradgradcheck(lambda x: (x * 2, x * 3), leaf((2,)), grad_outputs=leaf((2,)))


def test_error_is_an_assertion_error_and_a_tapegrad_error():
    assert issubclass(GradcheckError, AssertionError)
    assert issubclass(GradcheckError, tapegrad.TapegradError)


# --- second derivatives ----------------------------------------------------------------------
def test_gradgradcheck_passes_on_tanh_sigmoid_matmul_chains():
    x, W = leaf((3, 4), name="x"), leaf((4, 2), seed=1, name="W")

    def f(x, W):
        return tapegrad.sigmoid(tapegrad.tanh(x @ W) @ W.T) * tapegrad.tanh(x)

    assert gradgradcheck(f, (x, W)) is True
    assert gradgradcheck(f, (x, W), fast_mode=True) is True
    assert gradgradcheck(f, (x, W), grad_outputs=leaf((3, 4), seed=9)) is True


def test_gradgradcheck_passes_in_float32():
    x, W = leaf((3, 4), numpy.float32, name="x"), leaf((4, 2), numpy.float32, seed=1)
    assert gradgradcheck(lambda x, W: tapegrad.tanh(x @ W), (x, W)) is True


def test_gradgradcheck_names_a_vjp_that_is_cut_off_from_the_tape():
    x = leaf((3,), name="x")
    assert gradcheck(square_cut, x)                     # first derivatives are right
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda x: tapegrad.sin(square_cut(x)), x)
    msg = str(info.value)
    assert "the first derivative w.r.t. input 0 ('x')" in msg
    assert re.search(r"d grad_x\[\d\] / d x\[\d\]", msg)
    assert "vjp is not differentiated correctly" in msg and "square_cut at test_gradcheck.py:" \
        in msg


def test_gradgradcheck_names_a_wrong_primitive_inside_a_vjp():
    x = leaf((3,), name="x")
    assert gradcheck(square_via_double, x)
    with pytest.raises(GradcheckError, match="disagrees with finite differences: double at "
                                             r"test_gradcheck.py:\d+"):
        gradgradcheck(square_via_double, x)


def test_fast_mode_needs_few_evaluations_when_the_gradient_is_right():
    calls = []

    def f(x):
        calls.append(1)
        return tapegrad.tanh(x) * 2.0
    x = leaf((4, 5))
    assert gradcheck(f, x, fast_mode=True)
    fast = len(calls)
    calls.clear()
    assert gradcheck(f, x)
    assert fast <= 7 < 2 * x.numel() <= len(calls)    # 7: one run on a tape for the vjp contract


# --- what the Jacobian cannot show: a vjp must be linear in g and reentrant --------------
@tapegrad.primitive
def cube_ignoring_g(x):
    return x * x * x


@cube_ignoring_g.defvjp
def _(g, out, x):
    return 3 * x * x                  # right when g is all ones, wrong for any other g


_calls = [0]


@tapegrad.primitive
def cube_with_state(x):
    return x * x * x


@cube_with_state.defvjp
def _(g, out, x):
    _calls[0] += 1                    # drifts by 1e-9 per call: passes any tolerance
    return g * 3 * x * x * (1.0 + 1e-9 * _calls[0])


@pytest.mark.parametrize("fast_mode", [False, True])
def test_a_vjp_that_ignores_its_cotangent_is_named_even_under_a_sum(fast_mode):
    x = leaf((3,))
    with pytest.raises(GradcheckError, match=r"the vjp of cube_ignoring_g at .* is not linear "
                                             r"in its cotangent g"):
        gradcheck(lambda x: cube_ignoring_g(x).sum(), x, fast_mode=fast_mode)


def test_a_vjp_that_keeps_state_between_calls_is_not_reentrant():
    x = leaf((3,))
    with pytest.raises(GradcheckError, match=r"the vjp of cube_with_state at .* is not "
                                             r"reentrant"):
        gradcheck(lambda x: cube_with_state(x).sum(), x)
    assert gradcheck(lambda x: cube_with_state(x).sum(), x, raise_exception=False) is False
