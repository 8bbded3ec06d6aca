"""Small built-in recurrent models to draw without writing code (used by the CLI and docs).

Each builds a one-layer network from the ``nn`` modules, runs it over ``steps``
random inputs, and returns ``(loss, model)``: the squared error of a linear
read-out ``y_t`` of every step's state, summed over the steps (many to many,
as the textbooks draw it): the input, recurrent and output weights are each
used once per step, so each gradient is a sum over the steps.

These are example *user* code for the drawing command (``tapegrad-draw``): they
sit above both ``tapegrad.viz`` and ``tapegrad.nn``; the drawing library itself
never imports ``nn``, and ``import tapegrad.viz`` does not import this module.
"""
import tapegrad
import tapegrad.nn as nn

MODELS = ("elman", "jordan", "lstm", "gru")


def _net(kind, inputs, hidden, forget_bias):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if kind == "jordan":
                self.cell = nn.JordanCell(inputs, hidden, 1)
            else:
                layer = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
                extra = {} if forget_bias is None else {"forget_bias": forget_bias}
                self.rnn = layer(inputs, hidden, **extra)
                self.head = nn.Linear(hidden, 1)

        def forward(self, x):
            if kind == "jordan":
                y, ys = None, []
                for t in range(x.shape[0]):
                    with tapegrad.scope("t", step=t + 1):
                        y, _ = self.cell(x[t], y)
                    ys.append(y)
                return tapegrad.stack(ys)
            out, _ = self.rnn(x)
            return self.head(out)

    return Net()


def build(kind, steps, hidden=4, inputs=3, seed=0, forget_bias=None):
    """``(loss, model)`` for one of `MODELS` run over ``steps`` time steps.

    ``forget_bias`` (LSTM only): the total forget-gate bias at initialization.
    """
    if kind not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {kind!r}")
    if forget_bias is not None and kind != "lstm":
        raise ValueError(f"forget_bias is an LSTM option; the {kind} model has no forget gate")
    tapegrad.manual_seed(seed)
    model = _net(kind, inputs, hidden, forget_bias)
    x = tapegrad.randn(steps, 1, inputs)
    x.name = "x"
    target = tapegrad.ones(1, 1)
    target.name = "target"
    y = model(x)
    loss = ((y - target) ** 2).sum()
    return loss, model
