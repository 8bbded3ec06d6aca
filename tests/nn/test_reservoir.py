"""Echo state network: spectral radius, the leaky-integration equation, closed-form ridge
readout with washout, and that it learns one-step sine prediction and a delayed copy."""
import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg

F64 = tg.float64


def _esn(**kwargs):
    kwargs.setdefault("generator", numpy.random.default_rng(0))
    kwargs.setdefault("dtype", F64)
    return nn.EchoStateNetwork(kwargs.pop("i", 1), kwargs.pop("r", 60), kwargs.pop("o", 1),
                               **kwargs)


@pytest.mark.parametrize("radius,density", [(0.9, 1.0), (0.5, 0.2), (1.3, 0.5)])
def test_spectral_radius_is_the_requested_one(radius, density):
    esn = _esn(spectral_radius=radius, density=density)
    got = numpy.abs(numpy.linalg.eigvals(esn.weight_hh.data)).max()
    assert got == pytest.approx(radius, rel=1e-10)
    if density < 1:
        assert (esn.weight_hh.data == 0).mean() == pytest.approx(1 - density, abs=0.08)


def test_weights_are_frozen_and_in_the_state_dict():
    esn = _esn()
    assert all(not p.requires_grad for p in esn.parameters())
    assert list(esn.state_dict()) == ["weight_ih", "weight_hh", "weight_out", "bias_out"]
    assert numpy.abs(esn.weight_ih.data).max() <= 1.0


def test_states_follow_leaky_integration(rng):
    esn = _esn(i=2, r=7, leak_rate=0.3, input_scaling=0.5)
    u = rng.standard_normal((5, 2))
    x = numpy.zeros(7)
    w_in, w = esn.weight_ih.data, esn.weight_hh.data
    expected = []
    for t in range(5):
        x = 0.7 * x + 0.3 * numpy.tanh(w_in @ u[t] + w @ x)
        expected.append(x)
    states, final = esn.states(u)
    numpy.testing.assert_allclose(states.data, expected, rtol=1e-13, atol=1e-15)
    numpy.testing.assert_array_equal(final.data, expected[-1])
    assert not states.requires_grad


def test_batched_input_and_an_initial_state(rng):
    esn = _esn(i=2, r=7)
    u = rng.standard_normal((4, 3, 2))
    h0 = rng.standard_normal((3, 7))
    states, final = esn.states(u, h0)
    assert states.shape == (4, 3, 7) and final.shape == (3, 7)
    single, _ = esn.states(u[:, 1], h0[1])
    numpy.testing.assert_allclose(states.data[:, 1], single.data, rtol=1e-13)


def test_fit_is_the_ridge_solution_after_the_washout(rng):
    esn = _esn(r=20)
    u = rng.standard_normal((50, 1))
    y = rng.standard_normal((50, 1))
    esn.fit(u, y, ridge=0.1, washout=10)
    x = numpy.asarray(esn.states(u)[0].data)[10:]
    x1 = numpy.hstack([x, numpy.ones((40, 1))])
    penalty = 0.1 * numpy.eye(21)
    penalty[-1, -1] = 0
    w = numpy.linalg.solve(x1.T @ x1 + penalty, x1.T @ y[10:])
    numpy.testing.assert_allclose(esn.weight_out.data, w[:-1].T, rtol=1e-10)
    numpy.testing.assert_allclose(esn.bias_out.data, w[-1], rtol=1e-10)


def test_targets_inside_the_washout_are_ignored(rng):
    u = rng.standard_normal((60, 1))
    y = rng.standard_normal((60, 1))
    wild = y.copy()
    wild[:15] = 1e6
    a = _esn(r=20).fit(u, y, washout=15)
    b = _esn(r=20).fit(u, wild, washout=15)
    numpy.testing.assert_array_equal(a.weight_out.data, b.weight_out.data)
    c = _esn(r=20).fit(u, wild, washout=14)
    assert not numpy.allclose(a.weight_out.data, c.weight_out.data)


def test_learns_one_step_ahead_sine_prediction():
    t = numpy.arange(1100) * 0.2
    u, y = numpy.sin(t)[:, None], numpy.sin(t + 0.2)[:, None]
    esn = _esn(r=100).fit(u[:800], y[:800], washout=100)
    pred = esn.predict(u).data
    rmse = numpy.sqrt(numpy.mean((pred[800:] - y[800:]) ** 2))
    assert rmse < 1e-3


def test_learns_a_delayed_copy_of_random_input(rng):
    delay = 3
    u = rng.uniform(-0.5, 0.5, (1200, 1))
    y = numpy.roll(u, delay, axis=0)
    esn = _esn(r=100, input_scaling=0.5)
    esn.fit(u[:1000], y[:1000], ridge=1e-8, washout=50)
    pred = esn.predict(u).data[1000:]
    nrmse = numpy.sqrt(numpy.mean((pred - y[1000:]) ** 2)) / y[1000:].std()
    assert nrmse < 0.1


def test_an_unfrozen_readout_gradchecks(check_module, rng):
    esn = _esn(i=2, r=6, o=2)
    esn.weight_out.requires_grad_()
    esn.bias_out.requires_grad_()
    u = tg.tensor(rng.standard_normal((5, 3, 2)))
    check_module(esn, esn.predict, u)
    (esn.predict(u) ** 2).sum().backward()
    assert esn.weight_ih.grad is None and esn.weight_hh.grad is None   # the reservoir stays fixed


def test_float32_reservoir_stays_float32():
    esn = _esn(dtype=tg.float32)
    u = numpy.sin(numpy.arange(100) * 0.3)[:, None]
    esn.fit(u, u, washout=10)
    assert esn.predict(u).dtype == numpy.float32 and esn.weight_out.dtype == numpy.float32


def test_save_and_load_restores_a_fitted_network(tmp_path):
    u = numpy.sin(numpy.arange(100) * 0.3)[:, None]
    esn = _esn().fit(u, u, washout=10)
    nn.save(esn.state_dict(), tmp_path / "esn.npz")
    other = _esn(generator=numpy.random.default_rng(1))
    other.load_state_dict(nn.load(tmp_path / "esn.npz"))
    numpy.testing.assert_array_equal(other.predict(u).data, esn.predict(u).data)


@pytest.mark.parametrize("kwargs,match", [
    (dict(leak_rate=0.0), "leak_rate"), (dict(leak_rate=1.5), "leak_rate"),
    (dict(density=0.0), "density"), (dict(spectral_radius=-1.0), "spectral_radius"),
    (dict(r=3, density=1e-9), "spectral radius 0"),
])
def test_bad_construction_arguments_raise(kwargs, match):
    with pytest.raises(tg.OpError, match=match):
        _esn(**kwargs)


def test_bad_fit_and_input_arguments_raise():
    esn = _esn()
    u = numpy.zeros((10, 1))
    with pytest.raises(tg.OpError, match="washout"):
        esn.fit(u, u, washout=10)
    with pytest.raises(tg.OpError, match="targets have shape"):
        esn.fit(u, numpy.zeros((9, 1)))
    with pytest.raises(tg.OpError, match="input of shape"):
        esn.predict(numpy.zeros((10, 2)))
