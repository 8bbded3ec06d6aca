"""detect_anomaly: forward and backward stop at the first operation that makes NaN or Inf."""
import numpy
import pytest
from sites import next_line_site

import tapegrad as tg

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's divide warnings


def leaf(values):
    return tg.tensor(numpy.asarray(values, dtype=numpy.float64), requires_grad=True)


def test_forward_stops_at_the_first_op_producing_inf_and_names_it_and_its_line():
    x = leaf([0.0, 1.0])
    with tg.detect_anomaly():
        h = x * 2.0
        with pytest.raises(tg.AnomalyError) as info:
            site = next_line_site()
            y = tg.log(h)                 # log(0) = -inf
            y * 3.0                       # never reached
    message = str(info.value)
    assert message.startswith("detect_anomaly: log produced NaN or Inf")
    assert site in message and "Tensor(2,) float64" in message


def test_forward_names_a_nan_from_finite_inputs():
    x = leaf([0.0, 1.0])
    with tg.detect_anomaly():
        zero = x * 0.0
        with pytest.raises(tg.AnomalyError, match=r"^detect_anomaly: div produced NaN") as info:
            site = next_line_site()
            zero / zero
    assert site in str(info.value)
    assert "already held" not in str(info.value)


def test_forward_says_when_an_input_already_held_nan():
    bad = tg.tensor(numpy.array([numpy.nan, 1.0]))
    x = leaf([1.0, 1.0])
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError, match="add.*input 1 already held NaN"):
            x + bad


def test_forward_checks_operations_that_are_not_recorded():
    x = tg.tensor(numpy.array([0.0, 1.0]))
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="log"):
        tg.log(x)
    with tg.detect_anomaly(), tg.no_grad(), pytest.raises(tg.AnomalyError, match="log"):
        tg.log(x)


def test_backward_stops_at_the_first_vjp_producing_nan_and_names_where_it_was_recorded():
    x = leaf([0.0, 4.0])
    with tg.detect_anomaly():
        inner = next_line_site()
        r = tg.sqrt(x)                  # finite forward; d sqrt / dx is inf at 0
        outer = next_line_site()
        s = tg.sqrt(r)                  # its backward is the first (in reverse) to give inf
        loss = (tg.exp(s) * 2.0).sum()
        with pytest.raises(tg.AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the backward of sqrt")
    assert outer in message and inner not in message and "input 0" in message
    assert x.grad is None                 # nothing half-accumulated


def test_backward_under_anomaly_mode_checks_a_graph_recorded_outside_it():
    x = leaf([0.0, 4.0])
    site = next_line_site()
    loss = tg.sqrt(x).sum()
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=f"sqrt.*{site}"):
        loss.backward()


def test_backward_under_anomaly_mode_checks_a_user_primitive():
    @tg.primitive
    def blows_up(x):
        return x * 1.0

    @blows_up.defvjp
    def _(g, out, x):
        return g / 0.0

    x = leaf([1.0])
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="blows_up"):
        blows_up(x).sum().backward()


def test_without_anomaly_mode_nan_and_inf_pass_silently():
    x = leaf([0.0, 4.0])
    y = tg.log(x)
    assert numpy.isneginf(y.numpy()[0])
    tg.sqrt(x).sum().backward()
    assert numpy.isinf(x.grad.numpy()[0])


def test_a_finite_computation_under_anomaly_mode_gives_the_usual_gradients():
    x = leaf([0.5, 2.0])
    with tg.detect_anomaly():
        (tg.sqrt(x) * tg.log(x)).sum().backward()
    xv = x.numpy()
    numpy.testing.assert_allclose(
        x.grad.numpy(), numpy.log(xv) / (2 * numpy.sqrt(xv)) + 1 / numpy.sqrt(xv))


def test_anomaly_mode_is_scoped_and_can_be_disabled():
    x = tg.tensor(numpy.array([0.0]))
    with tg.detect_anomaly():
        with tg.detect_anomaly(enabled=False):
            tg.log(x)                                   # allowed
        with pytest.raises(tg.AnomalyError):
            tg.log(x)
    tg.log(x)                                           # off again
    with pytest.raises(ZeroDivisionError):
        with tg.detect_anomaly():
            raise ZeroDivisionError
    tg.log(x)


def test_anomaly_error_is_a_floating_point_error_and_a_tapegrad_error():
    assert issubclass(tg.AnomalyError, FloatingPointError)
    assert issubclass(tg.AnomalyError, tg.TapegradError)
