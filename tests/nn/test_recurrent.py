"""Recurrent cells and layers: equations, BPTT, every layer option under gradcheck, lengths,
scopes, structure of the recorded loop, and the errors a user can hit."""
import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad.nn as nn
import tapegrad.nn.functional as F
import tapegrad as tg

F64 = tg.float64
LAYERS = [nn.RNN, nn.LSTM, nn.GRU]


def _sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


def _outputs(result):
    """(output, h_n) or (output, (h_n, c_n)) flattened to a tuple of tensors."""
    out, state = result
    return (out,) + (tuple(state) if isinstance(state, tuple) else (state,))


# ------------------------------------------------------------------- cells
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_equation_and_gradcheck(nonlinearity, check_module, randn):
    cell = nn.RNNCell(3, 4, nonlinearity=nonlinearity, dtype=F64)
    x, h = randn(2, 3, requires_grad=True), randn(2, 4, requires_grad=True)
    act = numpy.tanh if nonlinearity == "tanh" else (lambda z: numpy.maximum(z, 0))
    p = {n: q.numpy() for n, q in cell.named_parameters()}
    expected = act(x.numpy() @ p["weight_ih"].T + p["bias_ih"] + h.numpy() @ p["weight_hh"].T
                   + p["bias_hh"])
    numpy.testing.assert_allclose(cell(x, h).numpy(), expected, rtol=1e-12)
    check_module(cell, cell, x, h)


def test_lstm_cell_equation_gate_order_and_gradcheck(check_module, randn):
    cell = nn.LSTMCell(3, 2, dtype=F64)
    x, h, c = randn(4, 3, requires_grad=True), randn(4, 2), randn(4, 2, requires_grad=True)
    p = {n: q.numpy() for n, q in cell.named_parameters()}
    z = x.numpy() @ p["weight_ih"].T + p["bias_ih"] + h.numpy() @ p["weight_hh"].T + p["bias_hh"]
    i, f, g, o = _sigmoid(z[:, :2]), _sigmoid(z[:, 2:4]), numpy.tanh(z[:, 4:6]), _sigmoid(z[:, 6:])
    c_new = f * c.numpy() + i * g
    h2, c2 = cell(x, (h, c))
    numpy.testing.assert_allclose(c2.numpy(), c_new, rtol=1e-12)
    numpy.testing.assert_allclose(h2.numpy(), o * numpy.tanh(c_new), rtol=1e-12)
    check_module(cell, lambda *a: cell(a[0], (a[1], a[2])), x, h, c)


def test_gru_cell_reset_gate_multiplies_hidden_projection_with_its_bias(check_module, randn):
    cell = nn.GRUCell(3, 2, dtype=F64)
    x, h = randn(4, 3), randn(4, 2, requires_grad=True)
    p = {n: q.numpy() for n, q in cell.named_parameters()}
    gi = x.numpy() @ p["weight_ih"].T + p["bias_ih"]
    gh = h.numpy() @ p["weight_hh"].T + p["bias_hh"]
    r, z = _sigmoid(gi[:, :2] + gh[:, :2]), _sigmoid(gi[:, 2:4] + gh[:, 2:4])
    n = numpy.tanh(gi[:, 4:] + r * gh[:, 4:])               # r * (W_hn h + b_hn)
    expected = (1 - z) * n + z * h.numpy()
    numpy.testing.assert_allclose(cell(x, h).numpy(), expected, rtol=1e-12)
    check_module(cell, cell, x, h)


def test_cells_without_state_start_from_zeros(randn):
    x = randn(2, 3)
    for cell, zero in [(nn.RNNCell(3, 4, dtype=F64), tg.zeros(2, 4, dtype=F64)),
                       (nn.GRUCell(3, 4, dtype=F64), tg.zeros(2, 4, dtype=F64))]:
        numpy.testing.assert_allclose(cell(x).numpy(), cell(x, zero).numpy(), rtol=1e-12)
    cell = nn.LSTMCell(3, 4, dtype=F64)
    z = tg.zeros(2, 4, dtype=F64)
    for a, b in zip(cell(x), cell(x, (z, z))):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_cells_accept_unbatched_input(randn):
    x, h = randn(3), randn(4)
    cell = nn.GRUCell(3, 4, dtype=F64)
    out = cell(x, h)
    assert out.shape == (4,)
    numpy.testing.assert_allclose(out.numpy(), cell(x.reshape(1, 3), h.reshape(1, 4)).numpy()[0])
    h2, c2 = nn.LSTMCell(3, 4, dtype=F64)(x)
    assert h2.shape == c2.shape == (4,)


def test_jordan_cell_feeds_back_its_output(check_module, randn):
    cell = nn.JordanCell(3, 4, 2, dtype=F64)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (4, 3)), ("weight_yh", (4, 2)), ("bias_h", (4,)),
        ("weight_hy", (2, 4)), ("bias_y", (2,))]
    x, y_prev = randn(5, 3), randn(5, 2, requires_grad=True)
    p = {n: q.numpy() for n, q in cell.named_parameters()}
    h = numpy.tanh(x.numpy() @ p["weight_ih"].T + y_prev.numpy() @ p["weight_yh"].T + p["bias_h"])
    y, h_out = cell(x, y_prev)
    numpy.testing.assert_allclose(h_out.numpy(), h, rtol=1e-12)
    numpy.testing.assert_allclose(y.numpy(), h @ p["weight_hy"].T + p["bias_y"], rtol=1e-12)

    def unrolled(y0):
        y = y0
        for t in range(3):
            y, _ = cell(x, y)
        return y
    check_module(cell, unrolled, y_prev)


@pytest.mark.parametrize("nonlinearity, bias", [("relu", True), ("tanh", False)])
def test_jordan_cell_options_and_zero_start(nonlinearity, bias, check_module, randn):
    cell = nn.JordanCell(3, 4, 2, bias=bias, nonlinearity=nonlinearity, dtype=F64)
    assert (cell.bias_h is None) == (cell.bias_y is None) == (not bias)
    x = randn(5, 3, requires_grad=True)
    for a, b in zip(cell(x), cell(x, tg.zeros(5, 2, dtype=F64))):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)    # None is zeros

    def unrolled(x):
        y = None
        for _ in range(3):
            y, _ = cell(x, y)
        return y
    check_module(cell, unrolled, x)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cells_without_bias(cls, check_module, randn):
    cell = cls(3, 2, bias=False, dtype=F64)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    x, h = randn(4, 3, requires_grad=True), randn(4, 2, requires_grad=True)
    if cls is nn.LSTMCell:
        c = randn(4, 2, requires_grad=True)
        check_module(cell, lambda x, h, c: cell(x, (h, c)), x, h, c)
    else:
        check_module(cell, cell, x, h)


def _elman_bptt(xs, v, W_ih, W_hh, b):
    """Textbook BPTT for h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b), h_0 = 0, and the loss
    sum_t <v, h_t>: shared weights get the sum over time of each step's contribution."""
    B, H = v.shape
    hs = [numpy.zeros((B, H))]
    for x in xs:
        hs.append(numpy.tanh(x @ W_ih.T + hs[-1] @ W_hh.T + b))
    dW_ih, dW_hh, db = numpy.zeros_like(W_ih), numpy.zeros_like(W_hh), numpy.zeros(H)
    delta_next = numpy.zeros((B, H))                   # dL/dz_{t+1}
    for t in range(len(xs), 0, -1):
        dh = v + delta_next @ W_hh                     # direct + through h_{t+1}
        dz = dh * (1 - hs[t] ** 2)
        dW_ih += dz.T @ xs[t - 1]
        dW_hh += dz.T @ hs[t - 1]
        db += dz.sum(0)
        delta_next = dz
    return dW_ih, dW_hh, db


def test_rnn_cell_bptt_equals_hand_derived_bptt(randn):
    """The tape's gradient of an unrolled RNNCell equals the textbook BPTT recursion."""
    T, B, I, H = 6, 2, 3, 4
    cell = nn.RNNCell(I, H, dtype=F64)
    xs = [randn(B, I) for _ in range(T)]
    v = randn(B, H).numpy()                            # loss = sum_t <v, h_t>
    h = None
    loss = 0.0
    for x in xs:
        h = cell(x, h)
        loss = loss + (h * v).sum()
    loss.backward()
    dW_ih, dW_hh, db = _elman_bptt([x.numpy() for x in xs], v, cell.weight_ih.numpy(),
                                   cell.weight_hh.numpy(),
                                   cell.bias_ih.numpy() + cell.bias_hh.numpy())
    for got, want in [(cell.weight_ih, dW_ih), (cell.weight_hh, dW_hh), (cell.bias_ih, db),
                      (cell.bias_hh, db)]:
        numpy.testing.assert_allclose(got.grad.numpy(), want, rtol=0, atol=1e-12)


def test_rnn_layer_bptt_equals_hand_derived_bptt(randn):
    """The same for nn.RNN, whose input projection is one product over all steps."""
    T, B, I, H = 7, 3, 2, 5
    layer = nn.RNN(I, H, dtype=F64)
    x = randn(T, B, I)
    v = randn(B, H).numpy()
    out, _ = layer(x)
    (out * v).sum().backward()
    p = {n: q.numpy() for n, q in layer.named_parameters()}
    dW_ih, dW_hh, db = _elman_bptt(list(x.numpy()), v, p["weight_ih_l0"], p["weight_hh_l0"],
                                   p["bias_ih_l0"] + p["bias_hh_l0"])
    for name, want in [("weight_ih_l0", dW_ih), ("weight_hh_l0", dW_hh), ("bias_ih_l0", db),
                       ("bias_hh_l0", db)]:
        numpy.testing.assert_allclose(getattr(layer, name).grad.numpy(), want, rtol=0,
                                      atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cell_errors_name_module_shapes_and_fix(cls):
    cell = cls(3, 4)
    with pytest.raises(tg.OpError, match=rf"{cls.__name__}\(3, 4\).*\(2, 5\).*\(batch, 3\)"):
        cell(tg.zeros(2, 5))
    bad = tg.zeros(2, 3)
    state = (bad, bad) if cls is nn.LSTMCell else bad
    with pytest.raises(tg.OpError, match=r"state .* has shape \(2, 3\), expected \(2, 4\).*Fix"):
        cell(tg.zeros(2, 3), state)
    bad = tg.zeros(5)
    state = (bad, bad) if cls is nn.LSTMCell else bad
    with pytest.raises(tg.OpError, match=r"shape \(5,\), expected \(4,\) \(hidden_size,\): "
                                         r"the input is unbatched"):
        cell(tg.zeros(3), state)


def test_bad_nonlinearity():
    with pytest.raises(tg.OpError, match="'tanh' or 'relu'"):
        nn.RNN(2, 2, nonlinearity="sigmoid")


# ------------------------------------------------------------ layer layout
@pytest.mark.parametrize("cls, gates", [(nn.RNN, 1), (nn.LSTM, 4), (nn.GRU, 3)])
def test_parameter_names_and_shapes_match_pytorch(cls, gates):
    m = cls(3, 5, num_layers=2, bidirectional=True)
    got = [(n, p.shape) for n, p in m.named_parameters()]
    want = []
    for k, size_in in ((0, 3), (1, 10)):
        for sfx in ("", "_reverse"):
            want += [(f"weight_ih_l{k}{sfx}", (gates * 5, size_in)),
                     (f"weight_hh_l{k}{sfx}", (gates * 5, 5)),
                     (f"bias_ih_l{k}{sfx}", (gates * 5,)), (f"bias_hh_l{k}{sfx}", (gates * 5,))]
    assert got == want
    assert not any("bias" in n for n, _ in cls(3, 5, bias=False).named_parameters())


@pytest.mark.parametrize("make", [
    lambda: nn.RNN(10, 100, num_layers=2, bidirectional=True), lambda: nn.LSTM(10, 100),
    lambda: nn.GRU(10, 100), lambda: nn.RNNCell(10, 100), lambda: nn.LSTMCell(10, 100),
    lambda: nn.GRUCell(10, 100), lambda: nn.JordanCell(10, 100, 100)],
    ids=["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "JordanCell"])
def test_default_init_is_uniform_one_over_sqrt_hidden(make):
    """PyTorch's recurrent default: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    tg.manual_seed(0)
    for name, p in make().named_parameters():
        a = p.numpy()
        assert a.min() >= -0.1 and a.max() <= 0.1, name
        assert a.max() > 0.09 and a.min() < -0.09, name
        assert abs(a.mean()) < 0.01 and abs(a.std() - 0.1 / 3 ** 0.5) < 0.01, name


def test_forget_bias_keeps_the_gradient_alive_at_initialization():
    """Gradient of the last output w.r.t. the first input, relative to the last input, over 60
    steps: with forget bias 0 an LSTM loses it as fast as a plain RNN; 3 keeps most of it."""
    T = 60

    def reach(model):
        x = tg.tensor(numpy.random.default_rng(0).standard_normal((T, 4, 8)),
                      requires_grad=True)
        out, _ = model(x)
        out[-1].sum().backward()
        norms = numpy.linalg.norm(x.grad.numpy(), axis=(1, 2))
        return norms[0] / norms[-1]

    tg.manual_seed(0)
    rnn = reach(nn.RNN(8, 32, dtype=F64))
    lstm = {}
    for bias in (0.0, 1.0, 2.0, 3.0):
        tg.manual_seed(0)
        lstm[bias] = reach(nn.LSTM(8, 32, forget_bias=bias, dtype=F64))
    assert rnn < 1e-10 and lstm[0.0] < 1e-10
    assert lstm[0.0] < lstm[1.0] < lstm[2.0] < lstm[3.0]
    assert lstm[3.0] > 0.3


def test_forget_bias_sets_total_forget_bias(randn):
    H = 3
    for module, pairs in [(nn.LSTM(2, H, num_layers=2, forget_bias=1.0),
                           [("bias_ih_l0", "bias_hh_l0"), ("bias_ih_l1", "bias_hh_l1")]),
                          (nn.LSTMCell(2, H, forget_bias=1.0), [("bias_ih", "bias_hh")])]:
        for ih, hh in pairs:
            b_ih, b_hh = getattr(module, ih).numpy(), getattr(module, hh).numpy()
            numpy.testing.assert_array_equal(b_ih[H:2 * H], 1.0)
            numpy.testing.assert_array_equal(b_hh[H:2 * H], 0.0)
            assert numpy.all(numpy.abs(b_ih[:H]) < 1) and numpy.any(b_hh[:H] != 0)
    with pytest.raises(tg.OpError, match="forget_bias needs biases"):
        nn.LSTM(2, 3, bias=False, forget_bias=1.0)


def test_repr():
    assert repr(nn.LSTM(3, 4)) == "LSTM(3, 4)"
    assert repr(nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)) == (
        "GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)")
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"


# ------------------------------------------------------- layer = unrolled cell
@pytest.mark.parametrize("layer_cls, cell_cls", [(nn.RNN, nn.RNNCell), (nn.LSTM, nn.LSTMCell),
                                                 (nn.GRU, nn.GRUCell)])
def test_layer_equals_its_cell_unrolled(layer_cls, cell_cls, randn):
    layer = layer_cls(3, 4, dtype=F64)
    cell = cell_cls(3, 4, dtype=F64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = randn(5, 2, 3)
    out, state = layer(x)
    s = None
    for t in range(5):
        s = cell(x[t], s)
        h = s[0] if isinstance(s, tuple) else s
        numpy.testing.assert_allclose(out.numpy()[t], h.numpy(), rtol=1e-12)
    finals = state if isinstance(state, tuple) else (state,)
    for got, want in zip(finals, s if isinstance(s, tuple) else (s,)):
        numpy.testing.assert_allclose(got.numpy()[0], want.numpy(), rtol=1e-12)


# ------------------------------------------------------- gradcheck of options
OPTIONS = [
    dict(),
    dict(num_layers=2),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True),
    dict(batch_first=True),
    dict(bias=False),
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_gradcheck(cls, options, check_module, randn):
    m = cls(2, 3, dtype=F64, **options)
    x = randn(2, 3, 2, requires_grad=True)
    check_module(m, lambda x: _outputs(m(x)), x, fast_mode=True)


def test_relu_rnn_layer_gradcheck(check_module, randn):
    m = nn.RNN(2, 3, num_layers=2, nonlinearity="relu", bidirectional=True, dtype=F64)
    check_module(m, lambda x: _outputs(m(x)), randn(3, 2, 2, requires_grad=True),
                 fast_mode=True)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_gradcheck_full_jacobian_small(cls, check_module, randn):
    m = cls(2, 2, dtype=F64)
    check_module(m, lambda x: _outputs(m(x)), randn(3, 1, 2, requires_grad=True))


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_gradcheck_initial_state(cls, check_module, randn):
    m = cls(2, 3, num_layers=2, bidirectional=True, dtype=F64)
    x = randn(3, 2, 2, requires_grad=True)
    h0 = randn(4, 2, 3, requires_grad=True)
    if cls is nn.LSTM:
        c0 = randn(4, 2, 3, requires_grad=True)
        check_module(m, lambda x, h, c: _outputs(m(x, (h, c))), x, h0, c0, fast_mode=True)
    else:
        check_module(m, lambda x, h: _outputs(m(x, h)), x, h0, fast_mode=True)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_gradcheck_lengths(cls, check_module, randn):
    m = cls(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=F64)
    x = randn(3, 4, 2, requires_grad=True)
    check_module(m, lambda x: _outputs(m(x, lengths=[4, 1, 3])), x, fast_mode=True)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_gradcheck_lengths_with_initial_state(cls, check_module, randn):
    m = cls(2, 3, bidirectional=True, dtype=F64)
    x = randn(4, 3, 2, requires_grad=True)
    h0 = randn(2, 3, 3, requires_grad=True)
    if cls is nn.LSTM:
        c0 = randn(2, 3, 3, requires_grad=True)
        check_module(m, lambda x, h, c: _outputs(m(x, (h, c), lengths=[2, 4, 1])), x, h0, c0,
                     fast_mode=True)
    else:
        check_module(m, lambda x, h: _outputs(m(x, h, lengths=[2, 4, 1])), x, h0,
                     fast_mode=True)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_gradcheck_dropout_with_fixed_mask(cls, check_module, randn):
    m = cls(2, 3, num_layers=3, dropout=0.4, dtype=F64)

    def forward(x):
        m.generator = numpy.random.default_rng(7)        # the same masks at every evaluation
        return _outputs(m(x))

    x = randn(3, 2, 2, requires_grad=True)
    check_module(m, forward, x, fast_mode=True)
    a = forward(x)[0].numpy()
    m.eval()
    b = forward(x)[0].numpy()
    assert not numpy.allclose(a, b)                      # dropout was active in training
    m.generator = numpy.random.default_rng(8)
    numpy.testing.assert_array_equal(m(x)[0].numpy(), b)  # and is off in eval


def test_dropout_only_between_layers(randn):
    x = randn(4, 2, 2)
    one = nn.LSTM(2, 3, dropout=0.9, dtype=F64)
    ref = nn.LSTM(2, 3, dtype=F64)
    ref.load_state_dict(one.state_dict())
    numpy.testing.assert_array_equal(one(x)[0].numpy(), ref(x)[0].numpy())


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_dropout_is_exactly_one_mask_on_each_inner_layer_output(cls, randn):
    """A 3-layer bidirectional layer with dropout equals 3 one-layer layers with F.dropout on the
    outputs of the first two, drawn from the same generator: nothing on the recurrent
    connection, nothing on the last layer's output."""
    deep = cls(2, 3, num_layers=3, bidirectional=True, dropout=0.5,
               generator=numpy.random.default_rng(5), dtype=F64)
    singles = []
    for k in range(3):
        single = cls(2 if k == 0 else 6, 3, bidirectional=True, dtype=F64)
        single.load_state_dict({n.replace(f"_l{k}", "_l0"): v
                                for n, v in deep.state_dict().items() if f"_l{k}" in n})
        singles.append(single)
    x = randn(4, 2, 2)
    h0 = randn(6, 2, 3)
    state0 = (h0, h0) if cls is nn.LSTM else h0
    out, state = deep(x, state0)
    gen = numpy.random.default_rng(5)
    y, finals = x, []
    for k, single in enumerate(singles):
        part = tuple(s[2 * k:2 * k + 2] for s in state0) if cls is nn.LSTM else h0[2 * k:2 * k + 2]
        y, f = single(y, part)
        finals.append(f)
        if k < 2:
            y = F.dropout(y, 0.5, generator=gen)
    numpy.testing.assert_array_equal(out.numpy(), y.numpy())
    if cls is nn.LSTM:
        for i in (0, 1):
            numpy.testing.assert_array_equal(
                state[i].numpy(), numpy.concatenate([f[i].numpy() for f in finals]))
    else:
        numpy.testing.assert_array_equal(state.numpy(),
                                         numpy.concatenate([f.numpy() for f in finals]))


def test_batch_first_is_a_transpose(randn):
    a = nn.GRU(2, 3, batch_first=True, dtype=F64)
    b = nn.GRU(2, 3, dtype=F64)
    b.load_state_dict(a.state_dict())
    x = randn(2, 5, 2)
    out_a, h_a = a(x)
    out_b, h_b = b(x.transpose(0, 1))
    numpy.testing.assert_allclose(out_a.numpy(), out_b.transpose(0, 1).numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(h_a.numpy(), h_b.numpy(), rtol=1e-12)


def test_unbatched_input(randn):
    m = nn.LSTM(2, 3, num_layers=2, dtype=F64)
    x = randn(4, 2)
    out, (h, c) = m(x)
    assert out.shape == (4, 3) and h.shape == c.shape == (2, 3)
    out_b, (h_b, _) = m(x.reshape(4, 1, 2))
    numpy.testing.assert_allclose(out.numpy(), out_b.numpy()[:, 0], rtol=1e-12)
    numpy.testing.assert_allclose(h.numpy(), h_b.numpy()[:, 0], rtol=1e-12)
    h0, c0 = randn(2, 3), randn(2, 3)                 # unbatched state: (num_layers, H)
    out, (h, c) = m(x, (h0, c0))
    out_b, (h_b, c_b) = m(x.reshape(4, 1, 2), (h0.reshape(2, 1, 3), c0.reshape(2, 1, 3)))
    numpy.testing.assert_allclose(out.numpy(), out_b.numpy()[:, 0], rtol=1e-12)
    numpy.testing.assert_allclose(c.numpy(), c_b.numpy()[:, 0], rtol=1e-12)


# ---------------------------------------------------------------- lengths
@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_lengths_equal_running_each_sequence_alone(cls, randn):
    """Padded batch with lengths == every sequence run on its own, unpadded: outputs,
    final states (both directions), and parameter and input gradients."""
    m = cls(2, 3, num_layers=2, bidirectional=True, dtype=F64)
    lengths = [5, 2, 4]
    x = randn(5, 3, 2, requires_grad=True)
    weights = randn(5, 3, 6)
    out, state = m(x, lengths=lengths)
    finals = state if isinstance(state, tuple) else (state,)
    loss = (out * weights).sum() + sum(f.sum() for f in finals)
    loss.backward()
    batch_grads = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
    numpy.testing.assert_array_equal(x.grad.numpy()[2:, 1], 0.0)     # padding: no gradient
    numpy.testing.assert_array_equal(x.grad.numpy()[4:, 2], 0.0)
    m.zero_grad()

    for b, n in enumerate(lengths):
        xb = tg.tensor(x.numpy()[:n, b:b + 1])
        out_b, state_b = m(xb)
        numpy.testing.assert_allclose(out.numpy()[:n, b], out_b.numpy()[:, 0], rtol=1e-12)
        numpy.testing.assert_array_equal(out.numpy()[n:, b], 0.0)
        finals_b = state_b if isinstance(state_b, tuple) else (state_b,)
        for f, fb in zip(finals, finals_b):
            numpy.testing.assert_allclose(f.numpy()[:, b], fb.numpy()[:, 0], rtol=1e-12)
        ((out_b * tg.tensor(weights.numpy()[:n, b:b + 1])).sum()
         + sum(f.sum() for f in finals_b)).backward()
    for name, p in m.named_parameters():
        numpy.testing.assert_allclose(p.grad.numpy(), batch_grads[name], rtol=1e-10, atol=1e-12)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.sampled_from(LAYERS))
def test_final_state_is_the_output_at_each_last_valid_step(lengths, cls):
    m = cls(2, 3, dtype=F64)
    x = tg.tensor(numpy.random.default_rng(len(lengths)).standard_normal((5, len(lengths), 2)))
    out, state = m(x, lengths=lengths)
    h_n = state[0] if isinstance(state, tuple) else state
    for b, n in enumerate(lengths):
        numpy.testing.assert_array_equal(h_n.numpy()[0, b], out.numpy()[n - 1, b])
        assert not numpy.any(out.numpy()[n:, b])


def test_lengths_accept_an_int_tensor(randn):
    m = nn.RNN(2, 3, dtype=F64)
    x = randn(4, 2, 2)
    a = m(x, lengths=tg.tensor([4, 2]))[0].numpy()
    b = m(x, lengths=numpy.array([4, 2]))[0].numpy()
    numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lengths, match", [
    ([4, 2, 1], r"lengths has shape \(3,\), expected \(2,\)"),
    ([4, 0], r"outside 1\.\.4"),
    ([5, 2], r"outside 1\.\.4"),
    ([4.0, 2.0], "integers"),
])
def test_bad_lengths_are_explained(lengths, match):
    with pytest.raises(tg.OpError, match=rf"LSTM\(2, 3\).*{match}.*Fix"):
        nn.LSTM(2, 3)(tg.zeros(4, 2, 2), lengths=lengths)


# ------------------------------------------------------------------ errors
def test_wrong_input_size_names_module_and_layout():
    with pytest.raises(tg.OpError, match=r"GRU\(3, 4, batch_first=True\).*\(2, 5, 7\).*"
                                         r"\(batch, seq_len, 3\).*batch_first=True"):
        nn.GRU(3, 4, batch_first=True)(tg.zeros(2, 5, 7))
    with pytest.raises(tg.OpError, match="expected"):
        nn.RNN(3, 4)(tg.zeros(3))


def test_wrong_state_shape_is_explained():
    m = nn.LSTM(3, 4, num_layers=2)
    x = tg.zeros(5, 2, 3)
    good = tg.zeros(2, 2, 4)
    with pytest.raises(tg.OpError, match=r"h_0 has shape \(1, 2, 4\).*\(2, 2, 4\)"):
        m(x, (tg.zeros(1, 2, 4), good))
    with pytest.raises(tg.OpError, match=r"c_0 has shape \(2, 3, 4\)"):
        m(x, (good, tg.zeros(2, 3, 4)))
    with pytest.raises(tg.OpError, match=r"pair \(h_0, c_0\)"):
        m(x, good)
    with pytest.raises(tg.OpError, match=r"RNN\(3, 4\).*h_0 has shape \(2, 4\)"):
        nn.RNN(3, 4)(x, tg.zeros(2, 4))
    with pytest.raises(tg.OpError, match=r"GRU\(3, 4\).*one tensor h_0.*only LSTM"):
        nn.GRU(3, 4)(x, (tg.zeros(1, 2, 4), tg.zeros(1, 2, 4)))


def test_jordan_cell_errors():
    cell = nn.JordanCell(3, 4, 2)
    with pytest.raises(tg.OpError, match=r"JordanCell\(3, 4, 2\).*\(5, 4\).*\(batch, 3\)"):
        cell(tg.zeros(5, 4))
    with pytest.raises(tg.OpError, match=r"fed-back output y has shape \(5, 4\).*\(5, 2\)"):
        cell(tg.zeros(5, 3), tg.zeros(5, 4))


# ------------------------------------------------------- scopes and structure
def test_every_step_record_carries_layer_direction_and_step(randn):
    m = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=F64)
    with tg.Tape() as tape:
        m(randn(3, 1, 2))
    paths = {r.scope_path for r in tape.records}
    for layer in ("l0", "l1", "l0_reverse", "l1_reverse"):
        for t in (1, 2, 3):
            assert f"lstm/{layer}[t={t}]" in paths
    assert {r.step for r in tape.records if r.scope_path.startswith("lstm/l1[")} == {1, 2, 3}


def test_cell_calls_in_a_user_loop_carry_module_path_and_step(randn):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.GRUCell(2, 3, dtype=F64)

        def forward(self, x):
            h = None
            for t in range(1, x.shape[0] + 1):
                with tg.scope("t", step=t):
                    h = self.cell(x[t - 1], h)
            return h

    with tg.Tape() as tape:
        Model()(randn(3, 1, 2))
    cell_records = [r for r in tape.records if r.scope_path.endswith("/cell")]
    assert {(r.scope_path, r.step) for r in cell_records} == {
        (f"model/t[t={t}]/cell", t) for t in (1, 2, 3)}
    assert all(r.step is not None for r in tape.records if r.scope_path != "model")


@pytest.mark.parametrize("cls, per_step", [(nn.RNN, 2), (nn.LSTM, 11), (nn.GRU, 11)])
def test_recorded_loop_is_lean(cls, per_step, randn):
    """One input projection and one unbind per layer; no per-step indexing; a fixed
    small number of operations per time step."""
    T = 6
    m = cls(2, 3, dtype=F64)
    h0 = randn(1, 1, 3)
    state = (h0, h0) if cls is nn.LSTM else h0
    with tg.Tape() as tape:
        m(randn(T, 1, 2), state)
    ops = [r.op.name for r in tape.records]
    assert "getitem" not in ops
    assert ops.count("addmm") == T          # each step: x_t W_ih^T + b + h W_hh^T
    assert ops.count("matmul") == 1        # the input projection of all steps
    steps = [r for r in tape.records if r.step is not None]
    assert len(steps) == per_step * T
