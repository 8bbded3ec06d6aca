"""The exploding-gradient cliff (Pascanu, Mikolov and Bengio, 2013).

A one-unit recurrent model x_t = w * sigmoid(x_{t-1}) + b, x_0 = 0.5, with the
error (sigmoid(x_50) - 0.7)^2. Over most of the (w, b) plane the error is
flat, but along a curve where the dynamics switch between two fixed points it
jumps in a thin wall -- the cliff -- and there the gradient is huge. Plain
gradient descent that reaches the wall takes one enormous step and lands far
away on a plateau; with the gradient norm clipped, the same descent from the
same start takes a bounded step and goes on to the minimum.

Run: python -m demos.cliff [--quick] [--start 4.5 -3] [--lr 1] [--clip 1]
"""
import numpy as np

import tapegrad.nn as nn
import tapegrad as tg

from .common import Run, parser, progress

DESCRIPTION = "The exploding-gradient cliff: gradient descent with and without norm clipping."
STEPS_T, X0, TARGET = 50, 0.5, 0.7


def error(w, b):
    """(sigmoid(x_50) - 0.7)^2 for x_t = w sigmoid(x_{t-1}) + b; w, b tensors of any one shape."""
    x = tg.full(w.shape, X0, dtype=w.dtype)
    for _ in range(STEPS_T):
        x = w * tg.sigmoid(x) + b
    return (tg.sigmoid(x) - TARGET) ** 2


def descend(start, lr, steps, clip):
    """Gradient descent on (w, b) from ``start``; returns the path (steps+1, 2), errors and
    gradient norms before clipping."""
    w = tg.tensor(float(start[0]), dtype=tg.float64, requires_grad=True)
    b = tg.tensor(float(start[1]), dtype=tg.float64, requires_grad=True)
    path, errors, norms = [(w.item(), b.item())], [], []
    for _ in range(steps):
        loss = error(w, b)
        loss.backward()
        errors.append(loss.item())
        if clip is None:
            norms.append(float(np.hypot(w.grad.item(), b.grad.item())))
        else:
            norms.append(nn.utils.clip_grad_norm_([w, b], clip).item())
        with tg.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
        path.append((w.item(), b.item()))
    errors.append(error(w, b).item())
    return np.array(path), np.array(errors), np.array(norms)


def surface(w_range, b_range, points):
    """The error on a points x points grid, computed by tapegrad on whole arrays at once."""
    ws, bs = np.meshgrid(np.linspace(*w_range, points), np.linspace(*b_range, points))
    with tg.no_grad():
        values = error(tg.tensor(ws), tg.tensor(bs)).numpy()
    return ws, bs, values


def plot(run, grid, runs, args):
    plt = run.pyplot()
    if plt is None:
        return
    ws, bs, values = grid
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    levels = np.linspace(0, values.max(), 41)
    filled = ax.contourf(ws, bs, values, levels=levels, cmap="viridis")
    fig.colorbar(filled, ax=ax, label="error (sigmoid(x$_{50}$) - 0.7)$^2$")
    colors = ("#ff3b3b", "#00e5ff")            # unclipped, clipped (drawn first, under it)
    for (name, (path, errs, norms)), color, lw in reversed(list(zip(runs.items(), colors,
                                                                    (1.5, 3.5)))):
        ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=lw, marker="o", ms=lw + 1,
                label=f"{name}: error {errs[-1]:.2g} after {len(norms)} steps")
        ax.plot(*path[-1], marker="o", ms=11, color=color, mec="black")
    ax.plot(*args.start, marker="*", ms=16, color="gold", mec="black", label="common start")
    ax.set(title=f"Gradient descent on the cliff (lr {args.lr:g}, {args.steps} steps)",
           xlabel="w", ylabel="b", xlim=(ws.min(), ws.max()), ylim=(bs.min(), bs.max()))
    ax.legend(loc="lower left", fontsize=9, facecolor="#dddddd", framealpha=0.95)
    for (name, (path, errs, norms)), color in zip(runs.items(), ("#d62728", "#1f77b4")):
        ax2.semilogy(np.arange(len(norms)), norms, color=color, lw=2,
                     label=f"{name}: largest {norms.max():.3g}")
    ax2.axhline(args.clip, color="gray", ls="--", lw=1, label=f"clip threshold {args.clip:g}")
    ax2.set(title="Gradient norm before clipping", xlabel="descent step",
            ylabel="||grad (w, b)|| (log scale)")
    ax2.grid(True, which="major", alpha=0.3)
    ax2.legend(fontsize=9)
    fig.tight_layout()
    run.save_figure(fig, "cliff.png", dpi=100)


def main(argv=None):
    cli = parser("cliff", DESCRIPTION)
    cli.add_argument("--start", type=float, nargs=2, default=(4.5, -3.0), metavar=("W", "B"),
                     help="starting point (default: %(default)s)")
    cli.add_argument("--lr", type=float, default=1.0, help="step size (default: %(default)s)")
    cli.add_argument("--clip", type=float, default=1.0,
                     help="largest gradient norm for the clipped run (default: %(default)s)")
    cli.add_argument("--steps", type=int, default=100, help="descent steps (default: %(default)s)")
    cli.add_argument("--grid", type=int, default=300,
                     help="surface points per axis (default: %(default)s)")
    args = cli.parse_args(argv)
    if args.quick:
        args.steps, args.grid = min(args.steps, 40), 80
    run = Run(args.out)
    runs = {}
    for name, clip in progress([("no clipping", None), (f"clipped to norm {args.clip:g}",
                                                        args.clip)], desc="descents"):
        runs[name] = descend(args.start, args.lr, args.steps, clip)
    for name, (path, errs, norms) in runs.items():
        jump = np.linalg.norm(np.diff(path, axis=0), axis=1)
        print(f"{name:22s} error {errs[0]:.4f} -> {errs[-1]:.4g}, largest gradient norm "
              f"{norms.max():.4g}, largest step {jump.max():.3g}, ends at "
              f"(w, b) = ({path[-1, 0]:.3f}, {path[-1, 1]:.3f})")
    ends = np.concatenate([p for p, _, _ in runs.values()])
    w_range = (min(-1.0, ends[:, 0].min() - 0.5), max(9.0, ends[:, 0].max() + 0.5))
    b_range = (min(-7.0, ends[:, 1].min() - 0.5), max(2.0, ends[:, 1].max() + 0.5))
    plot(run, surface(w_range, b_range, args.grid), runs, args)
    (plain, clipped) = runs.values()
    run.write_metrics({
        "final_error_unclipped": plain[1][-1], "final_error_clipped": clipped[1][-1],
        "max_grad_norm_unclipped": plain[2].max(), "max_grad_norm_clipped": clipped[2].max(),
        "largest_step_unclipped": np.linalg.norm(np.diff(plain[0], axis=0), axis=1).max(),
        "largest_step_clipped": np.linalg.norm(np.diff(clipped[0], axis=0), axis=1).max(),
        "path_unclipped": plain[0], "path_clipped": clipped[0],
        "config": vars(args),
    })
    run.finish()


if __name__ == "__main__":
    main()
