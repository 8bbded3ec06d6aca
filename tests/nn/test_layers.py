"""Feed-forward layers and init: forward values, gradients (float64 gradcheck), errors."""
import math

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad.nn as nn
import tapegrad.nn.functional as F
import tapegrad as tg

F64 = tg.float64


# ------------------------------------------------------------------ Linear
def test_linear_matches_numpy_and_pytorch_layout():
    m = nn.Linear(3, 2, dtype=F64)
    assert m.weight.shape == (2, 3) and m.bias.shape == (2,)
    x = numpy.arange(12.0).reshape(4, 3)
    y = m(tg.tensor(x))
    numpy.testing.assert_allclose(y.numpy(), x @ m.weight.numpy().T + m.bias.numpy())


def test_linear_gradcheck_batched_3d(check_module, randn):
    m = nn.Linear(3, 2, dtype=F64)
    check_module(m, m, randn(2, 4, 3, requires_grad=True))


def test_linear_without_bias(check_module, randn):
    m = nn.Linear(3, 2, bias=False, dtype=F64)
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    check_module(m, m, randn(4, 3))


def test_linear_default_init_range_is_one_over_sqrt_fan_in():
    tg.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (m.weight, m.bias):
        a = p.numpy()
        assert a.min() >= -bound and a.max() <= bound
        assert a.max() > 0.95 * bound and a.min() < -0.95 * bound


def test_functional_linear_with_and_without_bias(randn):
    x, w, b = randn(4, 3), randn(2, 3), randn(2)
    numpy.testing.assert_allclose(F.linear(x, w).numpy(), x.numpy() @ w.numpy().T, rtol=1e-12)
    numpy.testing.assert_allclose(F.linear(x, w, b).numpy(),
                                  x.numpy() @ w.numpy().T + b.numpy(), rtol=1e-12)


def test_default_init_of_embedding_conv1d_and_layer_norm():
    """PyTorch's defaults: Embedding N(0, 1); Conv1d U(+-1/sqrt(in_channels * kernel_size))
    for weight and bias; LayerNorm weight 1, bias 0."""
    tg.manual_seed(0)
    e = nn.Embedding(300, 100).weight.numpy()
    assert abs(e.mean()) < 0.01 and abs(e.std() - 1.0) < 0.01
    conv = nn.Conv1d(20, 300, 5)
    bound = 1 / math.sqrt(20 * 5)
    for p in (conv.weight, conv.bias):
        a = p.numpy()
        assert a.min() >= -bound and a.max() <= bound
        assert a.max() > 0.95 * bound and a.min() < -0.95 * bound
    ln = nn.LayerNorm((2, 3))
    numpy.testing.assert_array_equal(ln.weight.numpy(), numpy.ones((2, 3)))
    numpy.testing.assert_array_equal(ln.bias.numpy(), numpy.zeros((2, 3)))


def test_linear_wrong_input_size_names_module_and_fix():
    with pytest.raises(tg.OpError, match=r"Linear\(in_features=3.*\(5, 4\).*expected 3.*Fix"):
        nn.Linear(3, 2)(tg.zeros(5, 4))


# --------------------------------------------------------------- Embedding
def test_embedding_repeated_ids_accumulate(randn):
    e = nn.Embedding(5, 2, dtype=F64)
    ids = tg.tensor([[1, 3], [1, 1]])
    out = e(ids)
    assert out.shape == (2, 2, 2)
    numpy.testing.assert_array_equal(out.numpy()[1, 0], e.weight.numpy()[1])
    out.sum().backward()
    expected = numpy.zeros((5, 2))
    expected[1] = 3.0
    expected[3] = 1.0
    numpy.testing.assert_array_equal(e.weight.grad.numpy(), expected)


def test_embedding_gradcheck(check_module, randn):
    e = nn.Embedding(4, 3, dtype=F64)
    w = randn(2, 3, 3)
    check_module(e, lambda ids: e(ids) * w, numpy.array([[0, 2, 2], [3, 0, 1]]))


@pytest.mark.parametrize("ids, match", [
    (numpy.array([0.0, 1.0]), "integers"),
    (numpy.array([0, 5]), r"ids range from 0 to 5, outside \[0, 5\)"),
    (numpy.array([-1, 2]), "outside"),
])
def test_embedding_bad_ids(ids, match):
    with pytest.raises(tg.OpError, match=match):
        nn.Embedding(5, 2)(ids)


# ----------------------------------------------------------------- Dropout
def test_dropout_is_inverted_reproducible_and_off_in_eval():
    x = tg.ones(1000, dtype=F64)
    d = nn.Dropout(0.25, generator=numpy.random.default_rng(3))
    y1 = d(x).numpy()
    assert set(numpy.unique(y1)) <= {0.0, 1.0 / 0.75}
    assert abs((y1 == 0).mean() - 0.25) < 0.05
    d2 = nn.Dropout(0.25, generator=numpy.random.default_rng(3))
    numpy.testing.assert_array_equal(d2(x).numpy(), y1)
    d.eval()
    assert d(x) is x
    assert F.dropout(x, 0.0) is x
    assert numpy.all(F.dropout(x, 1.0).numpy() == 0)


def test_dropout_gradient_is_the_mask(randn):
    x = randn(50, requires_grad=True)
    y = F.dropout(x, 0.5, generator=numpy.random.default_rng(0))
    y.sum().backward()
    kept = y.numpy() != 0
    numpy.testing.assert_array_equal(x.grad.numpy(), numpy.where(kept, 2.0, 0.0))


def test_dropout_gradcheck_with_a_fixed_mask(randn):
    d = nn.Dropout(0.3)

    def forward(x):
        d.generator = numpy.random.default_rng(4)        # the same mask at every evaluation
        return d(x)

    tg.gradcheck(forward, (randn(4, 5, requires_grad=True),))


def test_dropout_bad_probability():
    with pytest.raises(tg.OpError, match=r"^Dropout: p must be a probability in \[0, 1\]"):
        nn.Dropout(1.5)
    with pytest.raises(tg.OpError, match=r"^dropout: p must be .*Fix"):
        F.dropout(tg.ones(2), -0.1)
    with pytest.raises(tg.OpError, match=r"^GRU: dropout must be a probability"):
        nn.GRU(2, 2, num_layers=2, dropout=2.0)


def test_conv1d_reset_parameters_redraws_in_pytorchs_range():
    conv = nn.Conv1d(4, 2, 3, dtype=F64)
    before = conv.weight.numpy().copy()
    conv.reset_parameters()
    bound = 1 / numpy.sqrt(4 * 3)
    assert not numpy.array_equal(before, conv.weight.numpy())
    assert numpy.abs(conv.weight.numpy()).max() <= bound
    assert numpy.abs(conv.bias.numpy()).max() <= bound


# ------------------------------------------------------------- activations
def test_log_softmax_is_not_a_kind_of_softmax():
    assert not isinstance(nn.LogSoftmax(), nn.Softmax)
    assert repr(nn.LogSoftmax(dim=0)) == "LogSoftmax(dim=0)"


@pytest.mark.parametrize("module, reference", [
    (nn.Tanh(), numpy.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + numpy.exp(-x))),
    (nn.ReLU(), lambda x: numpy.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: numpy.where(x > 0, x, 0.2 * x)),
    (nn.ELU(0.5), lambda x: numpy.where(x > 0, x, 0.5 * (numpy.exp(x) - 1))),
    (nn.Softplus(2.0), lambda x: numpy.log1p(numpy.exp(2 * x)) / 2),
    (nn.Softmax(dim=1), lambda x: numpy.exp(x) / numpy.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: x - numpy.log(numpy.exp(x).sum(1, keepdims=True))),
])
def test_activation_modules(module, reference, randn):
    x = randn(3, 4, requires_grad=True)
    numpy.testing.assert_allclose(module(x).numpy(), reference(x.numpy()), rtol=1e-12,
                                  atol=1e-14)
    tg.gradcheck(module, (x,))


# --------------------------------------------------------------- LayerNorm
def test_layer_norm_normalises_and_gradchecks(check_module, randn):
    ln = nn.LayerNorm(4, dtype=F64)
    x = randn(2, 3, 4, requires_grad=True)
    y = ln(x).numpy()
    numpy.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-12)
    numpy.testing.assert_allclose(y.var(-1), 1.0 / (1.0 + 1e-5 / x.numpy().var(-1)), rtol=1e-9)
    with tg.no_grad():
        ln.weight.copy_(numpy.array([1.0, 2.0, -1.0, 0.5]))
        ln.bias.copy_(numpy.array([0.1, 0.0, 0.3, -0.2]))
    check_module(ln, ln, x)


def test_layer_norm_over_two_dims_without_affine(randn):
    ln = nn.LayerNorm((3, 4), elementwise_affine=False)
    assert list(ln.parameters()) == []
    x = randn(2, 3, 4, requires_grad=True)
    y = ln(x).numpy()
    numpy.testing.assert_allclose(y.reshape(2, -1).mean(-1), 0.0, atol=1e-12)
    tg.gradcheck(ln, (x,))


def test_layer_norm_without_bias_scales_only(randn):
    ln = nn.LayerNorm(4, bias=False, dtype=F64)
    assert [n for n, _ in ln.named_parameters()] == ["weight"] and ln.bias is None
    assert repr(ln) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=False)"
    x = randn(2, 4, requires_grad=True)
    tg.gradcheck(ln, (x,))


def test_layer_norm_wrong_shape():
    with pytest.raises(tg.OpError, match=r"does not end in the normalized shape \(5,\)"):
        nn.LayerNorm(5)(tg.zeros(2, 4))


# ------------------------------------------------------------------ Conv1d
def _conv_reference(x, w, b, dilation, causal):
    """Direct loops: y[n, o, t] = b[o] + sum_{c,j} w[o, c, j] x[n, c, t + j*d - pad]."""
    k = w.shape[2]
    pad = (k - 1) * dilation if causal else 0
    steps = x.shape[2] + pad - (k - 1) * dilation
    xp = numpy.concatenate([numpy.zeros(x.shape[:2] + (pad,)), x], axis=2)
    y = numpy.zeros((x.shape[0], w.shape[0], steps)) + b[None, :, None]
    for t in range(steps):
        for j in range(k):
            y[:, :, t] += xp[:, :, t + j * dilation] @ w[:, :, j].T
    return y


@pytest.mark.parametrize("kernel, dilation, causal", [(1, 1, True), (2, 1, True), (3, 2, True),
                                                      (2, 3, False)])
def test_conv1d_matches_direct_loops_and_gradchecks(kernel, dilation, causal, check_module,
                                                   randn):
    conv = nn.Conv1d(2, 3, kernel, dilation=dilation, causal=causal, dtype=F64)
    x = randn(2, 2, 7, requires_grad=True)
    y = conv(x)
    expected = _conv_reference(x.numpy(), conv.weight.numpy(), conv.bias.numpy(), dilation,
                               causal)
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    check_module(conv, conv, x)


def test_causal_conv1d_never_sees_the_future(randn):
    conv = nn.Conv1d(1, 1, 3, dilation=2, dtype=F64)
    x = randn(1, 1, 10)
    y = conv(x).numpy()
    later = x.numpy().copy()
    later[0, 0, 6:] += 100.0
    y2 = conv(tg.tensor(later)).numpy()
    numpy.testing.assert_array_equal(y[0, 0, :6], y2[0, 0, :6])
    assert not numpy.allclose(y[0, 0, 6:], y2[0, 0, 6:])


def test_conv1d_errors():
    with pytest.raises(tg.OpError, match=r"Conv1d\(2, 3.*\(4, 5, 2\).*transpose"):
        nn.Conv1d(2, 3, 2)(tg.zeros(4, 5, 2))
    with pytest.raises(tg.OpError, match="too short"):
        nn.Conv1d(1, 1, 3, dilation=2, causal=False)(tg.zeros(1, 1, 4))


@pytest.mark.parametrize("call, who", [
    (lambda: F.conv1d(tg.ones(1, 1, 4), tg.ones(1, 1, 3), dilation=0), "conv1d"),  # was: sums
    (lambda: F.conv1d(tg.ones(1, 1, 4), tg.ones(1, 1, 3), padding=(-1, 0)), "conv1d"),
    (lambda: nn.Conv1d(1, 1, 0), "Conv1d"),
    (lambda: nn.Conv1d(1, 1, 2, dilation=0), "Conv1d"),
])
def test_conv1d_refuses_a_dilation_kernel_or_padding_out_of_range(call, who):
    with pytest.raises(tg.OpError, match=who + r": kernel_size \d+ and dilation \d+ must be"):
        call()


# -------------------------------------------------------------------- init
def _tensor(*shape):
    return nn.Parameter(numpy.zeros(shape))


def test_init_functions_are_in_place_unrecorded_and_reproducible():
    p = _tensor(30, 20)
    with tg.Tape() as tape:
        out = nn.init.xavier_uniform_(p, generator=numpy.random.default_rng(5))
    assert out is p and len(tape) == 0 and p.is_leaf
    bound = math.sqrt(6 / 50)
    assert p.numpy().max() <= bound and p.numpy().min() >= -bound
    q = _tensor(30, 20)
    nn.init.xavier_uniform_(q, generator=numpy.random.default_rng(5))
    numpy.testing.assert_array_equal(p.numpy(), q.numpy())


def test_init_same_seed_same_values_in_float32_and_float64():
    a = nn.Parameter(numpy.zeros((4, 4), numpy.float32))
    b = nn.Parameter(numpy.zeros((4, 4)))
    nn.init.normal_(a, generator=numpy.random.default_rng(1))
    nn.init.normal_(b, generator=numpy.random.default_rng(1))
    numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_init_default_generator_follows_manual_seed():
    tg.manual_seed(11)
    a = nn.init.uniform_(_tensor(5)).numpy().copy()
    tg.manual_seed(11)
    numpy.testing.assert_array_equal(nn.init.uniform_(_tensor(5)).numpy(), a)


def test_init_statistics():
    rng = numpy.random.default_rng(0)
    p = _tensor(400, 300)
    nn.init.kaiming_normal_(p, nonlinearity="relu", generator=rng)
    assert abs(p.numpy().std() - math.sqrt(2 / 300)) < 0.002
    nn.init.xavier_normal_(p, gain=2.0, generator=rng)
    assert abs(p.numpy().std() - 2 * math.sqrt(2 / 700)) < 0.002
    nn.init.kaiming_uniform_(p, a=math.sqrt(5), generator=rng)
    assert abs(p.numpy().max() - 1 / math.sqrt(300)) < 1e-3
    nn.init.constant_(p, 0.5)
    assert numpy.all(p.numpy() == 0.5)
    nn.init.zeros_(p)
    assert numpy.all(p.numpy() == 0)
    nn.init.ones_(p)
    assert numpy.all(p.numpy() == 1)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3)])
def test_orthogonal(shape):
    p = nn.init.orthogonal_(_tensor(*shape), gain=2.0, generator=numpy.random.default_rng(0))
    m = p.numpy().reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    numpy.testing.assert_allclose(gram, 4.0 * numpy.eye(small), atol=1e-12)


def test_eye_for_irnn():
    rnn = nn.RNN(2, 3, nonlinearity="relu", dtype=F64)
    nn.init.eye_(rnn.weight_hh_l0)
    numpy.testing.assert_array_equal(rnn.weight_hh_l0.numpy(), numpy.eye(3))
    numpy.testing.assert_array_equal(nn.init.eye_(_tensor(2, 3), gain=0.5).numpy(),
                                     0.5 * numpy.eye(2, 3))
    with pytest.raises(tg.OpError, match="2-d"):
        nn.init.eye_(_tensor(3))


def test_init_errors():
    with pytest.raises(tg.OpError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(_tensor(3))
    with pytest.raises(tg.OpError, match="mode"):
        nn.init.kaiming_uniform_(_tensor(3, 3), mode="fan_avg")
    with pytest.raises(tg.OpError, match="unknown nonlinearity"):
        nn.init.calculate_gain("swish")


def test_calculate_gain_values():
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))


def test_calculate_gain_knows_every_name_pytorchs_knows():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; nothing to compare")
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
             "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
    for name in names:
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))


# ---------------------------------------------------------------- one_hot
@given(st.lists(st.integers(0, 5), min_size=1, max_size=10))
def test_one_hot_rows_pick_the_class(labels):
    out = F.one_hot(tg.tensor(labels), num_classes=6)
    assert out.dtype == numpy.int64 and out.shape == (len(labels), 6)
    assert numpy.array_equal(out.numpy().argmax(1), labels)
    assert numpy.all(out.numpy().sum(1) == 1)


def test_one_hot_errors_and_default_width():
    assert F.one_hot(tg.tensor([0, 2])).shape == (2, 3)
    with pytest.raises(tg.OpError, match="num_classes"):
        F.one_hot(tg.tensor([0, 4]), num_classes=3)
    with pytest.raises(tg.OpError, match="integer"):
        F.one_hot(tg.tensor([0.0, 1.0]))
    with pytest.raises(tg.OpError, match=r"one_hot: cannot infer .* empty.*Fix: pass num_classes"):
        F.one_hot(numpy.zeros(0, numpy.int64))
    assert F.one_hot(numpy.zeros(0, numpy.int64), num_classes=3).shape == (0, 3)


# --- Embedding padding_idx ------------------------------------------------------------------
def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=-5, dtype=tg.float64)     # negative: counts from the end
    assert emb.padding_idx == 0
    numpy.testing.assert_array_equal(emb.weight.numpy()[0], 0.0)
    plain = nn.Embedding(5, 3, dtype=tg.float64)
    plain.load_state_dict(emb.state_dict())
    ids = numpy.array([[0, 1, 0], [2, 0, 1]])
    for module in (emb, plain):
        y = module(ids)
        (y * y * tg.tensor(numpy.arange(1.0, 4.0))).sum().backward()
    numpy.testing.assert_array_equal(emb(ids).numpy(), plain(ids).numpy())
    numpy.testing.assert_array_equal(emb.weight.grad.numpy()[0], 0.0)
    numpy.testing.assert_array_equal(emb.weight.grad.numpy()[1:], plain.weight.grad.numpy()[1:])


def test_embedding_padding_matches_pytorch():
    torch = pytest.importorskip("torch")
    emb = nn.Embedding(6, 4, padding_idx=2, dtype=tg.float64)
    ref = torch.nn.Embedding(6, 4, padding_idx=2).double()
    ref.load_state_dict({"weight": torch.tensor(emb.weight.numpy())})
    ids = numpy.array([[2, 1, 2, 5], [0, 2, 3, 3]])
    emb(ids).sum().backward()
    ref(torch.tensor(ids)).sum().backward()
    numpy.testing.assert_array_equal(emb.weight.grad.numpy(), ref.weight.grad.numpy())


def test_embedding_padding_idx_outside_the_table_is_refused():
    with pytest.raises(tg.OpError, match="padding_idx 5 is outside the table of 5 rows"):
        nn.Embedding(5, 3, padding_idx=5)
