"""LSTM training step: tapegrad's ``nn.LSTM`` against hand-written NumPy BPTT.

One step = forward + backward of an LSTM (batch 32, input 64, hidden 128,
T = 64) with a 64-class linear head and cross-entropy at every step.  In one
run, one thread, for float32 and float64 it times:

* ``numpy``  -- the hand-written LSTM with manual BPTT (``reference_numpy.py``),
  the floor every ratio is measured against;
* ``tapegrad`` -- ``nn.LSTM`` + ``nn.Linear`` + ``F.cross_entropy``, gradients
  by the tape;
* ``torch composed`` and ``torch fused`` -- when PyTorch is installed: the same
  LSTM written with torch primitives, and ``torch.nn.LSTM``.

Runs are interleaved (one repetition of each in turn) so that machine noise
hits all of them alike; medians are reported.  Before timing, tapegrad's
gradients are checked against the hand-written ones.  ``--memory`` adds the
peak memory (tracemalloc) of one step of tapegrad and of the floor for
T = 64, 256, 1024, and of tapegrad with gradient checkpointing.

    OMP_NUM_THREADS=1 python benchmarks/lstm_step.py [--repeat 15] [--memory]
"""
import argparse
import gc
import math
import os
import statistics
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tapegrad.nn as nn  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402
import reference_numpy as ref  # noqa: E402  (beside this script)
import tapegrad as tg  # noqa: E402
from blas_kernel import describe as blas_kernel  # noqa: E402  (beside this script)
from tapegrad.nn.utils import checkpoint_sequence  # noqa: E402

B, I, H, C, T = 32, 64, 128, 64, 64


class TapegradModel:
    """nn.LSTM + per-step linear head, parameters copied from the reference's."""

    def __init__(self, params, dtype):
        self.lstm = nn.LSTM(I, H, dtype=dtype)
        self.head = nn.Linear(H, C, dtype=dtype)
        state = {"weight_ih_l0": params["weight_ih"], "weight_hh_l0": params["weight_hh"],
                 "bias_ih_l0": params["bias_ih"], "bias_hh_l0": params["bias_hh"]}
        self.lstm.load_state_dict({k: tg.tensor(v) for k, v in state.items()})
        self.head.load_state_dict({"weight": tg.tensor(params["W_out"]),
                                   "bias": tg.tensor(params["b_out"])})
        self.params = [*self.lstm.parameters(), *self.head.parameters()]

    def loss(self, x, targets):
        out, _ = self.lstm(x)
        logits = self.head(out.reshape(-1, H))
        return F.cross_entropy(logits, targets)

    def step(self, x, targets):
        for p in self.params:
            p.grad = None
        self.loss(x, targets).backward()

    def grads(self):
        g = [p.grad.numpy() for p in self.params]
        return dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out"), g))


def check_against_floor(model, params, x_np, t_np, x, targets):
    """tapegrad's gradients equal the hand-derived BPTT's (float64, tight)."""
    model.step(x, targets)
    _, want = ref.lstm_step(params, x_np, t_np)
    got = model.grads()
    worst = max(float(np.abs(got[k] - want[k]).max() / (np.abs(want[k]).max() + 1e-30))
                for k in want)
    return worst


def torch_runners(params, x_np, t_np):
    """(composed step, fused step) in torch, or None when torch is missing."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    ps = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x = torch.tensor(x_np)
    tgt = torch.tensor(t_np.reshape(-1), dtype=torch.long)

    def composed():
        for p in ps.values():
            p.grad = None
        proj = (x.reshape(T * B, I) @ ps["weight_ih"].T + ps["bias_ih"] + ps["bias_hh"])
        proj = proj.reshape(T, B, 4 * H).unbind(0)
        w_hh_t = ps["weight_hh"].T
        h = c = None
        outs = []
        for t in range(T):
            z = proj[t] if h is None else proj[t] + h @ w_hh_t
            i, f, g, o = z.split(H, dim=1)
            i, g = torch.sigmoid(i), torch.tanh(g)
            c = i * g if c is None else torch.sigmoid(f) * c + i * g
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        logits = torch.stack(outs).reshape(-1, H) @ ps["W_out"].T + ps["b_out"]
        torch.nn.functional.cross_entropy(logits, tgt).backward()

    lstm = torch.nn.LSTM(I, H).to(x.dtype)
    head = torch.nn.Linear(H, C).to(x.dtype)

    def fused():
        lstm.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        out, _ = lstm(x)
        torch.nn.functional.cross_entropy(head(out.reshape(-1, H)), tgt).backward()

    return composed, fused


def timing(dtype, repeat):
    params = ref.init_lstm_params(I, H, C, dtype=dtype)
    x_np, t_np = ref.lstm_inputs(T, B, I, C, dtype=dtype)
    model = TapegradModel(params, dtype)
    x, targets = tg.tensor(x_np), tg.tensor(t_np.reshape(-1))
    error = check_against_floor(model, params, x_np, t_np, x, targets)
    runners = {"numpy (hand-written BPTT)": lambda: ref.lstm_step(params, x_np, t_np),
               "tapegrad nn.LSTM": lambda: model.step(x, targets)}
    torch_steps = torch_runners(params, x_np, t_np)
    if torch_steps:
        runners["torch composed"], runners["torch fused nn.LSTM"] = torch_steps
    times = {name: [] for name in runners}
    for fn in runners.values():
        fn()                                    # warm-up
    for _ in range(repeat):
        for name, fn in runners.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return error, {name: statistics.median(ts) for name, ts in times.items()}


def peak_mib(fn):
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def memory(steps, dtype):
    """Peak MiB of one training step: floor, tapegrad, tapegrad with checkpointing."""
    params = ref.init_lstm_params(I, H, C, dtype=dtype)
    x_np, t_np = ref.lstm_inputs(steps, B, I, C, dtype=dtype)
    model = TapegradModel(params, dtype)
    x, targets = tg.tensor(x_np), tg.tensor(t_np.reshape(-1))
    cell = nn.LSTMCell(I, H, dtype=dtype)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in model.lstm.state_dict().items()})
    cell_params = [*cell.parameters(), *model.head.parameters()]

    def checkpointed():
        def step(xt, state):
            h, c = cell(xt, state)
            return h, (h, c)
        ys, _ = checkpoint_sequence(step, x, None, segment=math.ceil(math.sqrt(steps)),
                                    params=cell_params)
        loss = F.cross_entropy(model.head(ys.reshape(-1, H)), targets)
        tg.grad(loss, cell_params)

    return (peak_mib(lambda: ref.lstm_step(params, x_np, t_np)),
            peak_mib(lambda: model.step(x, targets)),
            peak_mib(checkpointed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    args = parser.parse_args()
    print(blas_kernel())
    print(f"LSTM training step: B={B} I={I} H={H} T={T}, {C}-class cross-entropy at every "
          f"step; one thread; median of {args.repeat} interleaved runs")
    for dtype in (np.float32, np.float64):
        error, med = timing(dtype, args.repeat)
        floor = med["numpy (hand-written BPTT)"]
        print(f"\n{np.dtype(dtype).name}  (max relative gradient difference tapegrad vs "
              f"hand-written: {error:.1e})")
        for name, seconds in med.items():
            print(f"  {name:28}{seconds * 1e3:9.1f} ms {seconds / floor:7.2f}x")
    if args.memory:
        print("\npeak memory of one step, float32 (tracemalloc, MiB)")
        print(f"  {'T':>6}{'numpy':>10}{'tapegrad':>10}{'ratio':>8}{'checkpointed':>14}"
              f"{'ratio':>8}")
        for steps in (64, 256, 1024):
            floor, tape, ckpt = memory(steps, np.float32)
            print(f"  {steps:6d}{floor:10.1f}{tape:10.1f}{tape / floor:8.2f}{ckpt:14.1f}"
                  f"{ckpt / floor:8.2f}")


if __name__ == "__main__":
    main()
