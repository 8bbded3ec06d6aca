"""Truncated BPTT: the window schedule, full BPTT when one window covers the sequence,
gradients equal to a hand-built truncated computation, state carried without gradient,
stopping early, class targets, and the error when the carried state is not detached."""
import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sites import next_line_site

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.nn.utils import TruncatedBPTT, detach_state, tbptt_windows

F64 = tg.float64


class _GradRecorder:
    """An 'optimizer' that records each update's gradients and leaves the parameters alone."""

    def __init__(self, params):
        self.params = list(params)
        self.param_groups = [{"params": self.params}]
        self.updates = []

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.updates.append([None if p.grad is None else numpy.array(p.grad.data)
                             for p in self.params])


def _mse(output, target):
    return ((output - target) ** 2).mean()


def _data(rng, steps=12, batch=2):
    x = tg.tensor(rng.standard_normal((steps, batch, 3)))
    y = tg.tensor(rng.standard_normal((steps, batch, 4)))
    return x, y


def _lstm():
    tg.manual_seed(0)
    return nn.LSTM(3, 4, dtype=F64)


# ------------------------------------------------------------------ schedule
def test_windows_of_the_chunked_case_are_disjoint():
    assert [tuple(w) for w in tbptt_windows(10, 4)] == [(0, 0, 4, 4), (4, 4, 8, 8),
                                                        (8, 8, 10, 10)]


def test_windows_with_k1_smaller_than_k2_overlap():
    assert [tuple(w) for w in tbptt_windows(10, 2, 5)] == [
        (0, 0, 2, 0), (0, 2, 4, 1), (1, 4, 6, 3), (3, 6, 8, 5), (5, 8, 10, 10)]


@given(st.integers(1, 40), st.integers(1, 10), st.integers(0, 10))
def test_window_properties(steps, k1, extra):
    k2 = k1 + extra
    windows = tbptt_windows(steps, k1, k2)
    assert [w.loss_start for w in windows] == [0] + [w.stop for w in windows[:-1]]
    assert windows[-1].stop == steps
    for w, nxt in zip(windows, windows[1:] + [None]):
        assert w.start <= w.loss_start < w.stop and w.stop - w.loss_start <= k1
        assert w.loss_start - w.start == min(k2 - k1, w.loss_start)    # k2 - k1 of context
        assert w.stop - w.start <= k2
        assert w.carry == (nxt.start if nxt else w.stop) and w.start <= w.carry <= w.stop


@pytest.mark.parametrize("steps,k1,k2", [(0, 1, 1), (5, 0, 1), (5, 3, 2), (5, 2.0, 3)])
def test_bad_schedule_arguments_raise(steps, k1, k2):
    with pytest.raises(tg.OpError, match="TBPTT"):
        tbptt_windows(steps, k1, k2)


# --------------------------------------------------------------- gradients
def test_one_window_over_the_whole_sequence_is_full_bptt(rng):
    model = _lstm()
    x, y = _data(rng)
    params = list(model.parameters())
    out, _ = model(x)
    expected = tg.grad(_mse(out, y), params)
    rec = _GradRecorder(params)
    result = TruncatedBPTT(model, _mse, rec, k1=12).run(x, y)
    assert len(rec.updates) == len(result.losses) == 1
    for g, e in zip(rec.updates[0], expected):
        numpy.testing.assert_array_equal(g, e.data)


def _hand_built_window_grads(model, x, y, h0, start, loss_start, stop):
    """Gradients of one truncated window, built directly: the state at ``start`` is computed
    without recording, then steps [start, stop) with recording, loss on [loss_start, stop)."""
    state = h0
    if start > 0:
        with tg.no_grad():
            _, state = model(x[:start], h0)
    out, _ = model(x[start:stop], state)
    loss = _mse(out[loss_start - start:], y[loss_start:stop])
    return [g.data for g in tg.grad(loss, list(model.parameters()))]


@pytest.mark.parametrize("k1,k2", [(4, 4), (3, 5), (2, 7), (5, 12)])
def test_gradients_equal_a_hand_built_truncated_computation(k1, k2, rng):
    model = _lstm()
    x, y = _data(rng)
    rec = _GradRecorder(model.parameters())
    result = TruncatedBPTT(model, _mse, rec, k1=k1, k2=k2).run(x, y)
    windows = tbptt_windows(12, k1, k2)
    assert len(rec.updates) == len(result.losses) == len(windows)
    for got, w in zip(rec.updates, windows):
        expected = _hand_built_window_grads(model, x, y, None, w.start, w.loss_start, w.stop)
        for g, e in zip(got, expected):
            numpy.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def test_truncated_gradients_differ_from_full_bptt(rng):
    model = _lstm()
    x, y = _data(rng)
    rec = _GradRecorder(model.parameters())
    TruncatedBPTT(model, _mse, rec, k1=3).run(x, y)
    out, _ = model(x[:6])
    full = tg.grad(_mse(out[3:], y[3:6]), list(model.parameters()))
    assert not numpy.allclose(rec.updates[1][1], full[1].data)


def test_state_values_continue_across_windows(rng):
    model = _lstm()
    x, y = _data(rng)
    result = TruncatedBPTT(model, _mse, _GradRecorder(model.parameters()), k1=3, k2=5).run(x, y)
    with tg.no_grad():
        _, (h, c) = model(x)
    numpy.testing.assert_allclose(result.state[0].data, h.data, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(result.state[1].data, c.data, rtol=1e-12, atol=1e-14)
    assert all(s.is_leaf and not s.requires_grad for s in result.state)


class _Spy(nn.Module):
    """Wraps a model; remembers whether each call's incoming state carries a graph."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.incoming = []

    def forward(self, x, state):
        self.incoming.append(state)
        return self.model(x, state)


def test_no_gradient_crosses_the_cut(rng):
    model = _lstm()
    x, y = _data(rng)
    h0 = (tg.tensor(rng.standard_normal((1, 2, 4)), requires_grad=True),
          tg.tensor(rng.standard_normal((1, 2, 4)), requires_grad=True))
    spy = _Spy(model)
    rec = _GradRecorder(model.parameters())
    TruncatedBPTT(spy, _mse, rec, k1=4).run(x, y, h0)
    assert spy.incoming[0] is h0
    for state in spy.incoming[1:]:
        assert all(s.is_leaf and not s.requires_grad for s in state)
    # h0 gets exactly the gradient of the first window's loss, nothing from later ones
    out, _ = model(x[:4], h0)
    expected = tg.grad(_mse(out, y[:4]), list(h0))
    for s, e in zip(h0, expected):
        numpy.testing.assert_allclose(s.grad.data, e.data, rtol=1e-12, atol=1e-14)


def test_a_learned_initial_state_gets_gradients_from_every_window_that_starts_at_zero(rng):
    model = _lstm()
    x, y = _data(rng)
    h0 = (tg.tensor(numpy.zeros((1, 2, 4)), requires_grad=True),
          tg.tensor(numpy.zeros((1, 2, 4)), requires_grad=True))
    rec = _GradRecorder(model.parameters())
    TruncatedBPTT(model, _mse, rec, k1=2, k2=5).run(x, y, h0)      # windows 1, 2 start at 0
    expected = [numpy.zeros((1, 2, 4))] * 2
    for stop, loss_start in ((2, 0), (4, 2)):
        out, _ = model(x[:stop], h0)
        grads = tg.grad(_mse(out[loss_start:], y[loss_start:stop]), list(h0))
        expected = [e + g.data for e, g in zip(expected, grads)]
    for s, e in zip(h0, expected):
        numpy.testing.assert_allclose(s.grad.data, e, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- training
def test_training_with_an_optimizer_reduces_the_loss_and_streams(rng):
    tg.manual_seed(0)
    model = nn.GRU(1, 8, dtype=F64)
    head = nn.Linear(8, 1, dtype=F64)

    def seq_model(x, state):
        out, state = model(x, state)
        return head(out), state

    params = list(model.parameters()) + list(head.parameters())
    t = numpy.arange(200) * 0.3
    x = tg.tensor(numpy.sin(t)[:, None, None])
    y = tg.tensor(numpy.sin(t + 0.3)[:, None, None])
    runner = TruncatedBPTT(seq_model, _mse, nn.optim.Adam(params, lr=0.02), k1=10, k2=20,
                           clip_grad_norm=1.0)
    first, state = runner.run(x[:100], y[:100])
    for _ in range(4):
        later, state = runner.run(x[100:], y[100:], state)
    assert numpy.mean(later) < 0.2 * numpy.mean(first[:3])
    assert len(first) == 10


def test_batch_first_models_use_time_dim_1(rng):
    tg.manual_seed(0)
    model = nn.RNN(3, 4, batch_first=True, dtype=F64)
    x = tg.tensor(rng.standard_normal((2, 9, 3)))
    y = tg.tensor(rng.standard_normal((2, 9, 4)))
    rec = _GradRecorder(model.parameters())
    result = TruncatedBPTT(model, _mse, rec, k1=9, time_dim=1).run(x, y)
    out, _ = model(x)
    expected = tg.grad(_mse(out, y), list(model.parameters()))
    for g, e in zip(rec.updates[0], expected):
        numpy.testing.assert_array_equal(g, e.data)
    assert result.state.shape == (1, 2, 4)


def test_mismatched_lengths_raise(rng):
    model = _lstm()
    x, y = _data(rng)
    with pytest.raises(tg.OpError, match="12 steps.*targets 5"):
        TruncatedBPTT(model, _mse, _GradRecorder(model.parameters()), k1=3).run(x, y[:5])


def test_bad_k_in_the_runner_raises_at_construction():
    with pytest.raises(tg.OpError, match="k1 <= k2"):
        TruncatedBPTT(None, _mse, None, k1=5, k2=3)


def test_detach_state_walks_tuples_and_keeps_none():
    h = tg.tensor([1.0], requires_grad=True) * 2
    out = detach_state((h, [h, None]))
    assert out[0].is_leaf and out[1][0].is_leaf and out[1][1] is None
    assert isinstance(out[1], list) and detach_state(None) is None


# ------------------------------------------------------ stopping early, class targets
def test_updates_yields_each_update_and_stopping_early_leaves_the_rest_undone(rng):
    model = _lstm()
    x, y = _data(rng)
    rec = _GradRecorder(model.parameters())
    runner = TruncatedBPTT(model, _mse, rec, k1=3)
    seen = []
    for update in runner.updates(x, y):
        seen.append(update)
        if update.index == 1:
            break
    assert [u.index for u in seen] == [0, 1] and len(rec.updates) == 2
    assert [tuple(u.window) for u in seen] == [tuple(w) for w in tbptt_windows(12, 3)[:2]]
    with tg.no_grad():
        _, (h, _) = model(x[:6])
    numpy.testing.assert_allclose(seen[1].state[0].data, h.data, rtol=1e-12, atol=1e-14)
    assert seen[1].grad_norm is None and all(s.is_leaf for s in seen[1].state)
    # the yielded state continues the stream: the rest gives the updates run() would have
    rest = TruncatedBPTT(model, _mse, rec, k1=3).run(x[6:], y[6:], seen[1].state)
    assert len(rest.losses) == 2 and len(rec.updates) == 4


def test_updates_reports_the_gradient_norm_before_clipping(rng):
    model = _lstm()
    x, y = _data(rng)
    rec = _GradRecorder(model.parameters())
    update = next(TruncatedBPTT(model, _mse, rec, k1=4, clip_grad_norm=1e-3).updates(x, y))
    out, _ = model(x[:4])
    grads = tg.grad(_mse(out, y[:4]), list(model.parameters()))
    norm = numpy.sqrt(sum((g.data ** 2).sum() for g in grads))
    assert update.grad_norm == pytest.approx(norm, rel=1e-12)
    clipped = numpy.sqrt(sum((g ** 2).sum() for g in rec.updates[0]))
    assert clipped == pytest.approx(1e-3, rel=1e-4)


def test_cross_entropy_takes_sequence_logits_and_class_targets_directly(rng):
    tg.manual_seed(0)
    rnn, head = nn.RNN(3, 5, dtype=F64), nn.Linear(5, 7, dtype=F64)

    def model(x, state):
        out, state = rnn(x, state)
        return head(out), state                            # logits (T, B, 7)

    params = list(rnn.parameters()) + list(head.parameters())
    x = tg.tensor(rng.standard_normal((8, 2, 3)))
    y = tg.tensor(rng.integers(0, 7, (8, 2)))              # class ids (T, B)
    rec = _GradRecorder(params)
    result = TruncatedBPTT(model, nn.CrossEntropyLoss(), rec, k1=8).run(x, y)
    logits, _ = model(x, None)
    loss = nn.functional.cross_entropy(logits.reshape(-1, 7), y.reshape(-1))
    assert result.losses[0] == pytest.approx(loss.item(), rel=1e-12)
    for g, e in zip(rec.updates[0], tg.grad(loss, params)):
        numpy.testing.assert_allclose(g, e.data, rtol=1e-12, atol=1e-14)


# ------------------------------------------ forgetting to detach: the error says so
def test_a_state_carried_without_detach_names_the_fix_and_the_users_line(rng):
    model = _lstm()
    x, y = _data(rng)
    out, state = model(x[:4])
    _mse(out, y[:4]).backward()
    out, state = model(x[4:8], state)                      # state not detached
    with pytest.raises(tg.BackwardError) as info:
        site = next_line_site()
        _mse(out, y[4:8]).backward()
    message = str(info.value)
    assert f"backward at {site}" in message and "earlier graph" in message
    assert "detach_state" in message and "h.detach()" in message


def test_backward_twice_through_the_same_graph_still_suggests_retain_graph(rng):
    model = _lstm()
    x, y = _data(rng)
    out, _ = model(x[:4])
    loss = _mse(out, y[:4])
    loss.backward()
    with pytest.raises(tg.BackwardError, match="a second time.*retain_graph=True") as info:
        loss.backward()
    assert "detach" not in str(info.value)
