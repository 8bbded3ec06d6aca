"""``RNN``, ``LSTM``, ``GRU``: multi-layer, optionally bidirectional, over whole sequences.

PyTorch's constructor arguments, parameter names (``weight_ih_l0``,
``bias_hh_l1_reverse`` ...), shapes, gate order, default initialisation and
return values.  Additions: ``lengths=`` for padded batches of different
lengths (instead of packed sequences), and the keyword-only ``generator=``
for reproducible dropout masks, ``forget_bias=`` on LSTM and ``dtype=``
(keyword-only so that PyTorch's positional ``proj_size``/``device`` can
never bind to them).

The time loop is plain Python over tapegrad operations, so backpropagation
through time is the tape's reverse sweep.  For speed, the input projection
of all time steps is one matrix product, cut into steps by one ``unbind``,
and each step does only the recurrent product and the gate arithmetic.
Every step runs in ``tapegrad.scope("l{k}", step=t)`` (``"l{k}_reverse"``
for the backward direction), numbered from 1 by input position: records
carry paths like ``lstm/l0[t=3]``.

``return_states=True`` also returns the per-step state tensors the loop
carried (the ones each next step reads), so ``tapegrad.grad(loss, states[0])``
gives the total gradient dL/dh_t of every step -- through the outputs *and*
through all later steps -- without walking the tape (``output[t]`` is a
copy made by ``stack``: its gradient is only the direct part).
"""
import numpy

import tapegrad
from tapegrad import split_sizes, unbind_, where
from tapegrad.errors import OpError

from .. import functional as F
from ..module import Module
from ..parameter import zero_parameter
from .cells import (check_nonlinearity, gru_step, lstm_step, reset_uniform, rnn_step,
                    set_forget_bias)


class _RNNBase(Module):
    """The layer loop shared by RNN, LSTM and GRU; subclasses define one step."""

    gates = 1                  # G: weight rows are G * hidden_size
    has_cell_state = False     # LSTM: the state is a pair (h, c)
    zero_state_needed = False  # GRU: its step needs an actual zero state

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, generator=None, dtype=None):
        super().__init__()
        F.check_probability(dropout, type(self).__name__, "dropout")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.generator = generator
        self.num_directions = 2 if bidirectional else 1
        self._names = []          # per (layer, direction): (w_ih, w_hh, b_ih, b_hh) names
        rows = self.gates * hidden_size
        for k in range(num_layers):
            layer_in = input_size if k == 0 else hidden_size * self.num_directions
            for suffix in ("", "_reverse")[:self.num_directions]:
                names = tuple(f"{kind}_l{k}{suffix}" for kind in
                              ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                setattr(self, names[0], zero_parameter((rows, layer_in), dtype))
                setattr(self, names[1], zero_parameter((rows, hidden_size), dtype))
                if bias:
                    setattr(self, names[2], zero_parameter((rows,), dtype))
                    setattr(self, names[3], zero_parameter((rows,), dtype))
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch does."""
        reset_uniform(self, self.hidden_size)

    # ------------------------------------------------------------- forward
    def forward(self, input, hx=None, lengths=None, *, return_states=False):
        """Run the whole sequence.

        ``input``: (seq_len, batch, input_size), or (batch, seq_len,
        input_size) with ``batch_first``, or unbatched (seq_len, input_size).
        ``hx``: initial state(s) of shape (num_layers * num_directions, batch,
        hidden_size); None for zeros.  ``lengths``: one int per batch element
        (1 <= length <= seq_len); steps past a sequence's length leave its
        state unchanged and get no gradient, their outputs are zero, and the
        backward direction starts at each sequence's own last step.

        ``return_states=True`` returns ``output, h_n, states``: ``states[k]``
        for layer/direction ``k`` (the index of ``h_n``'s first axis) is the
        list of the seq_len states the recurrence carried, in input order,
        each (batch, hidden_size) -- (1, hidden_size) for unbatched input --
        or an ``(h_t, c_t)`` pair for LSTM.  They are the tensors later steps
        read, so ``tapegrad.grad(loss, states[0])`` (or ``retain_grad()`` on
        them before ``backward``) gives the full dL/dh_t for every t.
        """
        x, batched = self._sequence(input)
        steps, batch = x.shape[0], x.shape[1]
        masks = self._masks(lengths, steps, batch)
        states = self._initial_states(hx, batch, batched, x.dtype, masks is not None)
        finals, carried = [], []
        for k in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                index = k * self.num_directions + d
                out, final, per_step = self._direction(x, index, states[index], masks, k,
                                                       d == 1)
                outs.append(out)
                finals.append(final)
                carried.append(per_step)
            x = outs[0] if len(outs) == 1 else tapegrad.cat(outs, dim=2)
            if k < self.num_layers - 1 and self.dropout:
                x = F.dropout(x, self.dropout, self.training, generator=self.generator)
        if masks is not None:
            x = where(masks[1], x, 0.0)
        if self.batch_first and batched:
            x = x.transpose(0, 1)
        elif not batched:
            x = x.reshape(steps, -1)
        if return_states:
            return x, self._final_states(finals, batched), carried
        return x, self._final_states(finals, batched)

    def _direction(self, x, index, state, masks, layer, reverse):
        """One layer in one direction: (outputs stacked (T, B, H), final state, the state
        after each step in input order)."""
        w_ih, w_hh, b_ih, b_hh = (getattr(self, n, None) for n in self._names[index])
        steps, batch = x.shape[0], x.shape[1]
        inputs = self._project(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih, b_hh,
                               steps, batch)
        w_hh_t = w_hh.T
        name = f"l{layer}_reverse" if reverse else f"l{layer}"
        step_masks = masks[0] if masks is not None else [None] * steps
        outs, carried = [None] * steps, [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            with tapegrad.scope(name, step=t + 1):
                new = self._step(inputs[t], state, w_hh_t, b_hh)
                m = step_masks[t]
                if m is not None:
                    new = (tuple(where(m, a, b) for a, b in zip(new, state))
                           if self.has_cell_state else where(m, new, state))
                state = carried[t] = new
                outs[t] = state[0] if self.has_cell_state else state
        return tapegrad.stack(outs), state, carried

    def _project(self, flat, w_ih, b_ih, b_hh, steps, batch):
        """The input projection of all steps in one product, cut into steps by one unbind."""
        bias = None if b_ih is None else b_ih + b_hh
        proj = F.linear(flat, w_ih, bias).reshape(steps, batch, -1)
        return unbind_(proj, axis=0)

    # ---------------------------------------------------------- validation
    def _sequence(self, input):
        """(input as (T, B, I), whether it was batched)."""
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(batch, seq_len, " if self.batch_first else "(seq_len, batch, "
            raise OpError(f"{self.describe()}: input of shape {input.shape}, expected "
                          f"{layout}{self.input_size}) or unbatched (seq_len, "
                          f"{self.input_size}). Fix: check input_size and the layout "
                          f"(batch_first={self.batch_first}).")
        steps = input.shape[1] if self.batch_first and input.ndim == 3 else input.shape[0]
        if steps == 0:
            raise OpError(f"{self.describe()}: input of shape {input.shape} has sequence length "
                          f"0; a recurrent layer needs at least one step (there is no last "
                          f"state to return). Fix: skip empty sequences, or pad them to one "
                          f"step and pass lengths=.")
        if input.ndim == 2:
            return input.reshape(input.shape[0], 1, input.shape[1]), False
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _masks(self, lengths, steps, batch):
        """(per-step (B, 1) masks, None where no sequence has ended; (T, B, 1) mask) or None."""
        if lengths is None:
            return None
        arr = lengths.data if isinstance(lengths, tapegrad.Tensor) else numpy.asarray(lengths)
        problem = None
        if arr.ndim != 1 or arr.shape[0] != batch:
            problem = f"lengths has shape {arr.shape}, expected ({batch},): one per sequence"
        elif arr.dtype.kind not in "iu":
            problem = f"lengths must be integers, got dtype {arr.dtype}"
        elif arr.size and (arr.min() < 1 or arr.max() > steps):
            problem = (f"lengths range from {arr.min()} to {arr.max()}, outside 1..{steps} "
                       f"(the padded sequence length)")
        if problem:
            raise OpError(f"{self.describe()}: {problem}. Fix: pass lengths=[len(s) for s in "
                          f"sequences] for a batch of {batch} sequences padded to {steps} "
                          f"steps.")
        full = numpy.arange(steps)[:, None, None] < arr[None, :, None]
        return [None if m.all() else m for m in full], full

    def _initial_states(self, hx, batch, batched, dtype, need_zeros):
        """One initial state per (layer, direction); None is the zero state."""
        count = self.num_layers * self.num_directions
        parts = (("h_0", "c_0") if self.has_cell_state else ("h_0",))
        if hx is None:
            if not (need_zeros or self.zero_state_needed):
                return [None] * count
            zero = tapegrad.zeros(batch, self.hidden_size, dtype=dtype)
            return [(zero, zero) if self.has_cell_state else zero] * count
        pair = isinstance(hx, (tuple, list))
        if self.has_cell_state and (not pair or len(hx) != 2):
            raise OpError(f"{self.describe()}: the initial state must be a pair (h_0, c_0), got "
                          f"{type(hx).__name__}. Fix: lstm(x, (h_0, c_0)) or lstm(x).")
        if pair and not self.has_cell_state:
            raise OpError(f"{self.describe()}: the initial state is one tensor h_0, got a "
                          f"{type(hx).__name__}. Fix: {type(self).__name__.lower()}(x, h_0); "
                          f"only LSTM takes a pair (h_0, c_0).")
        given = hx if self.has_cell_state else (hx,)
        want = (count, batch, self.hidden_size) if batched else (count, self.hidden_size)
        split = []
        for what, s in zip(parts, given):
            if tuple(s.shape) != want:
                raise OpError(f"{self.describe()}: initial state {what} has shape {s.shape}, "
                              f"expected (num_layers * num_directions, batch, hidden_size) = "
                              f"{want}. Fix: tapegrad.zeros{want}, or None for zeros.")
            if not batched:
                s = s.reshape(count, 1, self.hidden_size)
            split.append(unbind_(s, axis=0))
        return list(zip(*split)) if self.has_cell_state else list(split[0])

    def _final_states(self, finals, batched):
        if self.has_cell_state:
            result = tuple(tapegrad.stack([f[i] for f in finals]) for i in (0, 1))
            return result if batched else tuple(r.reshape(len(finals), -1) for r in result)
        h = tapegrad.stack(finals)
        return h if batched else h.reshape(len(finals), -1)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            value = getattr(self, name)
            if value != default:
                s += f", {name}={value}"
        return s


class RNN(_RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``; returns ``output, h_n``.

    ``output`` (T, B, D*H) holds the last layer's h_t for every t (both
    directions concatenated); ``h_n`` (num_layers*D, B, H) each layer's final state.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, generator=None,
                 dtype=None):
        self.nonlinearity = nonlinearity
        self._act = check_nonlinearity(nonlinearity, "RNN")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, generator=generator, dtype=dtype)

    def _step(self, xp, h, w_hh_t, b_hh):
        return rnn_step(xp, h, w_hh_t, self._act)

    def extra_repr(self):
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTM(_RNNBase):
    """LSTM (gates i, f, g, o); returns ``output, (h_n, c_n)``.

    ``forget_bias``: if given, in every layer and direction the forget slice
    (rows H..2H) of ``bias_ih_l{k}`` is set to it and that of ``bias_hh_l{k}``
    to 0, so the total forget-gate bias is exactly ``forget_bias``.
    """

    gates = 4
    has_cell_state = True

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, forget_bias=None, generator=None,
                 dtype=None):
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, generator=generator, dtype=dtype)

    def reset_parameters(self):
        """Redraw as PyTorch does, then set the forget-gate bias to ``forget_bias`` if one was given."""
        super().reset_parameters()
        pairs = [(n[2], n[3]) for n in self._names]
        set_forget_bias(self, pairs, self.forget_bias, self.hidden_size)

    def _step(self, xp, state, w_hh_t, b_hh):
        h, c = (None, None) if state is None else state
        return lstm_step(xp, h, c, w_hh_t)


class GRU(_RNNBase):
    """GRU (gates r, z, n; PyTorch's equations, see `nn.recurrent.cells.gru_step`);
    returns ``output, h_n``."""

    gates = 3
    zero_state_needed = True

    def _project(self, flat, w_ih, b_ih, b_hh, steps, batch):
        """Input projection with ``b_ih`` only (``b_hh`` is applied inside the reset gate),
        split once into the r,z part and the n part for all steps."""
        proj = F.linear(flat, w_ih, b_ih).reshape(steps, batch, -1)
        n = self.hidden_size
        rz, cand = split_sizes(proj, sizes=(2 * n, n), axis=2)
        return list(zip(unbind_(rz, axis=0), unbind_(cand, axis=0)))

    def _step(self, xp, h, w_hh_t, b_hh):
        return gru_step(xp[0], xp[1], h, w_hh_t, b_hh)
