"""Small recurrent nets built from raw primitives, with scopes stamped by hand.

They do not depend on ``nn``, so the drawings (and golden files) of these nets
change only when the renderer changes.
"""
import numpy
import pytest

import tapegrad as tg


class Net:
    """A built net: its loss, named parameters, and a NumPy function of the weights."""

    def __init__(self, loss, params, numpy_loss):
        self.loss = loss
        self.params = params            # name -> leaf tensor
        self.numpy_loss = numpy_loss    # dict name -> array  ->  float (for finite differences)


def _param(array, name):
    t = tg.tensor(array, requires_grad=True)
    t.name = name
    return t


def elman_net(steps=3, hidden=4, inputs=3, seed=0, zero_h0=True, dtype=numpy.float64):
    """``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b)``, loss ``0.5 * (h_T W_hy - 1)^2``."""
    rng = numpy.random.default_rng(seed)
    arrays = {"W_xh": rng.normal(size=(inputs, hidden)) * 0.5,
              "W_hh": rng.normal(size=(hidden, hidden)) * 0.5,
              "b": rng.normal(size=(hidden,)) * 0.1,
              "W_hy": rng.normal(size=(hidden, 1))}
    arrays = {k: v.astype(dtype) for k, v in arrays.items()}
    xs = [rng.normal(size=(1, inputs)).astype(dtype) for _ in range(steps)]
    h0 = numpy.zeros((1, hidden), dtype) if zero_h0 else rng.normal(size=(1, hidden)).astype(dtype)

    def numpy_loss(w):
        h = h0
        for x in xs:
            h = numpy.tanh(x @ w["W_xh"] + h @ w["W_hh"] + w["b"])
        return float(0.5 * ((h @ w["W_hy"] - 1.0) ** 2).sum())

    params = {k: _param(v, k) for k, v in arrays.items()}
    h = tg.tensor(h0)
    h.name = "h0"
    with tg.scope("rnn"):
        for t, x in enumerate(xs, start=1):
            xt = tg.tensor(x)
            xt.name = f"x{t}"
            with tg.scope("cell", step=t):
                h = tg.tanh(xt @ params["W_xh"] + h @ params["W_hh"] + params["b"])
    loss = ((h @ params["W_hy"] - 1.0) ** 2).sum() * 0.5
    return Net(loss, params, numpy_loss)


def lstm_net(steps=2, hidden=3, inputs=2, seed=0):
    """A hand-written LSTM (gates i, f, g, o from one product), loss on the last h."""
    rng = numpy.random.default_rng(seed)
    params = {"W": _param(rng.normal(size=(inputs + hidden, 4 * hidden)) * 0.4, "W"),
              "b": _param(numpy.zeros(4 * hidden), "b")}
    h = tg.zeros(1, hidden, dtype=tg.float64)
    c = tg.zeros(1, hidden, dtype=tg.float64)
    with tg.scope("lstm"):
        for t in range(1, steps + 1):
            x = tg.tensor(rng.normal(size=(1, inputs)))
            x.name = f"x{t}"
            with tg.scope("cell", step=t):
                z = tg.cat([x, h], dim=1) @ params["W"] + params["b"]
                i, f, g, o = tg.chunk(z, 4, dim=1)
                c = tg.sigmoid(f) * c + tg.sigmoid(i) * tg.tanh(g)
                h = tg.sigmoid(o) * tg.tanh(c)
    loss = (h ** 2).sum()
    return Net(loss, params, None)


@pytest.fixture(scope="session")
def elman():
    return elman_net


@pytest.fixture(scope="session")
def lstm():
    return lstm_net
