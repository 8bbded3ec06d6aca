"""The adding problem (Hochreiter and Schmidhuber, 1997): tanh RNN, LSTM, GRU and a causal
dilated convolution stack.

Each step carries a value in [0, 1] and a marker; exactly two steps are
marked (one in each half) and the target, read after the last step, is the
sum of the two marked values. Always predicting 1 scores a mean squared error
of 1/6 = 0.167 (the variance of a sum of two uniform values): a model that
gets clearly below that line has learnt to find and remember the marked
values across the sequence. The convolution stack sees the whole sequence
through dilations 1, 2, 4, ... instead of a recurrence.

Run: python -m demos.adding [--quick] [--length 50] [--steps 3000] [--time-limit SECONDS]
"""
import math

import numpy as np

import tapegrad.nn as nn
import tapegrad as tg

from .common import Run, parser
from .sequence_models import DilatedConv, Recurrent, smooth, train

DESCRIPTION = "The adding problem: tanh RNN, LSTM, GRU and a dilated Conv1d against the 0.167 line."
BASELINE = 1 / 6            # MSE of always predicting 1


def adding_batch(rng, length, batch):
    """Inputs (T, B, 2) -- value, marker -- and targets (B, 1), the sum of the marked values."""
    values = rng.uniform(0, 1, (length, batch))
    markers = np.zeros((length, batch))
    half = max(length // 2, 1)
    first = rng.integers(0, half, batch)
    second = rng.integers(half, length, batch)
    cols = np.arange(batch)
    markers[first, cols] = markers[second, cols] = 1.0
    x = np.stack([values, markers], axis=2).astype(np.float32)
    y = (values[first, cols] + values[second, cols])[:, None].astype(np.float32)
    return x, y


def models(args):
    layers = max(1, math.ceil(math.log2(args.length)))
    return {
        "tanh RNN": Recurrent("rnn", 2, args.hidden, 1, every_step=False),
        "LSTM": Recurrent("lstm", 2, args.hidden, 1, every_step=False),
        "GRU": Recurrent("gru", 2, args.hidden, 1, every_step=False),
        f"dilated Conv1d ({layers} layers)": DilatedConv(2, args.hidden, 1, layers),
    }


def first_below(losses, level, width=50):
    """The first step at which the running mean of ``width`` losses is below ``level``, or None."""
    below = np.flatnonzero(smooth(losses, width) < level)
    return int(below[0]) if below.size else None


def plot(run, curves, seconds, scores, args):
    plt = run.pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for i, (name, losses) in enumerate(curves.items()):
        ax.semilogy(smooth(losses, 50), color=f"C{i}", lw=2,
                    label=f"{name}: held-out {scores[name]:.4f} "
                          f"({len(losses)} steps, {seconds[name]:.0f} s)")
    ax.axhline(BASELINE, color="black", ls="--", lw=1.2, label="always predict 1: 0.167")
    ax.axhline(0.01, color="gray", ls=":", lw=1, label="0.01")
    ax.set(title=f"Adding problem, T = {args.length}: training MSE (running mean of 50 steps), "
                 f"hidden {args.hidden}, batch {args.batch}, Adam {args.lr:g}",
           xlabel="training step", ylabel="mean squared error (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9)
    fig.tight_layout()
    run.save_figure(fig, "adding.png", dpi=100)


def main(argv=None):
    cli = parser("adding", DESCRIPTION)
    cli.add_argument("--length", type=int, default=50,
                     help="sequence length T (default: %(default)s)")
    cli.add_argument("--hidden", type=int, default=64,
                     help="hidden units / channels (default: %(default)s)")
    cli.add_argument("--batch", type=int, default=64, help="batch size (default: %(default)s)")
    cli.add_argument("--lr", type=float, default=1e-3, help="Adam step size (default: %(default)s)")
    cli.add_argument("--steps", type=int, default=3000,
                     help="training steps per model (default: %(default)s)")
    cli.add_argument("--time-limit", type=float, default=None,
                     help="stop each model's training after this many seconds")
    args = cli.parse_args(argv)
    if args.quick:
        args.length, args.hidden, args.steps, args.lr = 8, 16, 100, 1e-2
    run = Run(args.out)
    rng = np.random.default_rng(args.seed)
    tg.manual_seed(args.seed)
    test_x, test_y = adding_batch(rng, args.length, 1000)
    loss = nn.MSELoss()

    def batch():
        x, y = adding_batch(rng, args.length, args.batch)
        return (tg.tensor(x),), tg.tensor(y)

    curves, seconds, scores, reached = {}, {}, {}, {}
    for name, model in models(args).items():
        curves[name], seconds[name] = train(model, batch, loss, args.steps, args.lr,
                                            desc=f"{name} training", clip=1.0,
                                            time_limit=args.time_limit)
        with tg.no_grad():
            scores[name] = float(loss(model(tg.tensor(test_x)), tg.tensor(test_y)).item())
        step = first_below(curves[name], 0.01)
        reached[name] = None if step is None else {
            "step": step, "seconds": seconds[name] * (step + 1) / len(curves[name])}
    print(f"held-out MSE on 1000 sequences of length {args.length} "
          f"(always predicting 1: {BASELINE:.3f}):")
    for name, losses in curves.items():
        when = ("never" if reached[name] is None else
                f"at step {reached[name]['step']} ({reached[name]['seconds']:.0f} s)")
        print(f"  {name:26s} {scores[name]:.4f}   {len(losses)} steps in "
              f"{seconds[name]:.0f} s; training MSE below 0.01 {when}")
    plot(run, curves, seconds, scores, args)
    run.write_metrics({
        "test_mse": scores, "baseline_mse": BASELINE, "below_0.01": reached,
        "train_seconds": seconds, "steps": {name: len(c) for name, c in curves.items()},
        "train_loss": curves,
        "config": vars(args),
    })
    run.finish()
    return scores


if __name__ == "__main__":
    main()
