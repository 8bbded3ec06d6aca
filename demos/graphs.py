"""The pictures: unrolled and rolled computation graphs of four recurrent networks.

For an Elman RNN, a Jordan network (the previous output fed back), an LSTM
and a GRU, each reading random inputs with a squared error on a linear
read-out of the last step, the demo draws with ``tapegrad.viz.draw``:

- the unrolled graph of a few steps: one cluster per time step, the shared
  recurrent weight drawn once with a gradient rail of its per-step
  contributions;
- the rolled graph over 100 steps: the cell drawn once, each shared weight
  with a strip of 100 cells coloured by the size of that step's
  contribution to its gradient -- the vanishing gradient made visible.

These are the pictures the documentation uses. Graphviz's ``dot`` renders
them; without it the demo says how to install it.

Run: python -m demos.graphs [--quick] [--steps 3] [--rolled-steps 100]
"""
from tapegrad.viz import draw
from tapegrad.viz.models import MODELS, build

from .common import Run, parser, progress

DESCRIPTION = "Unrolled and rolled graphs of Elman, Jordan, LSTM and GRU networks, as SVG."
TITLES = {"elman": "Elman RNN", "jordan": "Jordan network", "lstm": "LSTM", "gru": "GRU"}


def drawings(args):
    """(file name, drawing) for each model and view."""
    for kind in MODELS:
        loss, _ = build(kind, args.steps, hidden=args.hidden, seed=args.seed)
        yield (f"unrolled_{kind}_T{args.steps}.svg",
               draw(loss, title=f"{TITLES[kind]}, {args.steps} steps, unrolled"))
        loss, _ = build(kind, args.rolled_steps, hidden=args.hidden, seed=args.seed)
        yield (f"rolled_{kind}_T{args.rolled_steps}.svg",
               draw(loss, view="rolled", title=f"{TITLES[kind]}, {args.rolled_steps} steps, "
                                               f"rolled"))


def main(argv=None):
    cli = parser("graphs", DESCRIPTION)
    cli.add_argument("--steps", type=int, default=3,
                     help="time steps in the unrolled drawings (default: %(default)s)")
    cli.add_argument("--rolled-steps", type=int, default=100,
                     help="time steps in the rolled drawings (default: %(default)s)")
    cli.add_argument("--hidden", type=int, default=4, help="hidden units (default: %(default)s)")
    args = cli.parse_args(argv)
    if args.quick:
        args.steps, args.rolled_steps = min(args.steps, 2), min(args.rolled_steps, 20)
    run = Run(args.out)
    for filename, drawing in progress(drawings(args), desc="drawings", total=2 * len(MODELS)):
        if run.save_drawing(drawing, filename) is None:
            with open(run.path(filename.replace(".svg", ".dot")), "w", encoding="utf-8") as f:
                f.write(drawing.source)
    run.finish()


if __name__ == "__main__":
    main()
