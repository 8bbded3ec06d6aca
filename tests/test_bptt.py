"""An Elman RNN from raw primitives: the tape's gradients equal hand-derived BPTT.

    a_t = W_hh h_{t-1} + W_xh x_t + b,   h_t = tanh(a_t),   L = sum_t 0.5 ||h_t - y_t||^2

Backpropagation through time, by hand:

    dL/dh_t = (h_t - y_t) + W_hh^T delta_{t+1}        (the second term is 0 at t = T)
    delta_t = dL/dh_t * (1 - h_t^2)
    dL/dW_hh = sum_t delta_t h_{t-1}^T,   dL/dW_xh = sum_t delta_t x_t^T,   dL/db = sum_t delta_t
    dL/dx_t = W_xh^T delta_t,             dL/dh_0 = W_hh^T delta_1
"""
import numpy
import pytest

import tapegrad as tg

T, N_IN, N_HID = 12, 3, 5
TOL = dict(rtol=1e-12, atol=1e-12)


def problem(seed):
    rng = numpy.random.default_rng(seed)
    return {
        "W_hh": rng.standard_normal((N_HID, N_HID)) * 0.6,
        "W_xh": rng.standard_normal((N_HID, N_IN)) * 0.8,
        "b": rng.standard_normal(N_HID) * 0.3,
        "h0": rng.standard_normal(N_HID) * 0.5,
        "xs": rng.standard_normal((T, N_IN)),
        "ys": rng.standard_normal((T, N_HID)) * 0.5,
    }


def elman_loss(W_hh, W_xh, b, h0, xs, ys):
    """The forward pass as a user writes it: primitives in a Python loop."""
    h = h0
    loss = 0.0
    for t in range(T):
        with tg.scope("elman", step=t):
            h = tg.tanh(W_hh @ h + W_xh @ xs[t] + b)
            err = h - ys[t]
            loss = loss + 0.5 * (err * err).sum()
    return loss


def hand_bptt(p):
    """The gradients of elman_loss by the formulas in the module docstring, in NumPy."""
    W_hh, W_xh, b, h0, xs, ys = (p[k] for k in ("W_hh", "W_xh", "b", "h0", "xs", "ys"))
    hs = [h0]
    for t in range(T):
        hs.append(numpy.tanh(W_hh @ hs[-1] + W_xh @ xs[t] + b))
    grads = {"W_hh": numpy.zeros_like(W_hh), "W_xh": numpy.zeros_like(W_xh),
             "b": numpy.zeros_like(b), "xs": numpy.zeros_like(xs)}
    delta_next = numpy.zeros(N_HID)
    for t in range(T, 0, -1):                   # hs[t] is h_t; xs[t - 1] is x_t
        dh = (hs[t] - ys[t - 1]) + W_hh.T @ delta_next
        delta = dh * (1.0 - hs[t] ** 2)
        grads["W_hh"] += numpy.outer(delta, hs[t - 1])
        grads["W_xh"] += numpy.outer(delta, xs[t - 1])
        grads["b"] += delta
        grads["xs"][t - 1] = W_xh.T @ delta
        delta_next = delta
    grads["h0"] = W_hh.T @ delta_next
    return grads


def leaves(p):
    return {k: tg.tensor(v, requires_grad=k != "ys") for k, v in p.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_equals_hand_derived_bptt(seed):
    p = problem(seed)
    t = leaves(p)
    elman_loss(**t).backward()
    expected = hand_bptt(p)
    for name in ("W_hh", "W_xh", "b", "h0", "xs"):
        numpy.testing.assert_allclose(t[name].grad.numpy(), expected[name], **TOL,
                                      err_msg=name)


def test_tape_gradient_equals_hand_derived_bptt():
    p = problem(3)
    t = leaves(p)
    names = ["W_hh", "W_xh", "b", "h0", "xs"]
    with tg.Tape() as tape:
        loss = elman_loss(**t)
    grads = tape.gradient(loss, [t[n] for n in names])
    expected = hand_bptt(p)
    for name, g in zip(names, grads):
        numpy.testing.assert_allclose(g.numpy(), expected[name], **TOL, err_msg=name)


def test_the_shared_weight_gets_one_contribution_per_time_step_summing_to_its_gradient():
    p = problem(4)
    t = leaves(p)
    elman_loss(**t).backward(keep_contributions=True)
    uses = tg.contributions(t["W_hh"])
    assert sorted(c.step for c in uses) == list(range(T))
    assert all(c.op == "matmul" and c.scope == f"elman[t={c.step}]" for c in uses)
    numpy.testing.assert_allclose(sum(c.value for c in uses), t["W_hh"].grad.numpy(), **TOL)


def test_the_unrolled_tape_repeats_the_cell_in_execution_order():
    t = leaves(problem(5))
    with tg.Tape() as tape:
        elman_loss(**t)
    steps = [r.step for r in tape]
    assert steps == sorted(steps) and set(steps) == set(range(T))
    per_step = [[r.op.name for r in tape if r.step == s] for s in range(T)]
    assert all(ops == per_step[1] for ops in per_step[1:])
    assert per_step[1].count("matmul") == 2 and per_step[1].count("tanh") == 1
