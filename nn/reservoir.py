"""``EchoStateNetwork``: a fixed random reservoir with a linear readout fitted in closed form.

Reservoir computing (Jaeger, 2001) trains no recurrent weights at all.  The
input and recurrent weights are drawn once and frozen; the recurrent matrix
is rescaled so its spectral radius (largest |eigenvalue|) is below about 1,
which makes the state a fading memory of the input (the echo state
property).  The state follows leaky integration:

    x_t = (1 - a) x_{t-1} + a tanh(W_in u_t + W x_{t-1})

and only the readout ``y_t = W_out x_t + b_out`` is learned, by ridge
regression on the collected states: no backpropagation through time, no
vanishing gradients -- a useful baseline next to trained RNNs.  The
reservoir runs on tapegrad operations under ``no_grad``; the readout is an
ordinary linear map (frozen parameters, which ``requires_grad_()`` would
let a gradient method fine-tune).
"""
import numpy

import tapegrad
from tapegrad.errors import OpError

from .module import Module
from .parameter import Parameter


class EchoStateNetwork(Module):
    """Echo state network: ``EchoStateNetwork(input_size, reservoir_size, output_size)``.

    ``spectral_radius``: the recurrent matrix is scaled to exactly this
    spectral radius (computed with ``numpy.linalg.eigvals`` at construction).
    ``leak_rate`` a in (0, 1]: 1 is no leak; smaller values give slower,
    smoother states.  ``input_scaling``: W_in is uniform in
    [-input_scaling, input_scaling].  ``density``: fraction of nonzero
    recurrent weights.  ``generator``: a ``numpy.random.Generator`` (default:
    tapegrad's seeded global one).  Parameters (all frozen): ``weight_ih``
    (R, I), ``weight_hh`` (R, R), ``weight_out`` (O, R), ``bias_out`` (O,).
    """

    def __init__(self, input_size, reservoir_size, output_size, spectral_radius=0.9,
                 leak_rate=1.0, input_scaling=1.0, density=1.0, generator=None, dtype=None):
        super().__init__()
        if not 0.0 < leak_rate <= 1.0:
            raise OpError(f"EchoStateNetwork: leak_rate must be in (0, 1], got {leak_rate}.")
        if not 0.0 < density <= 1.0:
            raise OpError(f"EchoStateNetwork: density must be in (0, 1], got {density}.")
        if not spectral_radius >= 0.0:
            raise OpError(f"EchoStateNetwork: spectral_radius must be >= 0, got "
                          f"{spectral_radius}.")
        gen = generator if generator is not None else tapegrad.default_generator()
        dtype = tapegrad.get_default_dtype() if dtype is None else numpy.dtype(dtype)
        self.input_size, self.reservoir_size, self.output_size = (input_size, reservoir_size,
                                                                  output_size)
        self.spectral_radius, self.leak_rate = spectral_radius, leak_rate
        self.input_scaling, self.density = input_scaling, density
        w_in = gen.uniform(-input_scaling, input_scaling, (reservoir_size, input_size))
        w = gen.uniform(-1.0, 1.0, (reservoir_size, reservoir_size))
        w *= gen.random((reservoir_size, reservoir_size)) < density
        radius = numpy.abs(numpy.linalg.eigvals(w)).max()
        if radius == 0.0:
            raise OpError(f"EchoStateNetwork: the random recurrent matrix has spectral radius 0 "
                          f"(density {density} leaves too few connections among "
                          f"{reservoir_size} units); raise density or reservoir_size.")
        w *= spectral_radius / radius
        self.weight_ih = Parameter(w_in.astype(dtype), requires_grad=False)
        self.weight_hh = Parameter(w.astype(dtype), requires_grad=False)
        self.weight_out = Parameter(numpy.zeros((output_size, reservoir_size), dtype),
                                    requires_grad=False)
        self.bias_out = Parameter(numpy.zeros(output_size, dtype), requires_grad=False)

    def states(self, input, state=None):
        """Reservoir states for every step, (T, [B,] R), and the final state.

        ``input``: (T, I) or (T, B, I); ``state``: (R,) or (B, R), None for zeros.
        """
        x, batched = self._sequence(input)
        h = (tapegrad.zeros(x.shape[1], self.reservoir_size, dtype=self.weight_hh.dtype)
             if state is None else tapegrad.tensor(state).reshape(x.shape[1], -1))
        a = self.leak_rate
        with tapegrad.no_grad():
            drive = x @ self.weight_ih.T                   # (T, B, R), all steps at once
            w_t = self.weight_hh.T
            out = []
            for t in range(x.shape[0]):
                new = tapegrad.tanh(drive[t] + h @ w_t)
                h = new if a == 1.0 else (1.0 - a) * h + a * new
                out.append(h)
            states = tapegrad.stack(out)
        return (states, h) if batched else (states.reshape(x.shape[0], -1), h.reshape(-1))

    def forward(self, input, state=None):
        """``(outputs (T, [B,] O), final reservoir state)``."""
        states, final = self.states(input, state)
        return states @ self.weight_out.T + self.bias_out, final

    def predict(self, input, state=None):
        """The outputs only."""
        return self.forward(input, state)[0]

    def fit(self, inputs, targets, ridge=1e-6, washout=0, state=None):
        """Fit the readout by ridge regression; returns ``self``.

        Runs the reservoir over ``inputs`` (T, [B,] I), drops the first
        ``washout`` steps (the transient from the initial state), and solves
        ``(X^T X + ridge I) W = X^T Y`` with ``numpy.linalg.solve`` for the
        states X (plus a constant column for the bias, not penalised) and
        ``targets`` Y (T, [B,] O), in float64.
        """
        steps = inputs.shape[0]
        if not 0 <= washout < steps:
            raise OpError(f"EchoStateNetwork.fit: washout={washout} must be in [0, {steps}) "
                          f"for a sequence of {steps} steps.")
        y = numpy.asarray(targets, dtype=numpy.float64)
        if y.shape[0] != steps or y.shape[-1] != self.output_size:
            raise OpError(f"EchoStateNetwork.fit: targets have shape {y.shape}, expected "
                          f"({steps}, [batch,] {self.output_size}) to match inputs "
                          f"{tuple(inputs.shape)}.")
        states, _ = self.states(inputs, state)
        x = numpy.asarray(states.data, dtype=numpy.float64)[washout:]
        x = x.reshape(-1, self.reservoir_size)
        x = numpy.concatenate([x, numpy.ones((x.shape[0], 1))], axis=1)
        y = y[washout:].reshape(-1, self.output_size)
        penalty = ridge * numpy.eye(self.reservoir_size + 1)
        penalty[-1, -1] = 0.0
        w = numpy.linalg.solve(x.T @ x + penalty, x.T @ y)
        with tapegrad.no_grad():
            self.weight_out.copy_(w[:-1].T)
            self.bias_out.copy_(w[-1])
        return self

    def _sequence(self, input):
        x = input if isinstance(input, tapegrad.Tensor) else tapegrad.tensor(
            input, dtype=self.weight_ih.dtype)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise OpError(f"EchoStateNetwork: input of shape {x.shape}, expected (seq_len, "
                          f"{self.input_size}) or (seq_len, batch, {self.input_size}).")
        if x.ndim == 2:
            return x.reshape(x.shape[0], 1, x.shape[1]), False
        return x, True

    def extra_repr(self):
        return (f"{self.input_size}, {self.reservoir_size}, {self.output_size}, "
                f"spectral_radius={self.spectral_radius}, leak_rate={self.leak_rate}")
