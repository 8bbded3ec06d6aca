"""Per-operation cost of the tape: a chain of small elementwise ops, µs per op.

A chain of N operations on a shape-(4,) tensor cycling through mul, add, tanh,
timed forward-only and forward+backward, next to NumPy doing the same
arithmetic by hand (forward, and forward plus the hand-written backward) and,
when installed, PyTorch eager on the same chain.  All in one run, one thread:
compare the ratios, not the absolute times.

    OMP_NUM_THREADS=1 python benchmarks/chain_overhead.py [--ops 10000] [--repeat 9]
"""
import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from blas_kernel import describe as blas_kernel  # noqa: E402  (beside this script)


def numpy_forward(x0, w, b, n):
    x = x0
    for i in range(n):
        k = i % 3
        x = x * w if k == 0 else (x + b if k == 1 else np.tanh(x))
    return x.sum()


def numpy_forward_backward(x0, w, b, n):
    saved = []
    x = x0
    for i in range(n):
        k = i % 3
        if k == 0:
            x = x * w
        elif k == 1:
            x = x + b
        else:
            x = np.tanh(x)
            saved.append(x)
    g = np.ones_like(x)
    for i in range(n - 1, -1, -1):
        k = i % 3
        if k == 0:
            g = g * w
        elif k == 2:
            y = saved.pop()
            g = g * (1.0 - y * y)
    return g


def tapegrad_forward(x0, w, b, n):
    x = x0
    for i in range(n):
        k = i % 3
        x = x * w if k == 0 else (x + b if k == 1 else tg.tanh(x))
    return x.sum()


def tapegrad_forward_backward(x0, w, b, n):
    x0.grad = None
    tapegrad_forward(x0, w, b, n).backward()
    return x0.grad


def torch_setup():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def fwd(x0, w, b, n):
        x = x0
        for i in range(n):
            k = i % 3
            x = x * w if k == 0 else (x + b if k == 1 else torch.tanh(x))
        return x.sum()

    def fwd_bwd(x0, w, b, n):
        x0.grad = None
        fwd(x0, w, b, n).backward()
        return x0.grad

    return torch, fwd, fwd_bwd


def interleaved(runners, n, repeat):
    """Median µs per op of each runner, running them in turn so noise hits all alike."""
    times = {name: [] for name in runners}
    for fn, args in runners.values():
        fn(*args, n)                                # warm-up
    for _ in range(repeat):
        for name, (fn, args) in runners.items():
            gc.collect()
            t0 = time.perf_counter()
            fn(*args, n)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) / n * 1e6 for name, ts in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(4).astype(args.dtype) * 0.5 for _ in range(3))
    w = w * 0 + 0.9
    tx = tg.tensor(x, requires_grad=True)
    tw, tb = tg.tensor(w), tg.tensor(b)
    runners = {
        ("numpy (no autograd)", "forward"): (numpy_forward, (x, w, b)),
        ("numpy (no autograd)", "fwd+bwd"): (numpy_forward_backward, (x, w, b)),
        ("tapegrad", "forward"): (tapegrad_forward, (tx, tw, tb)),
        ("tapegrad", "fwd+bwd"): (tapegrad_forward_backward, (tx, tw, tb)),
    }
    setup = torch_setup()
    if setup is not None:
        torch, fwd, fwd_bwd = setup
        px = torch.tensor(x, requires_grad=True)
        pw, pb = torch.tensor(w), torch.tensor(b)
        runners[("pytorch eager", "forward")] = (fwd, (px, pw, pb))
        runners[("pytorch eager", "fwd+bwd")] = (fwd_bwd, (px, pw, pb))
    us = interleaved(runners, args.ops, args.repeat)
    names = list(dict.fromkeys(name for name, _ in runners))
    ref = us[("numpy (no autograd)", "fwd+bwd")]
    print(blas_kernel())
    print(f"chain of {args.ops} ops on shape (4,) {args.dtype}, median of {args.repeat} "
          f"interleaved runs, µs per op")
    print(f"{'':22} {'forward':>9} {'fwd+bwd':>9} {'fwd+bwd / numpy':>16}")
    for name in names:
        f, fb = us[(name, "forward")], us[(name, "fwd+bwd")]
        print(f"{name:22} {f:9.2f} {fb:9.2f} {fb / ref:16.2f}")
    if setup is not None:
        ratio = us[("tapegrad", "fwd+bwd")] / us[("pytorch eager", "fwd+bwd")]
        print(f"tapegrad / pytorch (fwd+bwd): {ratio:.2f}")


if __name__ == "__main__":
    main()
