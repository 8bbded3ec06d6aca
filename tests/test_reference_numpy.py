"""The hand-written NumPy references must be right before they judge tapegrad.

Manual gradients are compared with central finite differences in float64;
the LSTM layout is checked against PyTorch's documented equations (and
against torch itself when it happens to be installed).
"""
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "reference_numpy.py"
_spec = importlib.util.spec_from_file_location("reference_numpy", _PATH)
ref = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("reference_numpy", ref)
_spec.loader.exec_module(ref)

T, B, I, H, C = 4, 3, 5, 6, 7
RTOL = 1e-6


def numeric_grads(loss_fn, params, eps=1e-6):
    """Central differences of ``loss_fn(params)`` w.r.t. every parameter entry."""
    out = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            orig = p[idx]
            p[idx] = orig + eps
            up = loss_fn(params)
            p[idx] = orig - eps
            down = loss_fn(params)
            p[idx] = orig
            g[idx] = (up - down) / (2 * eps)
        out[name] = g
    return out


def assert_grads_close(analytic, numeric):
    assert analytic.keys() == numeric.keys()
    for name in numeric:
        a, n = analytic[name], numeric[name]
        assert a.shape == n.shape, name
        scale = max(np.abs(n).max(), 1e-3)
        err = np.abs(a - n).max() / scale
        assert err < RTOL, f"{name}: relative error {err:.2e}"


@pytest.fixture
def lstm_case():
    params = ref.init_lstm_params(I, H, C, dtype=np.float64, seed=3)
    x, targets = ref.lstm_inputs(T, B, I, C, dtype=np.float64, seed=4)
    return params, x, targets


@pytest.fixture
def elman_case():
    params = ref.init_elman_params(I, H, C, dtype=np.float64, seed=5)
    x, target = ref.elman_inputs(T, I, C, dtype=np.float64, seed=6)
    return params, x, target


def test_lstm_grads_match_finite_differences(lstm_case):
    params, x, targets = lstm_case
    loss, grads = ref.lstm_step(params, x, targets)
    assert np.isfinite(loss) and loss > 0
    numeric = numeric_grads(lambda p: ref.lstm_step(p, x, targets)[0], params)
    assert_grads_close(grads, numeric)


def test_elman_grads_match_finite_differences(elman_case):
    params, x, target = elman_case
    loss, grads = ref.elman_step(params, x, target)
    assert np.isfinite(loss) and loss > 0
    numeric = numeric_grads(lambda p: ref.elman_step(p, x, target)[0], params)
    assert_grads_close(grads, numeric)


def test_checker_catches_a_wrong_gradient(elman_case):
    params, x, target = elman_case
    _, grads = ref.elman_step(params, x, target)
    numeric = numeric_grads(lambda p: ref.elman_step(p, x, target)[0], params)
    grads["weight_hh"] = -grads["weight_hh"]
    with pytest.raises(AssertionError, match="weight_hh"):
        assert_grads_close(grads, numeric)


def _lstm_by_the_book(params, x, targets):
    """LSTM loss written from PyTorch's equations, one named gate matrix at a time."""
    W_ii, W_if, W_ig, W_io = np.split(params["weight_ih"], 4)
    W_hi, W_hf, W_hg, W_ho = np.split(params["weight_hh"], 4)
    b_i, b_f, b_g, b_o = np.split(params["bias_ih"] + params["bias_hh"], 4)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = np.zeros((x.shape[1], W_hi.shape[1]))
    c = np.zeros_like(h)
    losses = []
    for t in range(x.shape[0]):
        i = sig(x[t] @ W_ii.T + h @ W_hi.T + b_i)
        f = sig(x[t] @ W_if.T + h @ W_hf.T + b_f)
        g = np.tanh(x[t] @ W_ig.T + h @ W_hg.T + b_g)
        o = sig(x[t] @ W_io.T + h @ W_ho.T + b_o)
        c = f * c + i * g
        h = o * np.tanh(c)
        logits = h @ params["W_out"].T + params["b_out"]
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        losses.extend(-logp[np.arange(len(h)), targets[t]])
    return np.mean(losses)


def test_lstm_follows_pytorch_equations(lstm_case):
    params, x, targets = lstm_case
    loss, _ = ref.lstm_step(params, x, targets)
    assert loss == pytest.approx(_lstm_by_the_book(params, x, targets), rel=1e-12)


def test_lstm_matches_torch_if_available(lstm_case):
    torch = pytest.importorskip("torch")
    params, x, targets = lstm_case
    lstm = torch.nn.LSTM(I, H).double()
    head = torch.nn.Linear(H, C).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, name + "_l0").copy_(torch.from_numpy(params[name]))
        head.weight.copy_(torch.from_numpy(params["W_out"]))
        head.bias.copy_(torch.from_numpy(params["b_out"]))
    out, _ = lstm(torch.from_numpy(x))
    logits = head(out).reshape(T * B, C)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets).reshape(-1))
    loss.backward()
    ours, grads = ref.lstm_step(params, x, targets)
    assert ours == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grads["weight_hh"], lstm.weight_hh_l0.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(grads["weight_ih"], lstm.weight_ih_l0.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(grads["W_out"], head.weight.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    p = ref.init_lstm_params(I, H, C, dtype=dtype)
    x, y = ref.lstm_inputs(T, B, I, C, dtype=dtype)
    loss, grads = ref.lstm_step(p, x, y)
    assert loss.dtype == dtype
    assert all(g.dtype == dtype for g in grads.values())
    p = ref.init_elman_params(I, H, C, dtype=dtype)
    x, y = ref.elman_inputs(T, I, C, dtype=dtype)
    loss, grads = ref.elman_step(p, x, y)
    assert loss.dtype == dtype
    assert all(g.dtype == dtype for g in grads.values())


def test_mixed_dtypes_are_rejected():
    p = ref.init_lstm_params(I, H, C, dtype=np.float64)
    x, y = ref.lstm_inputs(T, B, I, C, dtype=np.float32)
    with pytest.raises(TypeError, match="cast explicitly"):
        ref.lstm_step(p, x, y)
