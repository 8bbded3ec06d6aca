"""A one-minute tour: train a character-level LSTM, check its gradients, draw its graph.

1. Trains a small LSTM language model on the Python standard library's own
   source for a few seconds and prints its held-out bits per character and a
   sample (the ``char_rnn`` demo, with small settings).
2. Checks the LSTM cell's gradients against finite differences in float64.
3. Draws the trained model's graph unrolled over a few characters, and the
   rolled graph over 100 characters with each weight's per-step gradient
   strip (``tapegrad.viz``; needs Graphviz's ``dot``).
4. Lists the files it wrote and the commands for the full demos.

    python -m demos.tour
"""
import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn import functional as F
from tapegrad.viz import draw

from . import char_rnn
from .common import Run, parser

#: The full demos, with what each shows.
DEMOS = {
    "char_rnn": "character-level language model: 120 s of training, held-out bits/char, samples",
    "vanishing": "the gradient through time at initialisation, for RNN, LSTM and GRU",
    "cliff": "the exploding-gradient cliff, descent with and without clipping",
    "timer": "Jaeger's timer task: RNN, LSTM and an echo state network",
    "adding": "the adding problem against its baseline",
    "sentence_order": "word order: a bag of words cannot, an RNN can",
    "graphs": "unrolled and rolled graphs of Elman, Jordan, LSTM and GRU networks",
}

#: The char_rnn settings of the tour (and of its quick mode): small enough for seconds.
TRAINING = ["--corpus-chars", "300000", "--hidden", "96", "--embed", "32", "--batch", "32",
            "--seq-len", "32", "--lr", "0.01", "--eval-streams", "96", "--eval-context", "64",
            "--eval-every", "100000", "--sample-every", "100000", "--sample-length", "240"]
QUICK_TRAINING = ["--quick"]


def main(argv=None):
    cli = parser("tour", "A one-minute tour: train a character-level LSTM, check its "
                         "gradients, draw its graph.")
    cli.add_argument("--time-limit", type=float, default=40.0,
                     help="seconds of training (default: %(default)s)")
    cli.add_argument("--clock", choices=sorted(char_rnn.CLOCKS), default="cpu",
                     help="what --time-limit counts: this process's CPU seconds (the same as "
                          "wall-clock seconds on an idle machine with one thread, and the same "
                          "training on a busy one) or wall-clock seconds (default: %(default)s)")
    args = cli.parse_args(argv)
    run = Run(args.out)

    print("== 1. a character-level LSTM learns to write Python ==")
    settings = (QUICK_TRAINING if args.quick else
                TRAINING + ["--time-limit", str(args.time_limit), "--clock", args.clock])
    result = char_rnn.main(settings + ["--seed", str(args.seed), "--out",
                                       str(run.out / "char_rnn")])
    run.files.extend(result.files)

    print("\n== 2. the LSTM cell's gradients against finite differences (float64) ==")
    check_lstm_cell(args.seed)

    print("\n== 3. the graph of the trained model ==")
    draw_model(run, result, steps=4, view="unrolled", filename="unrolled.svg")
    draw_model(run, result, steps=100, view="rolled", filename="rolled-T100.svg")

    run.finish()
    print("\nthe full demos (each takes --help, --quick, --seed and --out):")
    for name, what in DEMOS.items():
        print(f"  python -m demos.{name:<15} {what}")


def check_lstm_cell(seed):
    """gradcheck of one LSTMCell step with respect to its input, both states and every weight.

    gradcheck differentiates with respect to its own (perturbed) copies of the
    tensors it is given, so each evaluation puts the copies of the weights in
    the cell's parameter slots, runs the step, and puts the originals back.
    """
    tg.manual_seed(seed)
    cell = nn.LSTMCell(3, 4, dtype=tg.float64)
    names = [name for name, _ in cell.named_parameters()]
    rng = np.random.default_rng(seed)
    x, h, c = (tg.tensor(rng.standard_normal((2, n)), requires_grad=True) for n in (3, 4, 4))

    def step(x, h, c, *weights):
        originals = [cell._parameters[n] for n in names]
        cell._parameters.update(zip(names, weights))
        try:
            return cell(x, (h, c))
        finally:
            cell._parameters.update(zip(names, originals))

    ok = tg.gradcheck(step, (x, h, c) + tuple(cell.parameters()), raise_exception=False)
    print(f"gradcheck of LSTMCell(3, 4), batch 2, on x, h, c, {', '.join(names)}: "
          f"{'passed' if ok else 'FAILED'}")
    if not ok:
        raise SystemExit("the LSTM cell's gradients disagree with finite differences")


def draw_model(run, result, steps, view, filename):
    """Draw the loss of the trained model over ``steps`` characters of held-out text."""
    vocab, model = result.vocab, result.model
    ids = vocab.encode(result.held_out[:steps + 1])
    logits, _ = model(tg.tensor(ids[:-1, None]))
    loss = F.cross_entropy(logits.reshape(-1, len(vocab)), tg.tensor(ids[1:]))
    title = f"char-LSTM on {steps} characters of held-out text ({view})"
    drawing = draw(loss, view=view, title=title)
    path = run.save_drawing(drawing, filename)
    if path is not None:
        print(f"{view} graph over {steps} characters: {path}")


if __name__ == "__main__":
    main()
