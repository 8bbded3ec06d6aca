"""The char-RNN demo's recipe run on PyTorch's fused ``nn.LSTM``: the reference for its figure.

``python -m demos.char_rnn`` reports held-out bits per character after a
time budget.  This script trains the same model (embedding, one LSTM layer,
linear head) with the same recipe on PyTorch: the demo's split (first 90% of
the text), its streams and per-epoch chunk offsets, its Adam warm-up and
linear decay tied to the time spent training, its clipping, and its held-out
score over the whole last 10% (computed by the demo's own functions).  Sizes
and rates default to the demo's defaults, so the two commands compare the
frameworks, not the recipes.  Only training time counts against the budget,
as in the demo.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 \\
        python benchmarks/char_rnn_torch.py --text tinyshakespeare.txt [--time-limit 120]

Needs PyTorch (``pip install torch``); tapegrad itself is used only for the
demo's data helpers.
"""
import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # the demos beside tapegrad
from demos import char_rnn  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    raise SystemExit("char_rnn_torch: needs PyTorch (pip install torch).") from None


class TorchCharModel(torch.nn.Module):
    """Embedding -> fused LSTM -> linear, the demo's ``CharModel`` in PyTorch."""

    def __init__(self, vocab_size, embed, hidden, layers):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, embed)
        self.rnn = torch.nn.LSTM(embed, hidden, num_layers=layers)
        self.head = torch.nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(out), state


def held_out_nats(model, ids, streams, context, chunk=256):
    """The demo's held-out score (same streams, same warm-up context), on PyTorch."""
    inputs, targets = char_rnn.evaluation_streams(ids, streams, context)
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for a in range(0, len(inputs), chunk):
            logits, state = model(torch.from_numpy(inputs[a:a + chunk]), state)
            y = torch.from_numpy(targets[a:a + chunk].reshape(-1))
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y, ignore_index=-100,
                reduction="sum").item()
            count += int((y != -100).sum())
    return total / count


def train(model, optimizer, train_ids, config, limit, rng):
    """TBPTT in disjoint chunks with the demo's schedule; returns (updates, seconds)."""
    step, seconds, state = 0, 0.0, None
    seq_len, batch = config["seq_len"], config["batch"]
    while seconds < limit:
        offset = int(rng.integers(seq_len))             # a new epoch: shift the boundaries
        inputs, targets = (torch.tensor(t.numpy())            # a writable copy for torch
                           for t in char_rnn.training_streams(train_ids, batch, offset))
        state = None
        for a in range(0, len(inputs), seq_len):
            tick = time.perf_counter()
            lr = char_rnn.learning_rate(config["lr"], seconds / limit, config["warmup"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits, state = model(inputs[a:a + seq_len], state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     targets[a:a + seq_len].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
            optimizer.step()
            state = tuple(s.detach() for s in state)
            step += 1
            seconds += time.perf_counter() - tick
            if seconds >= limit:
                break
    return step, seconds


def main(argv=None):
    defaults = char_rnn.build_parser()
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--text", type=Path, required=True, help="a UTF-8 text file")
    cli.add_argument("--time-limit", type=float, default=120.0, help="seconds of training")
    cli.add_argument("--seed", type=int, default=0)
    for option in ("layers", "hidden", "embed", "seq_len", "batch", "lr", "warmup", "clip"):
        cli.add_argument("--" + option.replace("_", "-"), type=type(defaults.get_default(option)),
                         default=defaults.get_default(option),
                         help="(default: the demo's, %(default)s)")
    args = cli.parse_args(argv)
    config = vars(args)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    text = args.text.read_text(encoding="utf-8")
    vocab = char_rnn.Vocabulary(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    model = TorchCharModel(len(vocab), args.embed, args.hidden, args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"LSTM {args.layers}x{args.hidden}, embedding {args.embed}, batch {args.batch} x "
          f"seq-len {args.seq_len}, peak lr {args.lr}, {args.time_limit:.0f} s")
    steps, seconds = train(model, optimizer, ids[:split], config, args.time_limit, rng)
    nats = held_out_nats(model, ids[split:], streams=defaults.get_default("eval_streams"),
                         context=defaults.get_default("eval_context"))
    print(f"{steps} updates in {seconds:.1f} s ({1000 * seconds / steps:.1f} ms/update); "
          f"held-out {nats:.4f} nats/char = {nats / math.log(2):.4f} bits/char")


if __name__ == "__main__":
    main()
