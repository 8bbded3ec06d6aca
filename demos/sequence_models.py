"""The small trained models the sequence-task demos share: a recurrent layer with a linear
read-out, a causal dilated convolution stack, and one training loop with a progress bar."""
import itertools
import time

import numpy as np

import tapegrad.nn as nn
import tapegrad as tg

from .common import progress

LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(nn.Module):
    """``nn.RNN``/``LSTM``/``GRU`` then a linear read-out of every step's output, or of the
    final state only (``every_step=False``: many-to-one)."""

    def __init__(self, kind, inputs, hidden, outputs, every_step=True):
        super().__init__()
        self.rnn = LAYERS[kind](inputs, hidden)
        self.head = nn.Linear(hidden, outputs)
        self.every_step = every_step

    def forward(self, x, lengths=None):
        """``x`` (T, B, inputs) -> (T, B, outputs), or (B, outputs) for many-to-one, read
        from each sequence's state after its last step (``lengths``: one per sequence)."""
        out, final = self.rnn(x, lengths=lengths)
        if self.every_step:
            return self.head(out)
        h_n = final[0] if isinstance(final, tuple) else final
        return self.head(h_n[-1])


class DilatedConv(nn.Module):
    """A causal dilated ``Conv1d`` stack (dilations 1, 2, 4, ...): the receptive field doubles
    with each layer, so ``layers`` of kernel 2 see the last 2**layers steps."""

    def __init__(self, inputs, channels, outputs, layers):
        super().__init__()
        sizes = [inputs] + [channels] * layers
        self.convs = nn.ModuleList([nn.Conv1d(a, b, 2, dilation=2 ** k)
                                    for k, (a, b) in enumerate(itertools.pairwise(sizes))])
        self.head = nn.Linear(channels, outputs)

    def forward(self, x):
        """``x`` (T, B, inputs) -> the read-out of the last step, (B, outputs)."""
        h = x.permute(1, 2, 0)                      # (B, C, T), Conv1d's layout
        for conv in self.convs:
            h = tg.relu(conv(h))
        return self.head(h[:, :, -1])


def train(model, batch, loss_fn, steps, lr, desc, clip=None, time_limit=None):
    """Adam on ``loss_fn(model(*inputs), target)`` for ``(inputs, target) = batch()``, with
    the gradient norm clipped to ``clip`` when given; returns the per-step losses and the
    seconds spent. Stops early after ``time_limit`` seconds when given."""
    optimizer = nn.optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    with progress(total=steps, desc=desc, leave=False) as bar:
        for _ in range(steps):
            inputs, target = batch()
            loss = loss_fn(model(*inputs), target)
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if time_limit is not None and time.perf_counter() - start > time_limit:
                break
    return np.array(losses), time.perf_counter() - start


def smooth(values, width):
    """Running mean over ``width`` values (shorter at the start), for plotting noisy curves."""
    sums = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)
