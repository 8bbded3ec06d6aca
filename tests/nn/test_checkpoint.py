"""Gradient checkpointing: gradients identical to the plain run (float64), one tape record
per checkpointed call, replayed dropout, nested arguments/outputs, and every error."""
import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.nn.utils import checkpoint, checkpoint_sequence

F64 = tg.float64
T = 50


def _lstm_step(cell):
    def step(x, state):
        h, c = cell(x, state)
        return h, (h, c)
    return step


def _rnn_step(cell):
    def step(x, h):
        h = cell(x, h)
        return h, h
    return step


def _plain_sequence(step, xs, state):
    ys = []
    for t in range(len(xs)):
        y, state = step(xs[t], state)
        ys.append(y)
    return tg.stack(ys), state


def _loss(ys, state):
    parts = state if isinstance(state, tuple) else (state,)
    total = (tg.sin(ys) * ys).sum()
    for s in parts:
        total = total + (s * s).sum()
    return total


def _setup(kind, randn):
    tg.manual_seed(0)
    if kind == "lstm":
        cell = nn.LSTMCell(3, 4, dtype=F64)
        state = (randn(2, 4, requires_grad=True), randn(2, 4, requires_grad=True))
        step = _lstm_step(cell)
    else:
        cell = nn.RNNCell(3, 4, dtype=F64)
        state = randn(2, 4, requires_grad=True)
        step = _rnn_step(cell)
    xs = randn(T, 2, 3, requires_grad=True)
    leaves = list(cell.parameters()) + [xs] + list(state if isinstance(state, tuple) else [state])
    return cell, step, xs, state, leaves


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_checkpointed_sequence_gradients_equal_plain_bptt(kind, randn):
    cell, step, xs, state, leaves = _setup(kind, randn)
    ys, final = _plain_sequence(step, xs, state)
    expected = tg.grad(_loss(ys, final), leaves)
    ys_c, final_c = checkpoint_sequence(step, xs, state, segment=7, params=cell.parameters())
    numpy.testing.assert_array_equal(ys_c.data, ys.data)
    got = tg.grad(_loss(ys_c, final_c), leaves)
    for g, e in zip(got, expected):
        numpy.testing.assert_allclose(g.data, e.data, rtol=1e-12, atol=1e-12)


def test_the_tape_holds_one_record_per_segment_instead_of_one_per_operation(randn):
    cell, step, xs, state, _ = _setup("lstm", randn)
    xs = xs.detach()                                   # no slicing records for the inputs
    with tg.Tape() as plain:
        _plain_sequence(step, xs, state)
    with tg.Tape() as ckpt:
        ys, _ = checkpoint_sequence(step, xs, state, segment=7, params=cell.parameters())
    segments = -(-T // 7)
    ops = [r.op.name for r in ckpt]
    assert ops.count("checkpoint") == segments and len(ops) == segments + 1   # + one cat
    assert len(plain) > 10 * T


def test_backward_fills_grad_like_the_plain_run(randn):
    cell, step, xs, state, leaves = _setup("rnn", randn)
    _loss(*_plain_sequence(step, xs, state)).backward()
    expected = [numpy.array(p.grad.data) for p in leaves]
    for p in leaves:
        p.grad = None
    _loss(*checkpoint_sequence(step, list(xs), state, segment=4,
                               params=cell.parameters())).backward()
    for p, e in zip(leaves, expected):
        numpy.testing.assert_allclose(p.grad.data, e, rtol=1e-12, atol=1e-12)


def test_default_segment_is_the_square_root_of_the_length(randn):
    cell, step, xs, state, _ = _setup("rnn", randn)
    with tg.Tape() as tape:
        checkpoint_sequence(step, xs.detach(), state, params=cell.parameters())
    assert [r.op.name for r in tape].count("checkpoint") == 7          # ceil(50 / ceil(sqrt 50))


def test_a_module_as_fn_brings_its_parameters_and_nested_outputs(randn):
    tg.manual_seed(1)
    lstm = nn.LSTM(3, 5, num_layers=2, dtype=F64)
    x = randn(6, 2, 3, requires_grad=True)
    h0 = (randn(2, 2, 5, requires_grad=True), randn(2, 2, 5, requires_grad=True))
    leaves = list(lstm.parameters()) + [x, *h0]
    out, (h, c) = lstm(x, h0)
    expected = tg.grad((out ** 2).sum() + (h * c).sum(), leaves)
    out_c, (h_c, c_c) = checkpoint(lstm, x, h0)
    got = tg.grad((out_c ** 2).sum() + (h_c * c_c).sum(), leaves)
    for g, e in zip(got, expected):
        numpy.testing.assert_allclose(g.data, e.data, rtol=1e-12, atol=1e-12)


def test_a_bound_method_brings_its_module_parameters(randn):
    lin = nn.Linear(3, 2, dtype=F64)
    x = randn(4, 3)
    (g_plain,) = tg.grad(lin.forward(x).sum(), [lin.weight])
    (g_ckpt,) = tg.grad(checkpoint(lin.forward, x).sum(), [lin.weight])
    numpy.testing.assert_array_equal(g_ckpt.data, g_plain.data)


def test_unused_inputs_get_zero_and_frozen_parameters_none(randn):
    a, b = randn(3, requires_grad=True), randn(3, requires_grad=True)
    frozen = randn(3)
    out = checkpoint(lambda x, y: x * 2.0, a, b, params=[frozen])
    ga, gb = tg.grad(out.sum(), [a, b])
    numpy.testing.assert_array_equal(ga.data, [2.0, 2.0, 2.0])
    numpy.testing.assert_array_equal(gb.data, [0.0, 0.0, 0.0])


def test_dropout_from_the_default_generator_is_replayed(randn):
    lin = nn.Linear(4, 4, dtype=F64)
    drop = nn.Dropout(0.5)

    def fn(x):
        return drop(tg.tanh(lin(x)))

    x = randn(3, 4, requires_grad=True)
    tg.manual_seed(7)
    plain = fn(x)
    expected = tg.grad((plain ** 2).sum(), [x, lin.weight])
    tg.manual_seed(7)
    ckpt = checkpoint(fn, x, params=lin.parameters())
    tg.randn(5)                           # the generator moves on before backward
    got = tg.grad((ckpt ** 2).sum(), [x, lin.weight])
    numpy.testing.assert_array_equal(ckpt.data, plain.data)
    for g, e in zip(got, expected):
        numpy.testing.assert_allclose(g.data, e.data, rtol=1e-12, atol=1e-12)


def test_no_tensor_inputs_just_calls_fn():
    assert checkpoint(lambda a: a + 1, 2) == 3


def test_no_grad_mode_records_nothing(randn):
    w = randn(3, requires_grad=True)
    with tg.no_grad():
        out = checkpoint(lambda x: x * w, randn(3), params=[w])
    assert out.grad_fn is None and not out.requires_grad


# -------------------------------------------------------------------- errors
def test_a_tensor_missing_from_params_raises_at_backward(randn):
    w = randn(3, requires_grad=True)
    w.name = "hidden_weight"
    x = randn(3, requires_grad=True)
    out = checkpoint(lambda v: v * w, x)
    with pytest.raises(tg.BackwardError, match="'hidden_weight'.*params"):
        out.sum().backward()


def test_a_parameter_changed_before_backward_raises(randn):
    lin = nn.Linear(3, 2, dtype=F64)
    out = checkpoint(lin, randn(4, 3))
    opt = nn.optim.SGD(lin.parameters(), lr=0.1)
    lin(randn(4, 3)).sum().backward()
    opt.step()
    with pytest.raises(tg.BackwardError, match="modified in place"):
        out.sum().backward()


def test_higher_order_gradients_raise(randn):
    x = randn(3, requires_grad=True)
    out = checkpoint(lambda v: (v ** 3).sum(), x)
    with pytest.raises(tg.BackwardError, match="create_graph"):
        tg.grad(out, [x], create_graph=True)


def test_fn_returning_no_tensor_raises(randn):
    with pytest.raises(tg.OpError, match="no tensor"):
        checkpoint(lambda v: None, randn(2, requires_grad=True))


@pytest.mark.parametrize("segment,xs,match", [(0, [1.0], "segment"), (None, [], "empty")])
def test_bad_sequence_arguments_raise(segment, xs, match):
    with pytest.raises(tg.OpError, match=match):
        checkpoint_sequence(lambda x, s: (x, s), xs, None, segment=segment)


def test_gradcheck_passes_through_a_checkpoint(randn):
    w = randn(3, 3, requires_grad=True)
    x = randn(2, 3, requires_grad=True)

    def f(x, w):
        return checkpoint(lambda v: tg.tanh(v @ w) * v, x, params=[w])

    assert tg.gradcheck(f, (x, w))


def test_an_outside_intermediate_missing_from_the_arguments_raises(randn):
    w = randn(3, requires_grad=True)
    scaled = w * 2.0                                  # recorded outside the checkpoint
    out = checkpoint(lambda v: tg.sin(v) * scaled, randn(3, requires_grad=True))
    with pytest.raises(tg.BackwardError, match="neither an argument nor in params"):
        out.sum().backward()
