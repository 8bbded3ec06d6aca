"""The vanishing gradient, measured by the tape.

First the univariate case: x_t = w x_{t-1} over 50 steps, so dx_50/dx_0 = w^50
(about 117 for w = 1.1 and 0.005 for w = 0.9). Then ||dL/dh_t|| against t at
initialisation for recurrent networks whose loss reads only the last state,
L = sum(h_T): the gradient reaching step t has passed through T - t steps of
the recurrence, so it shrinks (or grows) by a roughly constant factor per
step. The per-step states come from ``return_states=True``, and
``tapegrad.grad(loss, states)`` gives the total dL/dh_t for every t.

Recipe (full mode): hidden 128, input 8, T = 50, batch 32, inputs N(0, 1);
the curve is the batch mean of ||dL/dh_t||; the per-step factor is
exp(slope) of a least-squares line through ln ||dL/dh_t|| against T - t.

Run: python -m demos.vanishing [--quick] [--hidden 128] [--length 50]
"""
import numpy as np

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.viz import draw

from .common import Run, parser, progress

DESCRIPTION = "||dL/dh_t|| against t at initialisation for tanh RNNs, an IRNN, LSTMs and a GRU."


def univariate(w, steps):
    """dx_T/dx_t for every t of x_t = w x_{t-1}, measured by the tape."""
    x0 = tg.tensor(1.0, dtype=tg.float64, requires_grad=True)
    xs, x = [x0], x0
    for _ in range(steps):
        x = w * x
        xs.append(x)
    return np.array([g.item() for g in tg.grad(x, xs)])


def orthogonal_rnn(scale):
    """A tanh RNN whose W_hh is a random orthogonal matrix times ``scale``."""
    def build(inputs, hidden):
        rnn = nn.RNN(inputs, hidden)
        nn.init.orthogonal_(rnn.weight_hh_l0, gain=scale)
        return rnn
    return build


def irnn(inputs, hidden):
    """Le, Jaitly and Hinton (2015): ReLU RNN with W_hh = I and zero biases."""
    rnn = nn.RNN(inputs, hidden, nonlinearity="relu")
    nn.init.eye_(rnn.weight_hh_l0)
    nn.init.zeros_(rnn.bias_ih_l0)
    nn.init.zeros_(rnn.bias_hh_l0)
    return rnn


def lstm(forget_bias):
    return lambda inputs, hidden: nn.LSTM(inputs, hidden, forget_bias=forget_bias)


MODELS = {
    "tanh RNN, default init": lambda inputs, hidden: nn.RNN(inputs, hidden),
    "tanh RNN, orthogonal x0.9": orthogonal_rnn(0.9),
    "tanh RNN, orthogonal x1.0": orthogonal_rnn(1.0),
    "tanh RNN, orthogonal x1.5": orthogonal_rnn(1.5),
    "IRNN (ReLU, W_hh = I)": irnn,
    "LSTM, forget bias 0": lstm(0.0),
    "LSTM, forget bias 1": lstm(1.0),
    "LSTM, forget bias 3": lstm(3.0),
    "GRU": lambda inputs, hidden: nn.GRU(inputs, hidden),
}


def last_state_loss(model, x):
    """(L = sum(h_T), the carried h_t for every t) for a one-layer recurrent model."""
    _, _, (states,) = model(x, return_states=True)
    hs = [s[0] if isinstance(s, tuple) else s for s in states]
    return hs[-1].sum(), hs


def gradient_norms(model, x):
    """Batch mean of ||dL/dh_t|| for t = 1..T."""
    loss, hs = last_state_loss(model, x)
    return np.array([np.linalg.norm(g.numpy(), axis=1).mean() for g in tg.grad(loss, hs)])


def decay_factor(norms):
    """exp(slope) of the least-squares line through ln ||dL/dh_t|| against T - t."""
    distance = np.arange(len(norms))[::-1]
    return float(np.exp(np.polyfit(distance, np.log(norms), 1)[0]))


def plot(run, curves, factors, univariate_curves, args):
    plt = run.pyplot()
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 2]})
    for w, g in univariate_curves.items():
        ax1.semilogy(np.arange(len(g)), g, lw=2, label=f"w = {w}: {g[0]:.3g}")
    ax1.set(title="Univariate: x$_t$ = w x$_{t-1}$", xlabel="step t",
            ylabel="dx$_{50}$ / dx$_t$ (log scale)")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=9,
               title="dx$_{50}$/dx$_0$ measured by the tape")
    ax1.grid(True, which="major", alpha=0.3)
    colors = plt.get_cmap("tab10")
    steps = np.arange(1, args.length + 1)
    for i, (name, norms) in enumerate(curves.items()):
        style = "--" if name.startswith("LSTM") else ("-." if "GRU" in name or "IRNN" in name
                                                     else "-")
        ax2.semilogy(steps, norms, style, color=colors(i), lw=2,
                     label=f"{name}: {factors[name]:.3f} per step")
    ax2.set(title=f"||dL/dh$_t$|| at initialisation, L = sum(h$_T$), T = {args.length}, "
                  f"hidden {args.hidden}", xlabel="step t", ylabel="||dL/dh$_t$|| (log scale)")
    ax2.grid(True, which="major", alpha=0.3)
    ax2.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), title="per-step factor")
    fig.tight_layout()
    run.save_figure(fig, "vanishing.png", dpi=100)


def main(argv=None):
    cli = parser("vanishing", DESCRIPTION)
    cli.add_argument("--hidden", type=int, default=128, help="hidden units (default: %(default)s)")
    cli.add_argument("--inputs", type=int, default=8, help="input size (default: %(default)s)")
    cli.add_argument("--length", type=int, default=50,
                     help="sequence length T (default: %(default)s)")
    cli.add_argument("--batch", type=int, default=32,
                     help="sequences averaged (default: %(default)s)")
    args = cli.parse_args(argv)
    if args.quick:
        args.hidden, args.length, args.batch = 16, 20, 4
    run = Run(args.out)

    univariate_curves = {w: univariate(w, 50) for w in (1.1, 1.0, 0.9)}
    for w, g in univariate_curves.items():
        print(f"univariate w = {w}: dx_50/dx_0 = {g[0]:.4g}  (w^50 = {w ** 50:.4g})")

    x = np.random.default_rng(args.seed).standard_normal((args.length, args.batch, args.inputs))
    x = tg.tensor(x.astype(np.float32))
    curves, factors = {}, {}
    for name, build in progress(MODELS.items(), desc="models", total=len(MODELS)):
        tg.manual_seed(args.seed)
        curves[name] = gradient_norms(build(args.inputs, args.hidden), x)
        factors[name] = decay_factor(curves[name])
    print(f"\nper-step factor of ||dL/dh_t|| (hidden {args.hidden}, input {args.inputs}, "
          f"T = {args.length}, batch {args.batch}):")
    for name, f in factors.items():
        print(f"  {name:28s} {f:.3f}   ||dL/dh_1|| / ||dL/dh_T|| = "
              f"{curves[name][0] / curves[name][-1]:.3g}")

    plot(run, curves, factors, univariate_curves, args)
    tg.manual_seed(args.seed)
    loss, _ = last_state_loss(MODELS["tanh RNN, default init"](args.inputs, 8), x[:, :1])
    run.save_drawing(draw(loss, view="rolled", title=f"tanh RNN, hidden 8, T = {args.length}, "
                          f"L = sum(h_T)"), "rolled_tanh_rnn.svg")
    run.write_metrics({
        "univariate": {str(w): float(g[0]) for w, g in univariate_curves.items()},
        "decay_factor": factors,
        "grad_norms": {name: norms for name, norms in curves.items()},
        "config": vars(args),
    })
    run.finish()
    return factors


if __name__ == "__main__":
    main()
