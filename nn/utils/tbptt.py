"""Truncated backpropagation through time, TBPTT(k1, k2) (Williams & Peng, 1990).

A long sequence is walked in windows.  Every ``k1`` steps the parameters
are updated from the losses of those ``k1`` steps, backpropagated at most
``k2`` steps into the past (``k2 >= k1``).  The hidden state is carried
forward across windows -- its *values* continue -- but it enters each
window detached, so no gradient crosses the cut.  ``k1 == k2`` is the
common "chunked" case (disjoint chunks, nothing recomputed); ``k1 == k2 ==
T`` is full BPTT.

Choosing the lengths:

* memory and time per update grow with ``k2`` (the tape holds k2 steps);
  updates become more frequent as ``k1`` shrinks;
* credit is assigned at most ``k2`` steps back: a dependency longer than
  ``k2`` steps gets no gradient at all, and the loss at the start of a
  chunk sees fewer steps of history than the loss at its end, so training
  is biased towards short-term dependencies;
* with ``k1 < k2`` each window re-runs the ``k2 - k1`` steps it shares with
  the previous one (from the carried state, with the current parameters),
  so every loss step gets at least ``k2 - k1 + 1`` steps of gradient.
"""
from collections import namedtuple

import tapegrad
from tapegrad.errors import OpError

from .clip import clip_grad_norm_

Window = namedtuple("Window", ["start", "loss_start", "stop", "carry"])
"""One update of TBPTT: run the model over steps [start, stop) from the state at ``start``; the
loss covers steps [loss_start, stop); the state at ``carry`` (the next window's start, or
``stop`` for the last window) is kept, detached.
"""

TBPTTResult = namedtuple("TBPTTResult", ["losses", "state"])
"""What `TruncatedBPTT.run` returns: the loss of each update (floats) and the final state
(detached).
"""

TBPTTUpdate = namedtuple("TBPTTUpdate", ["index", "window", "loss", "grad_norm", "state"])
"""What `TruncatedBPTT.updates` yields after each parameter update: its number (from 0), its
``Window``, its loss (a float), the gradient norm before clipping (None without
``clip_grad_norm``) and the state at the window's stop, detached (pass it as ``state`` to
continue the stream after stopping early).
"""


def tbptt_windows(steps, k1, k2=None):
    """The windows of TBPTT(k1, k2) over ``steps`` time steps, in order.

    Updates happen after steps k1, 2 k1, ... and at the end.  The loss of an
    update covers the steps since the previous update; its window reaches
    ``k2 - k1`` steps further back (less at the start of the sequence), so
    a full window is ``k2`` steps long and with ``k1 == k2`` windows are
    disjoint chunks.
    """
    k2 = k1 if k2 is None else k2
    if not (isinstance(k1, int) and isinstance(k2, int)) or k1 < 1 or k2 < k1:
        raise OpError(f"TBPTT: need integers 1 <= k1 <= k2, got k1={k1!r}, k2={k2!r}. k1 is how "
                      f"often to update, k2 how far back to backpropagate.")
    if steps < 1:
        raise OpError(f"TBPTT: the sequence has {steps} steps; it needs at least one.")
    context = k2 - k1
    stops = list(range(k1, steps, k1)) + [steps]
    windows = []
    for i, stop in enumerate(stops):
        loss_start = stops[i - 1] if i else 0
        carry = max(0, stop - context) if i + 1 < len(stops) else stop
        windows.append(Window(max(0, loss_start - context), loss_start, stop, carry))
    return windows


def detach_state(state):
    """``state`` with every tensor detached (tuples/lists walked; None and others kept)."""
    if isinstance(state, tapegrad.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    return state


class TruncatedBPTT:
    """Train a recurrent model on one long sequence with TBPTT(k1, k2).

    ``model(x, state) -> (output, state)`` runs a stretch of the sequence
    (time along ``time_dim`` of ``x`` and ``output``), as ``nn.RNN``,
    ``nn.LSTM`` and ``nn.GRU`` do.  ``loss_fn(output, target)`` returns a
    scalar for a stretch; ``optimizer`` needs ``zero_grad()`` and ``step()``.
    ``clip_grad_norm``: if given, gradients are clipped to this total norm
    before each step.  ``k2`` defaults to ``k1``.

    Class targets work as they are: when ``target`` has one dimension fewer
    than ``output`` (integer ids (T, B) for logits (T, B, V)), both are
    flattened to (T*B, V) and (T*B,) before ``loss_fn``, so
    ``nn.CrossEntropyLoss()`` can be passed directly.

        runner = TruncatedBPTT(model, nn.MSELoss(), opt, k1=20)
        losses, state = runner.run(x, y)             # x: (T, B, I), y: (T, B, O)
        losses, state = runner.run(x2, y2, state)    # continue the stream

    To stop on a step or time budget, or to do something between updates,
    iterate over `updates` instead and ``break`` when done::

        for update in runner.updates(x, y):
            if time.perf_counter() > deadline:
                break
    """

    def __init__(self, model, loss_fn, optimizer, k1, k2=None, time_dim=0,
                 clip_grad_norm=None):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.k1 = k1
        self.k2 = k1 if k2 is None else k2
        self.time_dim = time_dim
        self.clip_grad_norm = clip_grad_norm
        tbptt_windows(1, self.k1, self.k2)      # validates k1, k2

    def run(self, inputs, targets, state=None):
        """Walk the sequence, updating after each window; returns ``TBPTTResult``.

        ``state`` (None: the model's zero state) is used as given by the
        windows that start at step 0 -- a leaf that requires grad (a learned
        initial state) gets its gradient from them -- and carried, detached,
        from then on.
        """
        losses, final = [], detach_state(state)
        for update in self.updates(inputs, targets, state):
            losses.append(update.loss)
            final = update.state
        return TBPTTResult(losses, final)

    def updates(self, inputs, targets, state=None):
        """Walk the sequence like `run`, yielding a ``TBPTTUpdate`` after each update.

        Nothing runs until the next item is asked for, so breaking out of the
        loop stops training there (the yielded ``state`` continues the stream).
        """
        if not isinstance(inputs, tapegrad.Tensor):
            inputs = tapegrad.tensor(inputs)
        steps = inputs.shape[self.time_dim]
        if targets.shape[self.time_dim] != steps:
            raise OpError(f"TBPTT: inputs have {steps} steps along dim {self.time_dim}, targets "
                          f"{targets.shape[self.time_dim]}; they must match.")
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        for index, w in enumerate(tbptt_windows(steps, self.k1, self.k2)):
            output, carried, state_at_stop = self._forward(inputs, w, state)
            loss = self._loss(self._slice(output, w.loss_start - w.start, w.stop - w.start),
                              self._slice(targets, w.loss_start, w.stop))
            self.optimizer.zero_grad()
            loss.backward()
            norm = None
            if self.clip_grad_norm is not None:
                norm = float(clip_grad_norm_(params, self.clip_grad_norm))
            self.optimizer.step()
            state = carried if w.carry > 0 else state
            yield TBPTTUpdate(index, w, loss.item(), norm, detach_state(state_at_stop))

    def _loss(self, output, target):
        """``loss_fn`` on a stretch; class targets (one dim fewer) and their logits flattened."""
        if target.ndim == output.ndim - 1 and output.ndim > 2:
            output = output.reshape(-1, output.shape[-1])
            target = target.reshape(-1)
        return self.loss_fn(output, target)

    def _forward(self, inputs, w, state):
        """(output over [start, stop), state at ``carry`` detached, state at ``stop``).

        The window is run as two stretches, cut at ``carry``, so the next
        window's starting state is available without running anything twice.
        """
        outputs = []
        for a, b in ((w.start, w.carry), (w.carry, w.stop)):
            if a < b:
                out, state = self.model(self._slice(inputs, a, b), state)
                outputs.append(out)
            if b == w.carry:
                carried = detach_state(state)
        output = outputs[0] if len(outputs) == 1 else tapegrad.cat(outputs, dim=self.time_dim)
        return output, carried, state

    def _slice(self, x, a, b):
        return x[(slice(None),) * self.time_dim + (slice(a, b),)]
