"""Cost of a backward pass that accumulates into ``.grad`` without resetting it.

An Elman-style loop of T steps over one weight (T uses per pass), backpropagated
P times with ``.grad`` never reset.  Prints the time of the first and the last
100 passes and the traced memory after them: with a bounded per-use ledger the
two times are the same and the memory stops growing.

    OMP_NUM_THREADS=1 python benchmarks/accumulating_backward.py [--passes 2000] [--steps 20]
"""
import argparse
import os
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402


def one_pass(w, x, steps):
    h = x
    for _ in range(steps):
        h = tg.tanh(h @ w)
    h.sum().backward()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    w = tg.tensor(rng.standard_normal((8, 8)) * 0.3, requires_grad=True)
    x = tg.tensor(rng.standard_normal((1, 8)))
    tracemalloc.start()
    times = []
    for _ in range(args.passes):
        start = time.perf_counter()
        one_pass(w, x, args.steps)
        times.append(time.perf_counter() - start)
    current = tracemalloc.get_traced_memory()[0]
    first, last = sum(times[:100]), sum(times[-100:])
    print(f"{args.passes} passes x {args.steps} uses of w, .grad never reset")
    print(f"first 100 passes: {first * 1e3:8.1f} ms")
    print(f"last 100 passes:  {last * 1e3:8.1f} ms   ({last / first:.2f}x the first)")
    print(f"traced memory after all passes: {current / 2 ** 20:.2f} MiB; "
          f"ledger entries of w: {len(tg.contributions(w))}")


if __name__ == "__main__":
    main()
