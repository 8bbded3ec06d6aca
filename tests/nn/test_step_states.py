"""``return_states=True`` on RNN/LSTM/GRU: the per-step states the recurrence carried, so that
``tapegrad.grad(loss, states)`` is the total dL/dh_t, checked against finite differences of an
independent NumPy forward pass into which a perturbation of h_t (and c_t) is injected."""
import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg

T, B, I, H = 4, 2, 3, 3


def _sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


def _numpy_forward(kind, p, x, bumps):
    """Final loss of a one-layer network, with ``bumps[t]`` (a dict of 'h'/'c' arrays) added to
    the state right after step t: the loss as a function of each carried state."""
    h = numpy.zeros((B, H))
    c = numpy.zeros((B, H))
    outs = []
    for t in range(T):
        gi = x[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"]
        gh = h @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        if kind == "rnn":
            h = numpy.tanh(gi + gh)
        elif kind == "lstm":
            z = gi + gh
            i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
            c = _sigmoid(f) * c + _sigmoid(i) * numpy.tanh(g) + bumps[t].get("c", 0)
            h = _sigmoid(o) * numpy.tanh(c)
        else:
            r = _sigmoid(gi[:, :H] + gh[:, :H])
            u = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = numpy.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (1 - u) * n + u * h
        h = h + bumps[t].get("h", 0)
        outs.append(h)
    return _loss_numpy(numpy.stack(outs), h)


WEIGHTS = numpy.random.default_rng(7).standard_normal((T, B, H))


def _loss_numpy(output, h_n):
    return (WEIGHTS * output).sum() + (h_n ** 2).sum()


def _loss(output, h_n):
    return (tg.tensor(WEIGHTS) * output).sum() + (h_n ** 2).sum()


def _finite_differences(kind, p, x, part, eps=1e-6):
    grads = []
    for t in range(T):
        g = numpy.zeros((B, H))
        for idx in numpy.ndindex(B, H):
            plus, minus = ([{} for _ in range(T)] for _ in range(2))
            for bumps, sign in ((plus, 1), (minus, -1)):
                bumps[t][part] = numpy.zeros((B, H))
                bumps[t][part][idx] = sign * eps
            g[idx] = (_numpy_forward(kind, p, x, plus)
                      - _numpy_forward(kind, p, x, minus)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_grad_of_the_carried_states_is_the_total_dl_dh_t(kind):
    tg.manual_seed(0)
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, dtype=tg.float64)
    x = numpy.random.default_rng(1).standard_normal((T, B, I))
    output, h_n, states = layer(tg.tensor(x), return_states=True)
    if kind == "lstm":
        h_n = h_n[0]
    loss = _loss(output, h_n[0])
    (per_step,) = states
    assert len(per_step) == T
    parts = ("h", "c") if kind == "lstm" else ("h",)
    tensors = [s[k] for s in per_step for k in range(len(parts))] if kind == "lstm" else per_step
    grads = tg.grad(loss, tensors)
    p = {n: q.numpy() for n, q in layer.named_parameters()}
    for k, part in enumerate(parts):
        expected = _finite_differences(kind, p, x, part)
        got = grads[k::len(parts)]
        for t in range(T):
            numpy.testing.assert_allclose(got[t].numpy(), expected[t], rtol=1e-6, atol=1e-8)
    # the total gradient includes the path through later steps: not just the direct WEIGHTS[0]
    assert not numpy.allclose(grads[0].numpy(), WEIGHTS[0])


def test_retain_grad_on_the_states_gives_the_same_gradients():
    tg.manual_seed(0)
    rnn = nn.RNN(I, H, dtype=tg.float64)
    x = tg.tensor(numpy.random.default_rng(1).standard_normal((T, B, I)))
    output, h_n, (states,) = rnn(x, return_states=True)
    expected = tg.grad(_loss(output, h_n[0]), states, retain_graph=True)
    for h in states:
        h.retain_grad()
    _loss(output, h_n[0]).backward()
    for h, g in zip(states, expected):
        numpy.testing.assert_allclose(h.grad.numpy(), g.numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_states_are_indexed_like_h_n_and_in_input_order(cls):
    tg.manual_seed(0)
    layer = cls(I, H, num_layers=2, bidirectional=True, dtype=tg.float64)
    x = tg.tensor(numpy.random.default_rng(1).standard_normal((T, B, I)))
    output, h_n, states = layer(x, return_states=True)
    plain_output, _ = layer(x)
    numpy.testing.assert_array_equal(output.numpy(), plain_output.numpy())
    h = (lambda s: s[0]) if cls is nn.LSTM else (lambda s: s)
    h_n = h_n[0] if cls is nn.LSTM else h_n
    assert len(states) == 4 and all(len(s) == T for s in states)
    for k, per_step in enumerate(states):
        final = per_step[0] if k % 2 else per_step[-1]       # the reverse direction ends at t=0
        numpy.testing.assert_array_equal(h(final).numpy(), h_n[k].numpy())
    for t in range(T):
        top = numpy.concatenate([h(states[2][t]).numpy(), h(states[3][t]).numpy()], axis=1)
        numpy.testing.assert_array_equal(output[t].numpy(), top)


def test_without_the_option_the_result_is_output_and_final_state():
    result = nn.GRU(I, H)(tg.zeros(T, B, I))
    assert len(result) == 2
