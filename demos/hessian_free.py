"""Hessian-free optimization vs Adam on the addition problem, a long-range task for a tanh RNN.

Each sequence has ``length`` steps of two inputs: a random value in [0, 1] and a marker that is 1
at exactly two steps (one in the first tenth, one in the second half), 0 elsewhere.  After the last
step the network must output the sum of the two marked values (Hochreiter and Schmidhuber 1997;
Martens and Sutskever 2011).  Predicting the mean sum (1) gives the baseline MSE 1/6 ~ 0.167;
a network that learned the task goes far below it.

The same tanh RNN (same initial weights) is trained by Adam and by ``nn.optim.HessianFree`` with
structural damping, each for the same wall-clock budget, and the held-out MSE is plotted against
time.  Run ``python -m demos.hessian_free --quick`` for a seconds-long smoke run.
"""
import time

import numpy as np

import tapegrad as tg
from tapegrad import nn

from .common import Run, parser, progress

BASELINE_MSE = 1 / 6


def addition_batch(rng, length, batch):
    """Inputs (length, batch, 2) and targets (batch, 1) of the addition problem, float32."""
    values = rng.uniform(0.0, 1.0, size=(length, batch))
    markers = np.zeros((length, batch))
    first = rng.integers(0, max(1, length // 10), size=batch)
    second = rng.integers(length // 2, length, size=batch)
    columns = np.arange(batch)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    target = values[first, columns] + values[second, columns]
    inputs = np.stack([values, markers], axis=-1).astype(np.float32)
    return tg.tensor(inputs), tg.tensor(target[:, None].astype(np.float32))


class AdditionRNN(nn.Module):
    """A tanh RNN read out linearly after the last step; returns (prediction, hidden states).

    ``spectral_radius``: None keeps PyTorch's initialisation; a number makes the recurrent
    matrix orthogonal times it (every eigenvalue of that modulus), so signals neither vanish
    nor explode quickly along the sequence at the start.
    """

    def __init__(self, hidden_size, spectral_radius=None):
        super().__init__()
        self.rnn = nn.RNN(2, hidden_size, nonlinearity="tanh")
        self.readout = nn.Linear(hidden_size, 1)
        if spectral_radius is not None:
            nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=spectral_radius)

    def forward(self, inputs):
        hidden, _ = self.rnn(inputs)
        return self.readout(hidden[-1]), hidden


def mse(prediction, target):
    return ((prediction - target) ** 2).mean()


def held_out_mse(model, data):
    with tg.no_grad():
        return float(mse(model(data[0])[0], data[1]))


def train_adam(model, rng, length, budget, batch, lr, held_out, progress):
    """Adam on fresh batches for ``budget`` seconds of training: the curve [(s, step, mse)].

    Only training counts against the budget (evaluations are not timed).
    """
    opt = nn.optim.Adam(model.parameters(), lr=lr)
    curve = [(0.0, 0, held_out_mse(model, held_out))]
    clock, step = 0.0, 0
    while clock < budget:
        start = time.perf_counter()
        x, y = addition_batch(rng, length, batch)
        opt.zero_grad()
        mse(model(x)[0], y).backward()
        opt.step()
        clock += time.perf_counter() - start
        step += 1
        if clock >= curve[-1][0] + budget / 100 or clock >= budget:
            curve.append((clock, step, held_out_mse(model, held_out)))
            _show(progress, curve, budget)
    return curve


def _show(progress, curve, budget, **extra):
    progress.update(min(budget, curve[-1][0]) - progress.n)
    progress.set_postfix(mse=f"{curve[-1][2]:.4f}", **extra)


def objective(model, x, y):
    """HessianFree's closure: (loss, outputs, hidden states) of ``model`` on ``(x, y)``."""
    def closure():
        prediction, hidden = model(x)
        return mse(prediction, y), prediction, hidden
    return closure


def train_hf(model, rng, length, budget, batch, curvature_batch, structural_damping, held_out,
             progress):
    """HessianFree on fresh (larger) batches for ``budget`` seconds: curve and step records.

    The gradient and the backtracking use the whole batch, the Gauss-Newton products its first
    ``curvature_batch`` sequences (Martens 2010), which makes each CG iteration cheaper.
    """
    opt = nn.optim.HessianFree(model.parameters(), structural_damping=structural_damping)
    curve = [(0.0, 0, held_out_mse(model, held_out))]
    steps = []
    clock = 0.0
    while clock < budget:
        start = time.perf_counter()
        x, y = addition_batch(rng, length, batch)
        opt.step(objective(model, x, y),
                 objective(model, x[:, :curvature_batch], y[:curvature_batch]))
        clock += time.perf_counter() - start
        steps.append(opt.step_info)
        curve.append((clock, len(steps), held_out_mse(model, held_out)))
        _show(progress, curve, budget, cg=opt.step_info["cg_iterations"],
              damping=f"{opt.step_info['damping']:.3g}")
    return curve, steps


def run(length, budget, seed, hidden_size, adam_batch, adam_lr, hf_batch, hf_curvature_batch,
        structural_damping, held_out_size, spectral_radius=None):
    """Train both optimizers from the same initial weights; return the metrics dict."""
    rng = np.random.default_rng(seed)
    held_out = addition_batch(rng, length, held_out_size)
    tg.manual_seed(seed)
    initial = AdditionRNN(hidden_size, spectral_radius).state_dict()
    results = {}
    for name in ("adam", "hessian_free"):
        model = AdditionRNN(hidden_size)
        model.load_state_dict(initial)
        data_rng = np.random.default_rng(seed + 1)
        with progress(total=budget, desc=f"{name} T={length}", unit="s",
                      bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}") as bar:
            if name == "adam":
                curve = train_adam(model, data_rng, length, budget, adam_batch, adam_lr,
                                   held_out, bar)
                extra = {}
            else:
                curve, steps = train_hf(model, data_rng, length, budget, hf_batch,
                                        hf_curvature_batch, structural_damping, held_out, bar)
                extra = {"cg_iterations": [s["cg_iterations"] for s in steps],
                         "damping": [s["damping"] for s in steps],
                         "rho": [s["rho"] for s in steps],
                         "accepted": [s["accepted"] for s in steps]}
        results[name] = dict(curve=curve, final_mse=curve[-1][2],
                             best_mse=min(c[2] for c in curve), steps=curve[-1][1], **extra)
    return dict(task="addition", length=length, budget_s=budget, seed=seed,
                hidden_size=hidden_size, spectral_radius=spectral_radius,
                baseline_mse=BASELINE_MSE,
                adam=dict(batch=adam_batch, lr=adam_lr),
                hf=dict(batch=hf_batch, curvature_batch=hf_curvature_batch,
                        structural_damping=structural_damping),
                held_out_size=held_out_size, results=results)


def plot(metrics, run):
    """Held-out MSE against training seconds, both optimizers, with the baseline."""
    plt = run.pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(10, 5.5))
    colors = {"adam": "#d95f02", "hessian_free": "#1b9e77"}
    labels = {"adam": "Adam", "hessian_free": "Hessian-free (structural damping)"}
    for name, result in metrics["results"].items():
        t, _, err = zip(*result["curve"])
        ax.plot(t, err, color=colors[name], lw=2,
                label=f"{labels[name]}: {result['steps']} steps, final MSE "
                      f"{result['final_mse']:.4f}")
    ax.axhline(metrics["baseline_mse"], color="0.4", ls="--", lw=1,
               label="baseline: always predict 1 (MSE 1/6)")
    ax.set_yscale("log")
    ax.set_xlabel("training seconds, wall clock (one thread; evaluations not counted)")
    ax.set_ylabel("held-out MSE")
    ax.set_title(f"Addition problem, T = {metrics['length']}, tanh RNN with "
                 f"{metrics['hidden_size']} units, same initial weights")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower left")
    run.save_figure(fig, "hessian_free.png", dpi=115)


QUICK = dict(length=10, budget=0.5, hidden_size=8, adam_batch=20, hf_batch=50,
             hf_curvature_batch=20, held_out_size=100)
FULL = dict(length=100, budget=600.0, hidden_size=32, adam_batch=50, hf_batch=500,
            hf_curvature_batch=100, held_out_size=1000)


def main(argv=None):
    cli = parser("hessian_free", __doc__.split("\n")[0])
    cli.add_argument("--length", type=int, default=None,
                     help=f"sequence length T (default: {FULL['length']}, quick "
                          f"{QUICK['length']})")
    cli.add_argument("--budget", type=float, default=None,
                     help=f"training seconds per optimizer (default: {FULL['budget']:g}, "
                          f"quick {QUICK['budget']:g})")
    cli.add_argument("--spectral-radius", type=float, default=None,
                     help="initial recurrent matrix: orthogonal times this (default: PyTorch's "
                          "uniform initialisation)")
    args = cli.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.length is not None:
        settings["length"] = args.length
    if args.budget is not None:
        settings["budget"] = args.budget
    metrics = run(seed=args.seed, adam_lr=1e-3, structural_damping=1 / 30,
                  spectral_radius=args.spectral_radius, **settings)
    out = Run(args.out)
    out.write_metrics(metrics)
    plot(metrics, out)
    for name, result in metrics["results"].items():
        print(f"{name}: {result['steps']} steps, held-out MSE {result['final_mse']:.4f} "
              f"(best {result['best_mse']:.4f}; baseline {BASELINE_MSE:.4f})")
    out.finish()
    return metrics


if __name__ == "__main__":
    main()
