"""Tiny-op recurrent benchmark: an Elman RNN where per-operation overhead dominates.

Batch 1, input 10, hidden 32, T = 200, many-to-one (read out at the last
step, squared error), forward + backward, one thread.  Each op works on a
few dozen numbers, so this measures the tape's bookkeeping, not arithmetic.
In one run it times:

* ``numpy`` -- the hand-written Elman RNN with manual BPTT
  (``reference_numpy.py``), the floor every ratio is measured against;
* ``tapegrad`` -- ``nn.RNN`` + ``nn.Linear``, gradients by the tape;
* ``torch eager`` -- when PyTorch is installed: ``torch.nn.RNN`` + ``Linear``
  (on one thread; for batch 1 this is PyTorch's fastest eager form).

Runs are interleaved so that machine noise hits all of them alike; medians
are reported.  tapegrad's gradients are first checked against the floor's.

    OMP_NUM_THREADS=1 python benchmarks/elman_tiny.py [--repeat 41] [--dtype float32]
"""
import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tapegrad.nn as nn  # noqa: E402
import reference_numpy as ref  # noqa: E402  (beside this script)
import tapegrad as tg  # noqa: E402
from blas_kernel import describe as blas_kernel  # noqa: E402  (beside this script)

I, H, C, T = 10, 32, 1, 200
KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out")


class TapegradElman:
    """nn.RNN + nn.Linear read out at the last step, parameters copied from the floor's."""

    def __init__(self, params, dtype):
        self.rnn = nn.RNN(I, H, dtype=dtype)
        self.head = nn.Linear(H, C, dtype=dtype)
        self.rnn.load_state_dict({f"{k}_l0": tg.tensor(params[k]) for k in KEYS[:4]})
        self.head.load_state_dict({"weight": tg.tensor(params["W_out"]),
                                   "bias": tg.tensor(params["b_out"])})
        self.params = [*self.rnn.parameters(), *self.head.parameters()]

    def step(self, x, target):
        for p in self.params:
            p.grad = None
        _, h_n = self.rnn(x)
        diff = self.head(h_n[0]) - target
        (0.5 * (diff * diff).sum()).backward()

    def grads(self):
        return {k: p.grad.numpy() for k, p in zip(KEYS, self.params)}


def torch_step(params, x_np, target_np):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    dtype = torch.float64 if x_np.dtype == np.float64 else torch.float32
    rnn = torch.nn.RNN(I, H).to(dtype)
    head = torch.nn.Linear(H, C).to(dtype)
    x, target = torch.tensor(x_np), torch.tensor(target_np)

    def step():
        rnn.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        _, h_n = rnn(x)
        diff = head(h_n[0]) - target
        (0.5 * (diff * diff).sum()).backward()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=41)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    dtype = np.dtype(args.dtype)
    params = ref.init_elman_params(I, H, C, dtype=dtype)
    x_np, target_np = ref.elman_inputs(T, I, C, dtype=dtype)
    model = TapegradElman(params, dtype)
    x, target = tg.tensor(x_np), tg.tensor(target_np)

    model.step(x, target)
    _, want = ref.elman_step(params, x_np, target_np)
    got = model.grads()
    error = max(float(np.abs(got[k] - want[k]).max() / (np.abs(want[k]).max() + 1e-30))
                for k in KEYS)

    runners = {"numpy (hand-written BPTT)": lambda: ref.elman_step(params, x_np, target_np),
               "tapegrad nn.RNN": lambda: model.step(x, target)}
    step = torch_step(params, x_np, target_np)
    if step is not None:
        runners["torch eager nn.RNN"] = step
    times = {name: [] for name in runners}
    for fn in runners.values():
        fn()
    for _ in range(args.repeat):
        for name, fn in runners.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    floor = statistics.median(times["numpy (hand-written BPTT)"])
    print(blas_kernel())
    print(f"Elman RNN B=1 I={I} H={H} T={T}, many-to-one, {dtype.name}, one thread; "
          f"median of {args.repeat} interleaved runs")
    print(f"max relative gradient difference tapegrad vs hand-written: {error:.1e}")
    for name, ts in times.items():
        seconds = statistics.median(ts)
        print(f"  {name:28}{seconds * 1e3:8.2f} ms {seconds / floor:7.2f}x")


if __name__ == "__main__":
    main()
