"""Herbert Jaeger's timer task: an RNN, an LSTM and an echo state network.

Input 1 is a start spike; input 2, given at the same step, is a value u in
[0.1, 1.0]. The output must be 0.5 for the K*u steps that follow the spike
and 0 otherwise (K = 20: pulses of 2 to 20 steps), so the network has to
remember u and count. The RNN and LSTM are trained by backpropagation
through time (Adam, mean squared error over every step); the echo state
network keeps its random reservoir and fits only its linear read-out by
ridge regression. The plot shows each model's output against the target on
held-out sequences.

Run: python -m demos.timer [--quick] [--steps 1500] [--hidden 32]
"""
import numpy as np

import tapegrad.nn as nn
import tapegrad as tg

from .common import Run, parser
from .sequence_models import Recurrent, smooth, train

DESCRIPTION = "Jaeger's timer task: RNN, LSTM and an echo state network, output against target."
K = 20                      # pulse length per unit of input 2


def timer_batch(rng, length, batch, gap=(K + 5, 2 * K + 10)):
    """Inputs (T, B, 2) and targets (T, B, 1): spikes at random gaps, each with its duration."""
    x = np.zeros((length, batch, 2), np.float32)
    y = np.zeros((length, batch, 1), np.float32)
    for b in range(batch):
        t = int(rng.integers(0, gap[0]))
        while t < length:
            u = rng.uniform(0.1, 1.0)
            x[t, b] = (1.0, u)
            y[t + 1:t + 1 + round(K * u), b] = 0.5
            t += int(rng.integers(*gap))
    return x, y


def mse(pred, target):
    return float(np.mean((np.asarray(pred) - target) ** 2))


def plot(run, test_x, test_y, outputs, curves, baseline, esn_mse):
    plt = run.pyplot()
    if plt is None:
        return
    shown = 2
    fig, axes = plt.subplots(len(outputs), shown, figsize=(13, 2.3 * len(outputs)),
                             sharex=True, sharey=True, squeeze=False)
    t = np.arange(test_x.shape[0])
    for row, (name, out) in enumerate(outputs.items()):
        for col in range(shown):
            ax = axes[row, col]
            ax.fill_between(t, test_y[:, col, 0], step="mid", color="#bbbbbb", label="target")
            ax.plot(t, out[:, col, 0], color=f"C{row}", lw=1.8, label=f"{name} output")
            spikes = np.flatnonzero(test_x[:, col, 0])
            ax.vlines(spikes, 0, test_x[spikes, col, 1] * 0.6, color="black", lw=1.5,
                      label="start spike (height ∝ u)")
            ax.set_ylim(-0.15, 0.75)
            ax.grid(True, alpha=0.3)
            if col == 0:
                ax.set_ylabel(f"{name}\nMSE {mse(out, test_y):.4f}")
            if row == 0:
                ax.set_title(f"held-out sequence {col + 1}")
        axes[row, -1].legend(loc="upper right", fontsize=8, ncol=3)
    for ax in axes[-1]:
        ax.set_xlabel("step t")
    fig.suptitle(f"Timer task: output 0.5 for {K}·u steps after each spike", y=1.0)
    fig.tight_layout()
    run.save_figure(fig, "timer.png", dpi=100)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for row, (name, losses) in enumerate(curves.items()):
        ax.semilogy(smooth(losses, 20), color=f"C{row}", lw=2, label=name)
    ax.axhline(esn_mse, color="C2", ls="-.", lw=1.5, label="ESN (ridge read-out, held-out)")
    ax.axhline(baseline, color="gray", ls="--", lw=1, label="predicting the mean")
    ax.set(title="Timer task: training loss (running mean of 20 steps)", xlabel="training step",
           ylabel="MSE (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    run.save_figure(fig, "timer_training.png", dpi=100)


def mean_baseline(target):
    """MSE of always predicting the target's mean."""
    return mse(np.full_like(target, target.mean()), target)


def main(argv=None):
    cli = parser("timer", DESCRIPTION)
    cli.add_argument("--steps", type=int, default=1500,
                     help="training steps (default: %(default)s)")
    cli.add_argument("--hidden", type=int, default=32, help="hidden units (default: %(default)s)")
    cli.add_argument("--length", type=int, default=100,
                     help="sequence length (default: %(default)s)")
    cli.add_argument("--batch", type=int, default=32, help="batch size (default: %(default)s)")
    cli.add_argument("--lr", type=float, default=3e-3, help="Adam step size (default: %(default)s)")
    cli.add_argument("--reservoir", type=int, default=400,
                     help="echo state network units (default: %(default)s)")
    args = cli.parse_args(argv)
    if args.quick:
        args.steps, args.length, args.reservoir = min(args.steps, 40), 60, 100
    run = Run(args.out)
    rng = np.random.default_rng(args.seed)
    tg.manual_seed(args.seed)
    test_x, test_y = timer_batch(rng, 4 * args.length, 8)
    loss = nn.MSELoss()

    def batch():
        x, y = timer_batch(rng, args.length, args.batch)
        return (tg.tensor(x),), tg.tensor(y)

    outputs, curves, seconds = {}, {}, {}
    for kind, name in (("rnn", "tanh RNN"), ("lstm", "LSTM")):
        model = Recurrent(kind, 2, args.hidden, 1)
        curves[name], seconds[name] = train(model, batch, loss, args.steps, args.lr,
                                            desc=f"{name} training", clip=1.0)
        with tg.no_grad():
            outputs[name] = model(tg.tensor(test_x)).numpy()

    esn = nn.EchoStateNetwork(2, args.reservoir, 1, spectral_radius=0.95, leak_rate=0.5,
                              generator=np.random.default_rng(args.seed))
    train_x, train_y = timer_batch(rng, 20 * args.length, 8)
    esn.fit(train_x, train_y, ridge=1e-4, washout=50)
    outputs["ESN (ridge read-out)"] = esn.predict(tg.tensor(test_x)).numpy()

    baseline = mean_baseline(test_y)
    scores = {name: mse(out, test_y) for name, out in outputs.items()}
    print(f"held-out MSE over {test_x.shape[1]} sequences of {test_x.shape[0]} steps "
          f"(predicting the mean: {baseline:.4f}):")
    for name, value in scores.items():
        print(f"  {name:22s} {value:.4f}")
    plot(run, test_x, test_y, outputs, curves, baseline, scores["ESN (ridge read-out)"])
    run.write_metrics({
        "test_mse": scores, "mean_baseline_mse": baseline,
        "final_train_loss": {name: float(np.mean(c[-20:])) for name, c in curves.items()},
        "train_seconds": seconds,
        "config": vars(args),
    })
    run.finish()
    return scores


if __name__ == "__main__":
    main()
