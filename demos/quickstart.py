"""Train a tiny Elman RNN with raw tapegrad operations, then look inside.

The task: read a noisy sine wave one value at a time and predict the next
value. The RNN is five tensors and a Python loop (no ``nn`` package), trained
with plain SGD. Afterwards the script checks the gradients against finite
differences and prints the tape of a three-step forward pass.

Run: python demos/quickstart.py  (a few seconds on a laptop)
"""
import time

import numpy as np

import tapegrad as tg

HIDDEN = 16
SEQ_LEN = 20
BATCH = 16
STEPS = 300
LR = 0.05


def sine_batch(rng, batch=BATCH, seq_len=SEQ_LEN, noise=0.05):
    """Inputs (T, B, 1) and next-value targets (T, B, 1) cut from noisy sine waves."""
    phase = rng.uniform(0, 2 * np.pi, size=(1, batch))
    t = np.arange(seq_len + 1)[:, None] * 0.3 + phase
    wave = np.sin(t) + noise * rng.standard_normal(t.shape)
    wave = wave[..., None].astype(np.float32)
    return tg.tensor(wave[:-1]), tg.tensor(wave[1:])


def init_params(rng, hidden=HIDDEN):
    """Weights W_xh (1, H), W_hh (H, H), b_h (H,), W_hy (H, 1), b_y (1,)."""
    def uniform(*shape):
        bound = 1 / np.sqrt(hidden)
        data = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        return tg.tensor(data, requires_grad=True)
    return [uniform(1, hidden), uniform(hidden, hidden), uniform(hidden),
            uniform(hidden, 1), uniform(1)]


def rnn_loss(W_xh, W_hh, b_h, W_hy, b_y, xs, ys):
    """Mean squared error of next-value predictions over every step and sequence."""
    h = tg.zeros(xs.shape[1], W_hh.shape[0], dtype=W_hh.dtype)
    preds = []
    for t in range(xs.shape[0]):
        with tg.scope("rnn", step=t):
            h = tg.tanh(xs[t] @ W_xh + h @ W_hh + b_h)
            preds.append(h @ W_hy + b_y)
    return ((tg.stack(preds) - ys) ** 2).mean()


def train(params, rng):
    start = time.perf_counter()
    for step in range(STEPS + 1):
        xs, ys = sine_batch(rng)
        loss = rnn_loss(*params, xs, ys)
        loss.backward()
        with tg.no_grad():          # the update itself must not be recorded
            for p in params:
                p -= LR * p.grad
                p.grad = None
        if step % 30 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    print(f"trained {STEPS} steps in {time.perf_counter() - start:.1f} s")


def check_gradients(params, rng):
    """Finite differences on a float64 copy of the model and a short sequence."""
    params64 = [tg.tensor(p.numpy().astype(np.float64), requires_grad=True) for p in params]
    xs, ys = sine_batch(rng, batch=2, seq_len=4)
    xs, ys = xs.double(), ys.double()
    ok = tg.gradcheck(lambda *ps: rnn_loss(*ps, xs, ys), params64)
    print(f"gradcheck on a float64 copy: {'passed' if ok else 'FAILED'}")
    return ok


def show_tape(params, rng):
    xs, ys = sine_batch(rng, batch=1, seq_len=3)
    with tg.Tape() as tape:
        rnn_loss(*params, xs, ys)
    print(f"\nThe tape of a 3-step forward pass ({len(tape)} records):")
    print(tape)


def main():
    rng = np.random.default_rng(0)
    params = init_params(rng)
    train(params, rng)
    if not check_gradients(params, rng):
        raise SystemExit(1)
    show_tape(params, rng)


if __name__ == "__main__":
    main()
