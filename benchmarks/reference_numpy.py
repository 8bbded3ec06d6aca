"""Hand-written NumPy recurrent nets with manual backprop-through-time.

These are the speed floor for tapegrad's benchmarks and the ground truth
for its gradients: what a careful engineer writes without any autograd.

* ``lstm_step``  - LSTM (PyTorch layout, gates i, f, g, o) + linear head on
  every step + mean cross-entropy over all T*B positions.
* ``elman_step`` - tanh Elman RNN, many-to-one, squared-error loss.

Everything is computed in the dtype of ``x`` (float32 or float64); parameters
of another dtype are rejected rather than silently upcast.

Run ``python benchmarks/reference_numpy.py`` for a quick timing.
"""
from __future__ import annotations

import time

import numpy as np

LSTM_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out")
ELMAN_KEYS = LSTM_KEYS


# ----------------------------------------------------------------- helpers --

def _sigmoid(z):
    # tanh form: never overflows and keeps the input dtype.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _check_dtypes(params, x, keys):
    dtype = x.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be float32 or float64, got {dtype}")
    for k in keys:
        if params[k].dtype != dtype:
            raise TypeError(f"params[{k!r}] is {params[k].dtype}, x is {dtype}: cast explicitly")
    return dtype


def _project(params, x):
    """The input projection of all steps in one product: (x as (T*B, I), x W_ih^T + biases)."""
    T, B, I = x.shape
    x2 = x.reshape(T * B, I)
    xproj = x2 @ params["weight_ih"].T + (params["bias_ih"] + params["bias_hh"])
    return x2, xproj.reshape(T, B, -1)


def _recurrent_grads(grads, dz_all, x2, hs):
    """Weight and bias gradients of the recurrence from all steps' pre-activation gradients.

    One product over all steps each: ``dz_all`` (T, B, G*H), ``hs[t]`` the state before step t.
    """
    dz2 = dz_all.reshape(x2.shape[0], -1)
    db = dz2.sum(axis=0)
    grads["weight_ih"] = dz2.T @ x2
    grads["weight_hh"] = dz2.T @ hs[:-1].reshape(x2.shape[0], -1)
    grads["bias_ih"] = db
    grads["bias_hh"] = db.copy()


def _uniform(rng, shape, bound, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def init_lstm_params(input_size, hidden_size, num_classes, *, dtype=np.float32, seed=0):
    """LSTM + head parameters, U(-1/sqrt(H), 1/sqrt(H)) like PyTorch's default."""
    rng = np.random.default_rng(seed)
    H, I, C = hidden_size, input_size, num_classes
    k = 1.0 / np.sqrt(H)
    return {
        "weight_ih": _uniform(rng, (4 * H, I), k, dtype),
        "weight_hh": _uniform(rng, (4 * H, H), k, dtype),
        "bias_ih": _uniform(rng, (4 * H,), k, dtype),
        "bias_hh": _uniform(rng, (4 * H,), k, dtype),
        "W_out": _uniform(rng, (C, H), k, dtype),
        "b_out": _uniform(rng, (C,), k, dtype),
    }


def init_elman_params(input_size, hidden_size, output_size, *, dtype=np.float32, seed=0):
    """Elman RNN + head parameters, U(-1/sqrt(H), 1/sqrt(H))."""
    rng = np.random.default_rng(seed)
    H, I, C = hidden_size, input_size, output_size
    k = 1.0 / np.sqrt(H)
    return {
        "weight_ih": _uniform(rng, (H, I), k, dtype),
        "weight_hh": _uniform(rng, (H, H), k, dtype),
        "bias_ih": _uniform(rng, (H,), k, dtype),
        "bias_hh": _uniform(rng, (H,), k, dtype),
        "W_out": _uniform(rng, (C, H), k, dtype),
        "b_out": _uniform(rng, (C,), k, dtype),
    }


def lstm_inputs(seq_len, batch, input_size, num_classes, *, dtype=np.float32, seed=1):
    """Random inputs ``x`` (T, B, I) and integer targets (T, B) for ``lstm_step``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((seq_len, batch, input_size)).astype(dtype)
    targets = rng.integers(0, num_classes, size=(seq_len, batch))
    return x, targets


def elman_inputs(seq_len, input_size, output_size, *, dtype=np.float32, seed=1):
    """Random input ``x`` (T, 1, I) and target (1, C) for ``elman_step``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((seq_len, 1, input_size)).astype(dtype)
    target = rng.standard_normal((1, output_size)).astype(dtype)
    return x, target


# -------------------------------------------------------------------- LSTM --

def lstm_step(params, x, targets):
    """Forward and manual backward of LSTM + per-step head + mean cross-entropy.

    ``x`` is (T, B, I); ``targets`` holds class indices, shape (T, B).
    Initial h and c are zero. Returns ``(loss, grads)`` where ``grads`` has the
    same keys and shapes as ``params``.
    """
    dtype = _check_dtypes(params, x, LSTM_KEYS)
    W_hh = params["weight_hh"]
    W_out, b_out = params["W_out"], params["b_out"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    N = T * B

    # Forward. Input projection for all steps in one matmul.
    x2, xproj = _project(params, x)

    hs = np.zeros((T + 1, B, H), dtype)   # hs[t + 1] is h after step t; hs[0] = 0
    cs = np.zeros((T + 1, B, H), dtype)
    acts = np.empty((T, B, 4 * H), dtype)  # activated gates i, f, g, o
    tanh_c = np.empty((T, B, H), dtype)
    for t in range(T):
        z = xproj[t] + hs[t] @ W_hh.T
        a = acts[t]
        a[:, :2 * H] = _sigmoid(z[:, :2 * H])
        a[:, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])
        a[:, 3 * H:] = _sigmoid(z[:, 3 * H:])
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        cs[t + 1] = f * cs[t] + i * g
        tanh_c[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tanh_c[t]

    # Head on all steps at once; mean cross-entropy.
    h_all = hs[1:].reshape(N, H)
    logits = h_all @ W_out.T + b_out
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    rows = np.arange(N)
    tgt = np.asarray(targets).reshape(N)
    loss = np.mean(np.log(sum_exp[:, 0]) - shifted[rows, tgt])

    # Backward through the head.
    dlogits = exp / sum_exp
    dlogits[rows, tgt] -= 1
    dlogits /= N
    grads = {
        "W_out": dlogits.T @ h_all,
        "b_out": dlogits.sum(axis=0),
    }
    dh_all = (dlogits @ W_out).reshape(T, B, H)

    # Backprop through time.
    dz_all = np.empty((T, B, 4 * H), dtype)
    dh_next = np.zeros((B, H), dtype)
    dc_next = np.zeros((B, H), dtype)
    for t in reversed(range(T)):
        a = acts[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        tc = tanh_c[t]
        dh = dh_all[t] + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        dz = dz_all[t]
        dz[:, :H] = dc * g * i * (1 - i)                  # input gate
        dz[:, H:2 * H] = dc * cs[t] * f * (1 - f)         # forget gate
        dz[:, 2 * H:3 * H] = dc * i * (1 - g * g)         # cell candidate
        dz[:, 3 * H:] = dh * tc * o * (1 - o)             # output gate
        dc_next = dc * f
        dh_next = dz @ W_hh

    _recurrent_grads(grads, dz_all, x2, hs)
    return loss, grads


# ------------------------------------------------------------------- Elman --

def elman_step(params, x, target):
    """Forward and manual backward of a tanh Elman RNN read out at the last step.

    ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, ``h_0 = 0``;
    ``loss = 0.5 * ||W_out h_T + b_out - target||^2``. ``x`` is (T, 1, I),
    ``target`` is (1, C) or (C,). Returns ``(loss, grads)``.
    """
    dtype = _check_dtypes(params, x, ELMAN_KEYS)
    W_hh = params["weight_hh"]
    W_out, b_out = params["W_out"], params["b_out"]
    T, B, _ = x.shape
    H = W_hh.shape[1]

    x2, xproj = _project(params, x)
    hs = np.zeros((T + 1, B, H), dtype)
    for t in range(T):
        hs[t + 1] = np.tanh(xproj[t] + hs[t] @ W_hh.T)

    y = hs[T] @ W_out.T + b_out
    diff = y - np.asarray(target, dtype=dtype).reshape(y.shape)
    loss = 0.5 * np.sum(diff * diff)

    grads = {"W_out": diff.T @ hs[T], "b_out": diff.sum(axis=0)}
    dz_all = np.empty((T, B, H), dtype)
    dh = diff @ W_out
    for t in reversed(range(T)):
        h = hs[t + 1]
        dz_all[t] = dh * (1 - h * h)
        dh = dz_all[t] @ W_hh

    _recurrent_grads(grads, dz_all, x2, hs)
    return loss, grads


# ------------------------------------------------------------------ timing --

def _time(fn, *args, repeat=5):
    fn(*args)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    T, B, I, H, C = 32, 16, 32, 64, 10
    p = init_lstm_params(I, H, C)
    x, y = lstm_inputs(T, B, I, C)
    print(f"lstm_step  T={T} B={B} I={I} H={H} C={C} float32: "
          f"{_time(lstm_step, p, x, y) * 1e3:.2f} ms")
    T, I, H, C = 64, 8, 32, 1
    p = init_elman_params(I, H, C)
    x, y = elman_inputs(T, I, C)
    print(f"elman_step T={T} B=1 I={I} H={H} C={C} float32: "
          f"{_time(elman_step, p, x, y) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
