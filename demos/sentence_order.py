"""Word order: "you are good" against "are you good".

The two sentences hold the same words, so their bags of one-hot words -- the
sum of the word vectors -- are equal, and a feed-forward network on that sum
cannot tell the statement from the question: on a corpus made of such pairs
it is right half of the time at best. A many-to-one recurrent network reads
the words in order and tells them apart. The corpus is generated: pronoun
and verb ("you are", "she is", ...), an optional adverb and an adjective,
each as a statement and as a question; sentence pairs are split at random
into training and held-out sets, so the held-out sentences are new
combinations of known words.

Run: python -m demos.sentence_order [--quick] [--steps 150]
"""
import itertools

import numpy as np

import tapegrad.nn as nn
import tapegrad as tg

from .common import Run, parser
from .sequence_models import Recurrent, train

DESCRIPTION = "A bag-of-words network cannot tell 'you are good' from 'are you good'; an RNN can."
SUBJECTS = [("i", "am"), ("you", "are"), ("he", "is"), ("she", "is"), ("it", "is"),
            ("we", "are"), ("they", "are")]
ADVERBS = [None, "very", "really", "so"]
ADJECTIVES = ["good", "happy", "tired", "ready", "late", "hungry", "right", "sure", "busy",
              "cold", "here", "alone"]
LABELS = ("statement", "question")


def corpus():
    """Every sentence pair: (statement words, question words)."""
    pairs = []
    for (pronoun, verb), adverb, adjective in itertools.product(SUBJECTS, ADVERBS, ADJECTIVES):
        tail = [adjective] if adverb is None else [adverb, adjective]
        pairs.append(([pronoun, verb] + tail, [verb, pronoun] + tail))
    return pairs


def encode(sentences, vocab):
    """One-hot words, padded: (T, N, V), lengths (N,)."""
    lengths = np.array([len(s) for s in sentences])
    x = np.zeros((lengths.max(), len(sentences), len(vocab)), np.float32)
    for n, sentence in enumerate(sentences):
        for t, word in enumerate(sentence):
            x[t, n, vocab[word]] = 1.0
    return x, lengths


class BagOfWords(nn.Module):
    """A feed-forward network on the sum of the one-hot words: word order is invisible to it."""

    def __init__(self, vocab_size, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(vocab_size, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, x, lengths=None):
        return self.net(x.sum(0))          # padding is all zeros, so it adds nothing


def split(pairs, rng, held_out=0.3):
    """(train sentences, train labels, test sentences, test labels); pairs stay together."""
    order = rng.permutation(len(pairs))
    cut = int(len(pairs) * (1 - held_out))
    parts = []
    for chosen in (order[:cut], order[cut:]):
        sentences = [s for i in chosen for s in pairs[i]]
        labels = np.array([0, 1] * len(chosen))
        parts += [sentences, labels]
    return parts


def accuracy(model, x, lengths, labels):
    with tg.no_grad():
        logits = model(tg.tensor(x), lengths).numpy()
    return float((logits.argmax(1) == labels).mean())


def plot(run, results):
    plt = run.pyplot()
    if plt is None:
        return
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 1.3]})
    names = list(results)
    width = 0.38
    for k, (split_name, color) in enumerate((("train", "#9ecae1"), ("held-out", "#3182bd"))):
        values = [results[n][split_name] for n in names]
        bars = ax.bar(np.arange(len(names)) + (k - 0.5) * width, values, width, color=color,
                      label=split_name)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], padding=2)
    ax.axhline(0.5, color="black", ls="--", lw=1, label="chance")
    ax.set_xticks(np.arange(len(names)), names)
    ax.set(ylim=(0, 1.12), ylabel="accuracy", title="Statement or question?")
    ax.legend(loc="upper left", fontsize=9)
    for name in names:
        ax2.plot(results[name]["losses"], lw=2, label=name)
    ax2.axhline(np.log(2), color="black", ls="--", lw=1, label="ln 2 (a coin toss)")
    ax2.set(title="Training cross-entropy", xlabel="training step", ylabel="loss (nats)")
    ax2.grid(True, alpha=0.3)
    ax2.legend()
    fig.tight_layout()
    run.save_figure(fig, "sentence_order.png", dpi=100)


def main(argv=None):
    cli = parser("sentence_order", DESCRIPTION)
    cli.add_argument("--steps", type=int, default=150,
                     help="full-batch training steps (default: %(default)s)")
    cli.add_argument("--hidden", type=int, default=32, help="hidden units (default: %(default)s)")
    cli.add_argument("--lr", type=float, default=1e-2, help="Adam step size (default: %(default)s)")
    args = cli.parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 40)
    run = Run(args.out)
    rng = np.random.default_rng(args.seed)
    tg.manual_seed(args.seed)
    pairs = corpus()
    vocab = {w: i for i, w in enumerate(sorted({w for pair in pairs for w in pair[0]}))}
    train_s, train_y, test_s, test_y = split(pairs, rng)
    train_x, train_len = encode(train_s, vocab)
    test_x, test_len = encode(test_s, vocab)
    print(f"{len(pairs)} sentence pairs, {len(vocab)} words; {len(train_s)} training and "
          f"{len(test_s)} held-out sentences, e.g. {' '.join(pairs[1][0])!r} / "
          f"{' '.join(pairs[1][1])!r}")

    def batch():
        return (tg.tensor(train_x), train_len), tg.tensor(train_y)

    results = {}
    for name, model in (("bag of words + MLP", BagOfWords(len(vocab), args.hidden)),
                        ("many-to-one RNN", Recurrent("rnn", len(vocab), args.hidden, 2,
                                                      every_step=False))):
        losses, seconds = train(model, batch, nn.CrossEntropyLoss(), args.steps, args.lr,
                                desc=f"{name} training")
        results[name] = {"train": accuracy(model, train_x, train_len, train_y),
                         "held-out": accuracy(model, test_x, test_len, test_y),
                         "losses": losses, "train_seconds": seconds}
    for name, r in results.items():
        print(f"  {name:20s} train accuracy {r['train']:.1%}   held-out {r['held-out']:.1%}")
    plot(run, results)
    run.write_metrics({
        "accuracy": {n: {"train": r["train"], "held_out": r["held-out"]}
                     for n, r in results.items()},
        "final_loss": {n: float(r["losses"][-1]) for n, r in results.items()},
        "sentences": {"train": len(train_s), "held_out": len(test_s), "vocabulary": len(vocab)},
        "config": vars(args),
    })
    run.finish()
    return results


if __name__ == "__main__":
    main()
