"""Peak memory of backpropagation through time: plain vs gradient-checkpointed LSTM.

An LSTMCell unrolled over T steps, loss on every step's output.  Plain BPTT
keeps every step's intermediates on the tape until backward; with
``nn.utils.checkpoint_sequence`` only one state per segment of ~sqrt(T)
steps is kept, and one segment's intermediates are recomputed at a time
during backward.  Memory is measured with ``tracemalloc`` (NumPy reports
its array allocations to it): the memory held after the forward pass, and
the peak over forward plus backward.  Gradients of both runs are compared.

    python benchmarks/checkpoint_memory.py [--steps 1024] [--hidden 64] [--batch 8]
"""
import argparse
import gc
import math
import time
import tracemalloc

import numpy

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.nn.utils import checkpoint_sequence


def lstm_step(cell):
    def step(x, state):
        h, c = cell(x, state)
        return h, (h, c)
    return step


def plain_sequence(step, xs, state):
    ys = []
    for x in tg.unbind(xs, 0):
        y, state = step(x, state)
        ys.append(y)
    return tg.stack(ys), state


def measure(run, params):
    """(MiB held after forward, peak MiB over forward+backward, seconds, gradients)."""
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    ys, _ = run()
    loss = (ys * ys).mean()
    held = tracemalloc.get_traced_memory()[0]
    grads = tg.grad(loss, params)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return held / 2 ** 20, peak / 2 ** 20, seconds, grads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--segment", type=int, default=None, help="default: ceil(sqrt(steps))")
    args = parser.parse_args()

    tg.manual_seed(0)
    cell = nn.LSTMCell(args.input, args.hidden, dtype=tg.float64)
    params = list(cell.parameters())
    rng = numpy.random.default_rng(0)
    xs = tg.tensor(rng.standard_normal((args.steps, args.batch, args.input)))
    step = lstm_step(cell)
    segment = args.segment or math.ceil(math.sqrt(args.steps))

    plain = measure(lambda: plain_sequence(step, xs, None), params)
    ckpt = measure(lambda: checkpoint_sequence(step, xs, None, segment=segment,
                                               params=params), params)
    worst = max(float(numpy.abs(a.data - b.data).max()) for a, b in zip(plain[3], ckpt[3]))

    print(f"LSTMCell({args.input}, {args.hidden}), batch {args.batch}, T = {args.steps}, "
          f"float64, segment = {segment}")
    print(f"{'':14}{'held after forward':>20}{'peak fwd+bwd':>16}{'time':>10}")
    for name, (held, peak, seconds, _) in (("plain BPTT", plain), ("checkpointed", ckpt)):
        print(f"{name:14}{held:17.1f} MiB{peak:12.1f} MiB{seconds:9.2f} s")
    print(f"peak ratio plain/checkpointed: {plain[1] / ckpt[1]:.1f}x; "
          f"time ratio: {ckpt[2] / plain[2]:.2f}x; max |grad difference|: {worst:.1e}")


if __name__ == "__main__":
    main()
