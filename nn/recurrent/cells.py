"""Recurrent cells -- one time step -- and the step functions the layers share.

A cell computes one step: ``h' = cell(x, h)`` (``h', c' = lstm_cell(x, (h,
c))``), with PyTorch's parameter names, shapes, gate order and default
initialisation U(-1/sqrt(H), 1/sqrt(H)).  Looping over time is the caller's
business; backpropagation through time is then simply the tape's reverse
sweep over the records the loop made.  Calls carry the module's scope; wrap
the loop body in ``tapegrad.scope("t", step=t)`` to stamp time steps too.

The ``*_step`` functions take the input projection ``xp = x W_ih^T + biases``
already computed, because the layers compute it for all time steps at once.
A state of None means the zero state: its recurrent product is skipped (so a
cell called without a state gives ``weight_hh`` no gradient, where PyTorch
gives it a zero gradient).
"""
import math

import tapegrad
from tapegrad import addmm, sigmoid, split_sizes, tanh
from tapegrad.errors import OpError

from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import zero_parameter

NONLINEARITIES = {"tanh": tanh, "relu": tapegrad.relu}


def rnn_step(xp, h, w_hh_t, act):
    """Elman: ``h_t = act(xp_t + h_{t-1} W_hh^T)`` (sum and product as one ``addmm``)."""
    return act(xp if h is None else addmm(xp, h, w_hh_t))


def lstm_step(xp, h, c, w_hh_t):
    """LSTM, gates i, f, g, o: ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``."""
    gates = xp if h is None else addmm(xp, h, w_hh_t)
    n = gates.shape[1] // 4
    i, f, g, o = split_sizes(gates, sizes=(n, n, n, n), axis=1)
    i = sigmoid(i)
    g = tanh(g)
    c = i * g if c is None else sigmoid(f) * c + i * g
    return sigmoid(o) * tanh(c), c


def gru_step(xp_rz, xp_n, h, w_hh_t, b_hh):
    """GRU, PyTorch's form: ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``.

    The reset gate multiplies the hidden projection *including* its bias.
    ``h_t = (1 - z) n + z h_{t-1}``, computed as ``n + z (h_{t-1} - n)``.
    """
    n_hidden = h.shape[1]
    hp = h @ w_hh_t if b_hh is None else addmm(b_hh, h, w_hh_t)
    h_rz, h_n = split_sizes(hp, sizes=(2 * n_hidden, n_hidden), axis=1)
    r, z = split_sizes(sigmoid(xp_rz + h_rz), sizes=(n_hidden, n_hidden), axis=1)
    n = tanh(xp_n + r * h_n)
    return n + z * (h - n)


def reset_uniform(module, hidden_size):
    """PyTorch's recurrent default: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def check_nonlinearity(nonlinearity, who):
    if nonlinearity not in NONLINEARITIES:
        raise OpError(f"{who}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}.")
    return NONLINEARITIES[nonlinearity]


class _Cell(Module):
    """Shared parts: parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), biases."""

    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        rows = self.gates * hidden_size
        self.weight_ih = zero_parameter((rows, input_size), dtype)
        self.weight_hh = zero_parameter((rows, hidden_size), dtype)
        self.bias_ih = zero_parameter((rows,), dtype) if bias else None
        self.bias_hh = zero_parameter((rows,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch does."""
        reset_uniform(self, self.hidden_size)

    def _input(self, input):
        """(input as (batch, input_size), whether it was batched)."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise OpError(f"{self.describe()}: input of shape {input.shape}, expected (batch, "
                          f"{self.input_size}) or ({self.input_size},). Fix: a cell takes one "
                          f"time step; index the sequence (x[t]) and check input_size.")
        return (input, True) if input.ndim == 2 else (input.reshape(1, -1), False)

    def _state(self, state, batch, batched, what="hx"):
        """A state tensor as (batch, hidden_size), checked; None stays None."""
        if state is None:
            return None
        want = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if tuple(state.shape) != want:
            layout = "(batch, hidden_size)" if batched else "(hidden_size,): the input is unbatched"
            raise OpError(f"{self.describe()}: state {what} has shape {state.shape}, expected "
                          f"{want} {layout}. Fix: start from None (zeros) or "
                          f"tapegrad.zeros{want}.")
        return state if batched else state.reshape(1, -1)

    def _projection(self, x):
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}"
                + ("" if self.bias_ih is not None else ", bias=False"))


class RNNCell(_Cell):
    """Elman cell: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act tanh or relu."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, dtype=None):
        self.nonlinearity = nonlinearity
        self._act = check_nonlinearity(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = self._state(hx, x.shape[0], batched)
        w_hh_t = None if h is None else self.weight_hh.T
        h = rnn_step(self._projection(x), h, w_hh_t, self._act)
        return h if batched else h.reshape(-1)

    def extra_repr(self):
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTMCell(_Cell):
    """LSTM cell, gates i, f, g, o stacked in that order in the weight rows.

    ``forget_bias``: if given, the forget-gate slice of ``bias_ih``
    (rows H..2H) is set to it and that slice of ``bias_hh`` to 0, so the
    total forget bias is exactly ``forget_bias`` (1.0 is the usual choice:
    remember by default).  Without it, biases are U(-1/sqrt(H), 1/sqrt(H)).
    """

    gates = 4

    def __init__(self, input_size, hidden_size, bias=True, *, forget_bias=None, dtype=None):
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias, dtype=dtype)

    def reset_parameters(self):
        """Redraw as PyTorch does, then set the forget-gate bias to ``forget_bias`` if one was given."""
        super().reset_parameters()
        set_forget_bias(self, [("bias_ih", "bias_hh")], self.forget_bias, self.hidden_size)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = c = None
        if hx is not None:
            h = self._state(hx[0], x.shape[0], batched, "h")
            c = self._state(hx[1], x.shape[0], batched, "c")
        w_hh_t = None if h is None else self.weight_hh.T
        h, c = lstm_step(self._projection(x), h, c, w_hh_t)
        return (h, c) if batched else (h.reshape(-1), c.reshape(-1))

    def extra_repr(self):
        extra = "" if self.forget_bias is None else f", forget_bias={self.forget_bias}"
        return super().extra_repr() + extra


class GRUCell(_Cell):
    """GRU cell, gates r, z, n in the weight rows (PyTorch's equations; see `gru_step`)."""

    gates = 3

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = self._state(hx, x.shape[0], batched)
        if h is None:
            h = tapegrad.zeros(x.shape[0], self.hidden_size, dtype=self.weight_hh.dtype)
        n = self.hidden_size
        xp_rz, xp_n = split_sizes(F.linear(x, self.weight_ih, self.bias_ih),
                                  sizes=(2 * n, n), axis=1)
        h = gru_step(xp_rz, xp_n, h, self.weight_hh.T, self.bias_hh)
        return h if batched else h.reshape(-1)


class JordanCell(Module):
    """Jordan network cell: the previous *output* is fed back, not the hidden state.

    ``h_t = act(x_t W_ih^T + y_{t-1} W_yh^T + bias_h)``, ``y_t = h_t W_hy^T + bias_y``.

    Parameters: ``weight_ih`` (H, I) input to hidden, ``weight_yh`` (H, O)
    previous output to hidden, ``bias_h`` (H,), ``weight_hy`` (O, H) hidden to
    output, ``bias_y`` (O,); all U(-1/sqrt(H), 1/sqrt(H)).  ``y, h =
    cell(x, y_prev)``: the new output ``y`` is the state to feed back next
    step (None means zeros), ``h`` the hidden activations.
    """

    def __init__(self, input_size, hidden_size, output_size, bias=True, nonlinearity="tanh", *,
                 dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.nonlinearity = nonlinearity
        self._act = check_nonlinearity(nonlinearity, "JordanCell")
        self.weight_ih = zero_parameter((hidden_size, input_size), dtype)
        self.weight_yh = zero_parameter((hidden_size, output_size), dtype)
        self.bias_h = zero_parameter((hidden_size,), dtype) if bias else None
        self.weight_hy = zero_parameter((output_size, hidden_size), dtype)
        self.bias_y = zero_parameter((output_size,), dtype) if bias else None
        reset_uniform(self, hidden_size)

    def forward(self, input, y=None):
        if input.ndim != 2 or input.shape[1] != self.input_size:
            raise OpError(f"{self.describe()}: input of shape {input.shape}, expected (batch, "
                          f"{self.input_size}). Fix: pass one time step x[t] of the sequence.")
        pre = F.linear(input, self.weight_ih, self.bias_h)
        if y is not None:
            if tuple(y.shape) != (input.shape[0], self.output_size):
                raise OpError(f"{self.describe()}: fed-back output y has shape {y.shape}, "
                              f"expected {(input.shape[0], self.output_size)} (batch, "
                              f"output_size). Fix: feed back the y this cell returned, or None.")
            pre = pre + y @ self.weight_yh.T
        h = self._act(pre)
        return F.linear(h, self.weight_hy, self.bias_y), h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, {self.output_size}"


def set_forget_bias(module, bias_names, value, hidden_size):
    """Give each LSTM (bias_ih, bias_hh) pair a total forget-gate bias of ``value``.

    The forget slice (rows H..2H) of ``bias_ih`` becomes ``value`` and that of
    ``bias_hh`` zero.  ``value`` None leaves the biases alone.
    """
    if value is None:
        return
    for ih, hh in bias_names:
        b_ih, b_hh = getattr(module, ih, None), getattr(module, hh, None)
        if b_ih is None:
            raise OpError(f"{module.describe()}: forget_bias needs biases; build it with "
                          f"bias=True or leave forget_bias=None.")
        for b, v in ((b_ih, value), (b_hh, 0.0)):
            new = b.data.copy()
            new[hidden_size:2 * hidden_size] = v
            with tapegrad.no_grad():
                b.copy_(new)
