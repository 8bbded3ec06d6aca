"""Character-level language model: read a text one character at a time, predict the next, sample.

By default the text is about 1 MB of the Python standard library's own
source (found through the running interpreter, so nothing is downloaded):
the model learns to write Python. ``--text FILE`` trains on any UTF-8 text
instead, e.g. the tiny-shakespeare file.

The first 90% of the text (by position) is for training, the last 10% is
held out. Training reads the training text as ``--batch`` parallel streams
in chunks of ``--seq-len`` characters (truncated backpropagation through
time, the state carried from chunk to chunk, detached), with Adam, gradient
clipping and a learning rate that warms up and then decays to the end of
the run (``--time-limit`` seconds or ``--steps`` updates, whichever comes
first). The held-out score is the loss over the *whole* held-out text, read
as one stream with the state carried, in nats and bits per character; it is
computed batched, as many streams at once, each first reading the
``--eval-context`` characters before its piece so that it scores with a
warm state like the single stream would.

    python -m demos.char_rnn                      # 120 s on the stdlib source
    python -m demos.char_rnn --text input.txt --time-limit 600 --hidden 256
    python -m demos.char_rnn --resume runs/char_rnn/checkpoint.npz --time-limit 240
"""
import math
import sys
import sysconfig
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn import functional as F

from .common import Run, parser, progress

RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

#: What `main` returns: the trained model, its vocabulary, the held-out text, the
#: metrics written to metrics.json and the paths of the files written.
Result = namedtuple("Result", ["model", "vocab", "held_out", "metrics", "files"])
#: What --time-limit counts: seconds on the wall clock, or CPU seconds of this process
#: (the same on an idle machine with one thread; steadier on a shared one).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
LN2 = math.log(2.0)

#: The settings of --quick: a tiny model on a small text, a few seconds in all.
QUICK = {"hidden": 48, "embed": 16, "layers": 1, "batch": 8, "seq_len": 16, "steps": 80,
         "time_limit": None, "sample_every": 40, "eval_every": 20, "sample_length": 80,
         "corpus_chars": 12_000, "eval_streams": 16, "eval_context": 16, "lr": 1e-2}


# ------------------------------------------------------------------ corpus
def stdlib_corpus(size=1_000_000):
    """About ``size`` characters of the running interpreter's standard-library source.

    Files are taken in sorted path order from the top level of the standard
    library (no tests, no site-packages), ASCII files only (a compact
    alphabet), until ``size`` characters are collected, so the selection is
    the same on every run of the same Python.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    pieces, total = [], 0
    for path in sorted(root.glob("*.py")):
        try:
            text = path.read_text(encoding="ascii")
        except (UnicodeDecodeError, OSError):
            continue
        pieces.append(text)
        total += len(text)
        if total >= size:
            break
    return "".join(pieces)[:size]


class Vocabulary:
    """The characters of a text, each mapped to an id (sorted, so the ids are reproducible)."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


# ------------------------------------------------------------------- model
class CharModel(nn.Module):
    """Embedding -> recurrent layers (rnn, lstm or gru) -> dropout -> linear to logits."""

    def __init__(self, vocab_size, cell="lstm", embed=64, hidden=192, layers=1, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = RECURRENT[cell](embed, hidden, num_layers=layers, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        """Logits (T, B, V) for ids (T, B), and the state after the last step."""
        out, state = self.rnn(self.embed(ids), state)
        return self.head(self.dropout(out)), state


def learning_rate(peak, progress_fraction, warmup):
    """Linear warm-up over the first ``warmup`` of the run, then linear decay to zero at its end.

    A straight line to zero beat a cosine to zero in every paired 120-second run
    (three seeds, 0.004 to 0.039 bits per character lower; see the demo's docs page).
    """
    p = min(max(progress_fraction, 0.0), 1.0)
    if p < warmup:
        return peak * (p + 1e-3) / warmup
    return peak * (1.0 - p) / (1.0 - warmup)


# --------------------------------------------------------------- streams
def training_streams(ids, batch, offset=0):
    """Inputs and next-character targets (L, batch): the text cut into ``batch`` parallel streams."""
    ids = ids[offset:]
    length = (len(ids) - 1) // batch
    if length < 2:
        raise SystemExit(f"char_rnn: the training text ({len(ids)} characters) is too short for "
                         f"--batch {batch}; use a longer text or a smaller batch.")
    inputs = ids[:length * batch].reshape(batch, length).T
    targets = ids[1:length * batch + 1].reshape(batch, length).T
    return tg.tensor(np.ascontiguousarray(inputs)), tg.tensor(np.ascontiguousarray(targets))


def evaluation_streams(ids, streams, context):
    """Inputs and targets (L, streams) scoring every next-character prediction of ``ids`` once.

    Stream k scores one contiguous piece; it starts reading up to
    ``context`` characters earlier, whose predictions are not scored
    (target -100), so each piece starts with a warm state. The first piece
    starts at the first character, with the zero state, like one stream.
    """
    n = len(ids) - 1                        # predictions: ids[1:] from ids[:-1]
    streams = max(1, min(streams, n))
    piece = -(-n // streams)
    streams = -(-n // piece)                # none left empty
    length = piece + context
    inputs = np.zeros((length, streams), dtype=np.int64)
    targets = np.full((length, streams), -100, dtype=np.int64)
    for k in range(streams):
        lo, hi = k * piece, min((k + 1) * piece, n)
        start = max(0, lo - context)
        span = hi - start
        inputs[:span, k] = ids[start:hi]
        scored = np.arange(start, hi) >= lo
        targets[:span, k] = np.where(scored, ids[start + 1:hi + 1], -100)
    return inputs, targets


def held_out_nats(model, ids, streams, context, chunk=256):
    """Mean loss (nats per character) of ``model`` on the text ``ids``, read batched."""
    inputs, targets = evaluation_streams(ids, streams, context)
    total, count, state = 0.0, 0, None
    model.eval()
    with tg.no_grad():
        for a in range(0, len(inputs), chunk):
            logits, state = model(tg.tensor(inputs[a:a + chunk]), state)
            y = targets[a:a + chunk].reshape(-1)
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.tensor(y),
                                     reduction="sum")
            total += losses.item()
            count += int((y != -100).sum())
    model.train()
    return total / count


def sample(model, vocab, prime, length, temperature, rng):
    """``prime`` followed by ``length`` characters drawn one at a time from the model."""
    model.eval()
    ids = list(vocab.encode(prime)) or [int(rng.integers(len(vocab)))]
    out = []
    with tg.no_grad():
        logits, state = model(tg.tensor(np.array(ids)[:, None]))
        for _ in range(length):
            z = logits.numpy()[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            out.append(nxt)
            logits, state = model(tg.tensor(np.array([[nxt]])), state)
    model.train()
    return vocab.decode(ids) + vocab.decode(out)


# ---------------------------------------------------------------- options
def build_parser():
    cli = parser("char_rnn", "Train a character-level language model (truncated BPTT) and "
                             "sample from it; scores held-out bits per character.")
    cli.add_argument("--text", type=Path,
                     help="a UTF-8 text file (default: ~1 MB of the Python standard library's "
                          "source)")
    cli.add_argument("--corpus-chars", type=int, default=1_000_000,
                     help="characters of standard-library source in the default text "
                          "(default: %(default)s)")
    cli.add_argument("--cell", choices=sorted(RECURRENT), default="lstm",
                     help="recurrent cell (default: %(default)s)")
    cli.add_argument("--layers", type=int, default=1, help="recurrent layers (default: %(default)s)")
    cli.add_argument("--hidden", type=int, default=192, help="hidden units (default: %(default)s)")
    cli.add_argument("--embed", type=int, default=64,
                     help="character embedding size (default: %(default)s)")
    cli.add_argument("--dropout", type=float, default=0.0,
                     help="dropout between layers and before the output (default: %(default)s)")
    cli.add_argument("--seq-len", type=int, default=32,
                     help="characters per truncated-BPTT chunk (default: %(default)s)")
    cli.add_argument("--batch", type=int, default=64,
                     help="parallel streams per update (default: %(default)s)")
    cli.add_argument("--lr", type=float, default=1.4e-2,
                     help="peak Adam learning rate (default: %(default)s)")
    cli.add_argument("--warmup", type=float, default=0.02,
                     help="fraction of the run spent warming the learning rate up; it then "
                          "decays linearly to zero at the end (default: %(default)s)")
    cli.add_argument("--clip", type=float, default=5.0,
                     help="gradient-norm clipping threshold (default: %(default)s)")
    cli.add_argument("--time-limit", type=float, default=120.0,
                     help="seconds of training (evaluation and sampling not counted); 0 for "
                          "no limit (then give --steps) (default: %(default)s)")
    cli.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                     help="what --time-limit counts: wall-clock seconds, or this process's CPU "
                          "seconds (equal on an idle machine with one thread, steadier on a "
                          "busy one) (default: %(default)s)")
    cli.add_argument("--steps", type=int, default=None,
                     help="stop after this many updates (default: only the time limit)")
    cli.add_argument("--sample-every", type=int, default=500,
                     help="print a sample every this many updates (default: %(default)s)")
    cli.add_argument("--sample-length", type=int, default=300,
                     help="characters per sample (default: %(default)s)")
    cli.add_argument("--temperature", type=float, default=0.8,
                     help="sampling temperature (default: %(default)s)")
    cli.add_argument("--eval-every", type=int, default=250,
                     help="score a held-out slice every this many updates for the curve "
                          "(default: %(default)s)")
    cli.add_argument("--eval-streams", type=int, default=128,
                     help="streams the held-out text is read as (default: %(default)s)")
    cli.add_argument("--eval-context", type=int, default=128,
                     help="characters each held-out stream reads before its scored piece "
                          "(default: %(default)s)")
    cli.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                     help="continue from a checkpoint written by this demo")
    return cli


def configure(args, cli):
    """The run's configuration: the options, with --quick's small settings for those not given."""
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
              if k not in ("quick", "resume", "out")}
    config["quick"] = args.quick
    if args.quick:
        config.update({k: v for k, v in QUICK.items() if config[k] == cli.get_default(k)})
    return config


def check_budget(config):
    """``--time-limit 0`` means no time limit; then ``--steps`` must end the run."""
    if config["time_limit"] is not None and config["time_limit"] <= 0:
        config["time_limit"] = None
    if config["steps"] is None and config["time_limit"] is None:
        raise SystemExit("char_rnn: give --time-limit or --steps (the schedule needs an end).")


# --------------------------------------------------------------- training
def main(argv=None):
    cli = build_parser()
    args = cli.parse_args(argv)
    checkpoint = nn.load(args.resume) if args.resume else None
    config = checkpoint["config"] if checkpoint else configure(args, cli)
    if checkpoint:                          # a resumed run may extend its budget
        for key in ("time_limit", "steps", "sample_every", "eval_every"):
            if getattr(args, key) != cli.get_default(key):
                config[key] = getattr(args, key)
    check_budget(config)
    run = Run(args.out)
    tg.manual_seed(config["seed"])
    rng = checkpoint["rng"] if checkpoint else np.random.default_rng(config["seed"])

    if config["text"]:
        text, source = Path(config["text"]).read_text(encoding="utf-8"), str(config["text"])
        if config["quick"]:
            text = text[:config["corpus_chars"]]
    else:
        text = stdlib_corpus(config["corpus_chars"])
        source = f"the Python {sys.version_info.major}.{sys.version_info.minor} standard library"
    vocab = Vocabulary(checkpoint["vocab"] if checkpoint else text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    eval_slice = val_ids[:min(len(val_ids), 20_000)]
    print(f"text: {source}, {len(ids):,} characters, {len(vocab)} distinct; "
          f"training on {len(train_ids):,}, holding out {len(val_ids):,}")

    model = CharModel(len(vocab), config["cell"], config["embed"], config["hidden"],
                      config["layers"], config["dropout"])
    optimizer = nn.optim.Adam(model.parameters(), lr=config["lr"])
    runner = nn.utils.TruncatedBPTT(model, nn.CrossEntropyLoss(), optimizer,
                                    k1=config["seq_len"], clip_grad_norm=config["clip"])
    progress_state = {"step": 0, "chars_seen": 0, "train_seconds": 0.0, "epoch": 0,
                      "offset": 0, "position": 0, "state": None,
                      "history": {"step": [], "train_nats": [], "val_step": [],
                                  "val_nats": [], "val_train_seconds": []}}
    if checkpoint:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        progress_state.update(checkpoint["progress"])
        print(f"resumed from {args.resume} at update {progress_state['step']}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {config['cell']} {config['layers']}x{config['hidden']}, embedding "
          f"{config['embed']}, {n_params:,} parameters; batch {config['batch']} x seq-len "
          f"{config['seq_len']}, Adam peak lr {config['lr']}")

    train(model, runner, optimizer, config, progress_state, train_ids, eval_slice, vocab, rng)

    val_nats = held_out_nats(model, val_ids, config["eval_streams"], config["eval_context"])
    s = progress_state
    print(f"\nheld-out ({len(val_ids):,} characters, one stream with the state carried): "
          f"{val_nats:.4f} nats/char = {val_nats / LN2:.4f} bits/char")
    print(f"trained {s['step']} updates, {s['chars_seen']:,} characters in "
          f"{s['train_seconds']:.1f} s ({1000 * s['train_seconds'] / max(s['step'], 1):.1f} "
          f"ms/update)")
    final_sample = sample(model, vocab, text[split:split + 1], config["sample_length"],
                          config["temperature"], rng)
    print(f"\nsample (temperature {config['temperature']}):\n{final_sample}")

    nn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "config": config, "vocab": "".join(vocab.chars), "rng": rng,
             "progress": s}, run.path("checkpoint.npz"))
    run.path("sample.txt").write_text(final_sample + "\n", encoding="utf-8")
    history = s["history"]
    metrics = {
        "val_nats_per_char": val_nats, "val_bits_per_char": val_nats / LN2,
        "train_seconds": s["train_seconds"], "steps": s["step"], "chars_seen": s["chars_seen"],
        "ms_per_step": 1000 * s["train_seconds"] / max(s["step"], 1),
        "initial_val_nats_per_char": history["val_nats"][0] if history["val_nats"] else None,
        "final_train_nats_per_char": float(np.mean(history["train_nats"][-20:])),
        "parameters": n_params, "vocabulary_size": len(vocab), "text": source,
        "train_characters": len(train_ids), "held_out_characters": len(val_ids),
        "config": config,
    }
    run.write_metrics(metrics)
    plot_curves(run, history, val_nats, s["step"])
    run.finish()
    return Result(model, vocab, text[split:], metrics, run.files)


def train(model, runner, optimizer, config, s, train_ids, eval_slice, vocab, rng):
    """Update until the step or time budget is spent, recording the curves in ``s``."""
    limit, steps = config["time_limit"], config["steps"]
    clock = CLOCKS[config["clock"]]
    total = steps if steps is not None else limit
    bar = progress(total=total, unit="step" if steps is not None else "s",
                   bar_format=None if steps is not None else
                   "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")
    bar.update(s["step"] if steps is not None else s["train_seconds"])

    def done():
        return ((steps is not None and s["step"] >= steps)
                or (limit is not None and s["train_seconds"] >= limit))

    def fraction():
        parts = [s["step"] / steps if steps is not None else 0.0,
                 s["train_seconds"] / limit if limit is not None else 0.0]
        return max(parts)

    def evaluate():
        nats = held_out_nats(model, eval_slice, config["eval_streams"], config["eval_context"])
        for key, value in (("val_step", s["step"]), ("val_nats", nats),
                           ("val_train_seconds", s["train_seconds"])):
            s["history"][key].append(value)
        return nats

    if not s["history"]["val_step"]:
        evaluate()
    while not done():
        if s["position"] == 0:              # a new epoch: shift the chunk boundaries
            s["offset"] = int(rng.integers(config["seq_len"]))
        inputs, targets = training_streams(train_ids, config["batch"], s["offset"])
        inputs, targets = inputs[s["position"]:], targets[s["position"]:]
        if len(inputs) == 0:
            s.update(epoch=s["epoch"] + 1, position=0, state=None)
            continue
        tick = clock()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config["lr"], fraction(), config["warmup"])
        for update in runner.updates(inputs, targets, s["state"]):
            now = clock()
            seconds, tick = now - tick, now
            s["step"] += 1
            s["chars_seen"] += (update.window.stop - update.window.loss_start) * config["batch"]
            s["train_seconds"] += seconds
            s["position"] += update.window.stop - update.window.loss_start
            s["state"] = update.state
            s["history"]["step"].append(s["step"])
            s["history"]["train_nats"].append(update.loss)
            bar.update(1 if steps is not None else min(seconds, max(0.0, total - bar.n)))
            bar.set_postfix(loss=f"{update.loss / LN2:.3f} bits", refresh=False)
            if s["step"] % config["eval_every"] == 0:
                bar.set_postfix(loss=f"{update.loss / LN2:.3f} bits",
                                held_out=f"{evaluate() / LN2:.3f} bits", refresh=False)
            if s["step"] % config["sample_every"] == 0:
                text = sample(model, vocab, vocab.decode(train_ids[:1]), config["sample_length"],
                              config["temperature"], rng)
                bar.write(f"--- sample at update {s['step']} ---\n{text}\n---")
            if done():
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config["lr"], fraction(), config["warmup"])
            tick = clock()                      # evaluation and sampling are not training time
        else:
            s.update(epoch=s["epoch"] + 1, position=0, state=None)
    if s["history"]["val_step"][-1] != s["step"]:
        evaluate()
    bar.close()


def plot_curves(run, history, val_nats, steps):
    """Training loss (smoothed) and held-out loss against updates, in bits per character."""
    plt = run.pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    train = np.array(history["train_nats"]) / LN2
    window = max(1, min(50, len(train) // 20))
    smooth = np.convolve(train, np.ones(window) / window, mode="valid")
    ax.plot(history["step"], train, color="#9ecae1", lw=0.6, label="training chunk")
    ax.plot(history["step"][window - 1:], smooth, color="#08519c", lw=1.5,
            label=f"training (mean of {window})")
    ax.plot(history["val_step"], np.array(history["val_nats"]) / LN2, "o-", color="#d94801",
            ms=3, label="held-out (first 20k characters)")
    ax.plot([steps], [val_nats / LN2], "*", color="#7f2704", ms=12,
            label=f"held-out, whole text: {val_nats / LN2:.3f}")
    ax.set_xlabel("update")
    ax.set_ylabel("bits per character")
    ax.set_ylim(top=min(ax.get_ylim()[1], max(train[:1].max() if len(train) else 8, 1) + 0.5))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("char-RNN: loss per character")
    run.save_figure(fig, "curves.png")


if __name__ == "__main__":
    main()
