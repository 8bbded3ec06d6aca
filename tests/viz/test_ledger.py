"""Per-use gradient terms of shared weights: the engine's ledger and the drawing's.

No Graphviz needed: nothing is rendered.
"""
import numpy
import pytest
from hypothesis import given, strategies as st

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.viz import DrawError, draw
from tapegrad.viz.gradients import signed_share


def finite_difference(f, arrays, name, eps=1e-6):
    """Central differences of ``f(arrays)`` with respect to ``arrays[name]`` (float64)."""
    base = arrays[name]
    grad = numpy.zeros_like(base)
    for i in numpy.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(dict(arrays, **{name: plus})) - f(dict(arrays, **{name: minus}))) / (2 * eps)
    return grad


def test_three_steps_give_three_terms_that_sum_to_grad_and_finite_differences(elman):
    net = elman(steps=3)
    w = net.params["W_hh"]
    net.loss.backward(keep_contributions=True)
    terms = tg.contributions(w)
    assert [c.step for c in terms] == [1, 2, 3]
    assert all(c.op == "matmul" for c in terms)
    total = sum(c.value for c in terms)
    numpy.testing.assert_allclose(total, w.grad.data, rtol=1e-12, atol=1e-15)
    arrays = {k: p.data.copy() for k, p in net.params.items()}
    fd = finite_difference(net.numpy_loss, arrays, "W_hh")
    numpy.testing.assert_allclose(total, fd, rtol=1e-6, atol=1e-8)


def test_signed_shares_sum_to_one(elman):
    net = elman(steps=3, zero_h0=False)
    w = net.params["W_hh"]
    net.loss.backward(keep_contributions=True)
    shares = [signed_share(c.value, w.grad.data) for c in tg.contributions(w)]
    assert sum(shares) == pytest.approx(1.0, abs=1e-12)


def test_signed_share_is_the_projection_on_the_total():
    total = numpy.array([3.0, 4.0])
    assert signed_share(numpy.array([3.0, 4.0]), total) == 1.0
    assert signed_share(numpy.array([-3.0, -4.0]), total) == -1.0
    assert signed_share(numpy.array([4.0, -3.0]), total) == 0.0
    assert numpy.isnan(signed_share(total, numpy.zeros(2)))


def test_zero_initial_state_gives_an_exactly_zero_first_term(elman):
    net = elman(steps=3, zero_h0=True)
    w = net.params["W_hh"]
    net.loss.backward(keep_contributions=True)
    first = tg.contributions(w)[0]
    assert first.step == 1 and first.norm == 0.0
    assert not first.value.any()
    other = tg.contributions(net.params["W_xh"])[0]
    assert other.norm > 0


def test_drawing_ledger_matches_the_engine_ledger(elman):
    """The same terms; a use after the loop on one step's state (W_hy on h_4) is given
    that step."""
    net = elman(steps=4, zero_h0=False)
    drawing = draw(net.loss)
    net.loss.backward(keep_contributions=True)
    for name, p in net.params.items():
        mine = drawing.ledger(name)
        theirs = tg.contributions(p)
        assert [e.step for e in mine] == [4 if c.step is None else c.step for c in theirs]
        assert [e.index for e in mine] == [c.index for c in theirs]
        for e, c in zip(mine, theirs):
            numpy.testing.assert_allclose(e.value, c.value, rtol=1e-12, atol=1e-15)
            assert e.norm == pytest.approx(c.norm, rel=1e-12, abs=1e-15)
        assert sum(e.share for e in mine) == pytest.approx(1.0, abs=1e-10)
        numpy.testing.assert_allclose(mine.total, p.grad.data, rtol=1e-12)


def test_drawing_leaves_grads_alone(elman):
    net = elman(steps=3)
    assert all(p.grad is None for p in net.params.values())
    draw(net.loss)
    assert all(p.grad is None for p in net.params.values())
    net.loss.backward(retain_graph=True)
    before = {k: p.grad.data.copy() for k, p in net.params.items()}
    draw(net.loss)
    for k, p in net.params.items():
        numpy.testing.assert_array_equal(p.grad.data, before[k])
        assert len(tg.contributions(p)) == len(draw(net.loss).ledger(k))


def test_ledger_splits_an_nn_layer_weight_per_step_through_its_transpose():
    tg.manual_seed(3)
    rnn = nn.RNN(3, 5, dtype=tg.float64)
    x = tg.randn(4, 2, 3, dtype=tg.float64)
    out, _ = rnn(x)
    loss = (out[-1] ** 2).sum()
    ledger = draw(loss).ledger("weight_hh_l0")
    assert ledger.name == "weight_hh_l0"
    assert [e.step for e in ledger] == [1, 2, 3, 4]
    assert ledger[0].op == "(unused)" and not ledger[0].value.any()  # a zero initial state
    assert "(unused)" in str(ledger)                                 # is not multiplied
    loss.backward()
    numpy.testing.assert_allclose(sum(e.value for e in ledger), rnn.weight_hh_l0.grad.data,
                                  rtol=1e-12, atol=1e-15)
    assert len(tg.contributions(rnn.weight_hh_l0)) == 1   # the engine sees one use: the transpose


@given(steps=st.integers(1, 5), hidden=st.integers(1, 4), seed=st.integers(0, 2 ** 16),
       zero_h0=st.booleans())
def test_terms_always_sum_to_the_gradient(elman, steps, hidden, seed, zero_h0):
    net = elman(steps=steps, hidden=hidden, seed=seed, zero_h0=zero_h0)
    drawing = draw(net.loss)
    grads = tg.grad(net.loss, list(net.params.values()), retain_graph=True)
    for (name, _), g in zip(net.params.items(), grads):
        ledger = drawing.ledger(name)
        numpy.testing.assert_allclose(sum(e.value for e in ledger), g.data, rtol=1e-10,
                                      atol=1e-13)
        if numpy.any(g.data):
            assert sum(e.share for e in ledger) == pytest.approx(1.0, abs=1e-8)


def test_ledger_of_an_unknown_parameter_names_the_known_ones(elman):
    drawing = draw(elman(steps=2).loss)
    with pytest.raises(DrawError, match="W_xh, W_hh, b, W_hy"):
        drawing.ledger("W_zz")


def test_ledger_prints_as_a_table(elman):
    text = str(draw(elman(steps=3).loss).ledger("W_hh"))
    assert text.splitlines()[0] == "W_hh: 3 uses"
    assert "rnn/cell[t=3]" in text and "%" in text


def test_engine_ledger_keeps_norms_always_and_arrays_only_when_asked(elman):
    net = elman(steps=3, zero_h0=False)
    w = net.params["W_hh"]
    net.loss.backward(retain_graph=True)
    plain = tg.contributions(w)
    assert [c.value for c in plain] == [None, None, None]
    assert all(c.norm > 0 for c in plain)
    w.grad = None
    net.loss.backward(keep_contributions=True)
    kept = tg.contributions(w)
    for a, b in zip(plain, kept):
        assert b.norm == pytest.approx(a.norm, rel=1e-12)
        assert b.norm == pytest.approx(float(numpy.sqrt((b.value ** 2).sum())), rel=1e-12)
        assert not b.value.flags.writeable


def test_engine_ledger_accumulates_like_grad_and_restarts_with_it(elman):
    net = elman(steps=2, zero_h0=False)
    w = net.params["W_hh"]
    net.loss.backward(retain_graph=True, keep_contributions=True)
    net.loss.backward(retain_graph=True, keep_contributions=True)
    twice = tg.contributions(w)
    assert len(twice) == 4
    numpy.testing.assert_allclose(sum(c.value for c in twice), w.grad.data, rtol=1e-12)
    w.grad = None
    net.loss.backward(keep_contributions=True)
    assert len(tg.contributions(w)) == 2


def test_engine_ledger_entries_name_the_operation_and_its_step(elman):
    net = elman(steps=3)
    w = net.params["W_hh"]
    net.loss.backward()
    second = tg.contributions(w)[1]
    assert (second.op, second.step, second.scope) == ("matmul", 2, "rnn/cell[t=2]")
    assert "conftest.py:" in second.site
    assert second.index < tg.contributions(w)[2].index


def test_ledger_names_are_the_named_parameters_names():
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3, dtype=tg.float64)
    out, _ = lstm(tg.randn(4, 1, 2, dtype=tg.float64))
    drawing = draw((out[-1] ** 2).sum())
    assert set(drawing.params) == {name for name, _ in lstm.named_parameters()}
    ledger = drawing.ledger("weight_hh_l0")
    assert [e.step for e in ledger] == [1, 2, 3, 4]
    assert drawing.ledger("weight_hh_l0").name == "weight_hh_l0"


@pytest.mark.parametrize("steps", [2, 3, 7])
def test_every_shared_parameter_of_an_elman_rnn_has_one_term_per_step(steps):
    """The input, recurrent and output weights (and the biases) of ``nn.RNN`` with a
    read-out at every step: T terms each, summing to ``.grad`` in float64, although the
    layer computes the input projection and the read-out in one batched product each."""
    tg.manual_seed(1)
    rnn = nn.RNN(3, 5, dtype=tg.float64)
    head = nn.Linear(5, 2, dtype=tg.float64)
    out, _ = rnn(tg.randn(steps, 2, 3, dtype=tg.float64))
    loss = ((head(out) - 1.0) ** 2).sum()
    drawing = draw(loss)
    loss.backward()
    for module in (rnn, head):
        for name, p in module.named_parameters():
            ledger = drawing.ledger(name)
            assert [e.step for e in ledger] == list(range(1, steps + 1)), name
            numpy.testing.assert_allclose(sum(e.value for e in ledger), p.grad.data,
                                          rtol=1e-12, atol=1e-14)
            assert sum(e.share for e in ledger) == pytest.approx(1.0, abs=1e-9)
