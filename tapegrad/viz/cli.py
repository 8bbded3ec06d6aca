"""``tapegrad-draw`` / ``python -m tapegrad.viz.cli``: draw a built-in recurrent model.

    tapegrad-draw --model lstm --steps 5 --view unrolled --out lstm.svg
    tapegrad-draw --model elman --steps 100 --view rolled --hidden 8 --out rolled.png
    tapegrad-draw --model elman --out elman.html      # the interactive page

Builds a small one-layer network from the ``nn`` modules (see
`tapegrad.viz.models`), runs it over ``--steps`` random inputs with a
read-out and a loss at every step, and renders its graph.  ``--out x.dot``
writes the DOT text and needs no Graphviz.  Errors name the command's flags.
"""
import argparse
import os
import re
import sys

from . import draw
from .errors import DrawError, GraphvizNotFoundError
from .models import MODELS, build
from .options import VIEWS


OUT_FORMATS = ("svg", "png", "pdf", "dot", "html")
DESCRIPTION = ("Draw the computation graph of a small built-in recurrent network (nn modules, "
               "random inputs, a loss at every step).")
EXAMPLES = """examples:
  tapegrad-draw --model lstm --steps 5 --out lstm.svg
  tapegrad-draw --model elman --steps 100 --view rolled --hidden 8 --out rolled.png
  tapegrad-draw --model elman --focus weight_ih_l0 weight_hh_l0 --out elman.html"""
#: draw()'s argument names, as the command's flags (for error messages).
FLAGS = {"max_nodes": "--max-nodes", "steps": "--draw-steps", "collapse": "--collapse",
         "focus": "--focus", "view": "--view"}


def parser():
    p = argparse.ArgumentParser(prog="tapegrad-draw", description=DESCRIPTION, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=MODELS, default="elman", help="which recurrent model")
    p.add_argument("--steps", type=int, default=3, help="sequence length T (default 3)")
    p.add_argument("--view", choices=VIEWS, default="unrolled")
    p.add_argument("--out", required=True,
                   help="output file: .svg, .png, .pdf, .dot or .html (interactive page)")
    p.add_argument("--format", choices=OUT_FORMATS,
                   help="output format (default: from the extension of --out)")
    p.add_argument("--hidden", type=int, default=4, help="hidden size (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--collapse", type=_collapse_arg,
                   help="'step' for one box per time step, or a scope depth")
    p.add_argument("--draw-steps", type=_steps_arg, default="auto", dest="draw_steps",
                   help="which steps to draw: auto (default), all, or a count")
    p.add_argument("--forget-bias", type=float, dest="forget_bias",
                   help="LSTM only: initial forget-gate bias (e.g. 1.0)")
    p.add_argument("--focus", nargs="+", action="extend", metavar="NAME",
                   help="parameters with a gradient rail, e.g. --focus weight_ih_l0 "
                   "weight_hh_l0 (default: every weight shared across steps)")
    p.add_argument("--max-nodes", type=int, default=400, dest="max_nodes",
                   help="refuse drawings with more nodes than this (default 400)")
    return p


def _steps_arg(text):
    """``--draw-steps``: auto, all, or how many steps to draw."""
    if text in ("auto", "all"):
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r}: give auto, all or a number of steps")


def _collapse_arg(text):
    """``--collapse``: step, or a scope depth."""
    if text == "step":
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r}: give step or a scope depth (1, 2, ...)")


def _title(args):
    """``LSTM, T=100, H=8, forget_bias=1``: what was drawn, for the legend's first line."""
    name = {"elman": "Elman RNN", "jordan": "Jordan RNN"}.get(args.model, args.model.upper())
    extra = "" if args.forget_bias is None else f", forget_bias={args.forget_bias:g}"
    return f"{name}, T={args.steps}, H={args.hidden}{extra}"


def as_flags(message):
    """A message written for ``draw()`` callers, with its arguments as this command's flags:
    ``max_nodes=400`` -> ``--max-nodes 400``, ``collapse='step'`` -> ``--collapse step``."""
    def flag(match):
        return f"{FLAGS[match.group(1)]} {match.group(2).strip(chr(39))}"
    message = re.sub(r"\b(" + "|".join(FLAGS) + r")=('[^']*'|[\w.]+)", flag, message)
    message = re.sub(r"\bmax_nodes\b", "--max-nodes", message)
    return message.replace("draw:", "").replace("focus/ledger:", "--focus:").strip()


def main(argv=None):
    args = parser().parse_args(argv)
    if args.steps < 1 or args.hidden < 1:
        print("tapegrad-draw: --steps and --hidden must be at least 1", file=sys.stderr)
        return 2
    fmt = args.format or os.path.splitext(args.out)[1].lstrip(".").lower()
    if fmt not in OUT_FORMATS:
        print(f"tapegrad-draw: cannot tell the format of {args.out!r}; use an extension "
              f".svg/.png/.pdf/.dot or --format", file=sys.stderr)
        return 2
    try:
        loss, _ = build(args.model, args.steps, hidden=args.hidden, seed=args.seed,
                        forget_bias=args.forget_bias)
        drawing = draw(loss, view=args.view, steps=args.draw_steps, collapse=args.collapse,
                       focus=args.focus, max_nodes=args.max_nodes, title=_title(args))
        drawing.render(args.out, format=fmt)
    except (DrawError, GraphvizNotFoundError, ValueError) as e:
        print(f"tapegrad-draw: {as_flags(str(e))}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
