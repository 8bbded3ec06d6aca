"""Parity with PyTorch in float64: same parameters (state dicts moved both ways through
NumPy), same inputs -> same outputs, final states, and parameter and input gradients."""
import numpy
import pytest

import tapegrad.nn as nn
import tapegrad.nn.functional as F
import tapegrad as tg

torch = pytest.importorskip("torch", reason="PyTorch is not installed; parity tests need it")

TOL = dict(rtol=0, atol=1e-10)
F64 = tg.float64


def _torch_from_tapegrad(ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})


def _tapegrad_from_torch(theirs, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _flat(result):
    out, state = result
    return [out] + (list(state) if isinstance(state, tuple) else [state])


def _weights(rng, tensors):
    return [rng.standard_normal(t.shape) for t in tensors]


def _compare_run(ours, theirs, x, rng, ours_kwargs=None, theirs_args=(), theirs_post=None,
                 state=None):
    """Run both, compare every output, then backprop the same random projection of all
    outputs and compare the parameter and input gradients."""
    x_ours = tg.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    s_ours = s_theirs = None
    if state is not None:
        s_ours = tuple(tg.tensor(s, requires_grad=True) for s in state)
        s_theirs = tuple(torch.tensor(s, requires_grad=True) for s in state)
    args_ours = (x_ours,) if s_ours is None else (x_ours, s_ours if len(s_ours) > 1
                                                           else s_ours[0])
    args_theirs = ((x_theirs,) if s_theirs is None
                   else (x_theirs, s_theirs if len(s_theirs) > 1 else s_theirs[0]))
    outs_ours = _flat(ours(*args_ours, **(ours_kwargs or {})))
    result = theirs(*(theirs_args or args_theirs))
    outs_theirs = _flat(theirs_post(result) if theirs_post else result)
    for a, b in zip(outs_ours, outs_theirs):
        numpy.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    ws = _weights(rng, outs_ours)
    sum(((o * w).sum() for o, w in zip(outs_ours, ws)), tg.tensor(0.0, dtype=F64)).backward()
    sum((o * torch.from_numpy(w)).sum() for o, w in zip(outs_theirs, ws)).backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        numpy.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), **TOL,
                                      err_msg=name)
    numpy.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), **TOL)
    for a, b in zip(s_ours or (), s_theirs or ()):
        numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)


CONFIGS = [
    (nn.RNN, "RNN", dict(nonlinearity="tanh")),
    (nn.RNN, "RNN", dict(nonlinearity="relu")),
    (nn.LSTM, "LSTM", dict()),
    (nn.GRU, "GRU", dict()),
]
IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("ours_cls, name, extra", CONFIGS, ids=IDS)
def test_layers_match_torch_state_dict_from_tapegrad(ours_cls, name, extra, batch_first, rng):
    kw = dict(num_layers=2, bidirectional=True, batch_first=batch_first, **extra)
    ours = ours_cls(3, 4, dtype=F64, **kw)
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64, **kw)
    _torch_from_tapegrad(ours, theirs)
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    _compare_run(ours, theirs, x, rng)


@pytest.mark.parametrize("ours_cls, name, extra", CONFIGS, ids=IDS)
def test_layers_match_torch_state_dict_from_torch_with_initial_state(ours_cls, name, extra,
                                                                      rng):
    kw = dict(num_layers=2, bidirectional=True, **extra)
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64, **kw)
    ours = ours_cls(3, 4, dtype=F64, **kw)
    _tapegrad_from_torch(theirs, ours)
    x = rng.standard_normal((6, 2, 3))
    parts = 2 if ours_cls is nn.LSTM else 1
    state = tuple(rng.standard_normal((4, 2, 4)) for _ in range(parts))
    _compare_run(ours, theirs, x, rng, state=state)


@pytest.mark.parametrize("ours_cls, name, extra", CONFIGS, ids=IDS)
def test_lengths_match_packed_sequences(ours_cls, name, extra, rng):
    kw = dict(num_layers=2, bidirectional=True, **extra)
    ours = ours_cls(3, 4, dtype=F64, **kw)
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64, **kw)
    _torch_from_tapegrad(ours, theirs)
    lengths = [3, 6, 1, 4]
    x = rng.standard_normal((6, 4, 3))
    x_theirs = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x_theirs, lengths, enforce_sorted=False)

    def unpack(result):
        out, state = result
        padded, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=6)
        return padded, state

    x_ours = tg.tensor(x, requires_grad=True)
    outs_ours = _flat(ours(x_ours, lengths=lengths))
    outs_theirs = _flat(unpack(theirs(packed)))
    for a, b in zip(outs_ours, outs_theirs):
        numpy.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    ws = _weights(rng, outs_ours)
    sum((o * w).sum() for o, w in zip(outs_ours, ws)).backward()
    sum((o * torch.from_numpy(w)).sum() for o, w in zip(outs_theirs, ws)).backward()
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        numpy.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(), **TOL)
    numpy.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), **TOL)


@pytest.mark.parametrize("ours_cls, name, kw", [
    (nn.RNNCell, "RNNCell", dict(nonlinearity="tanh")),
    (nn.RNNCell, "RNNCell", dict(nonlinearity="relu")),
    (nn.LSTMCell, "LSTMCell", dict()),
    (nn.GRUCell, "GRUCell", dict()),
], ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_cells_match_torch(ours_cls, name, kw, rng):
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64, **kw)
    ours = ours_cls(3, 4, dtype=F64, **kw)
    _tapegrad_from_torch(theirs, ours)
    x = rng.standard_normal((2, 3))
    parts = 2 if ours_cls is nn.LSTMCell else 1
    state = tuple(rng.standard_normal((2, 4)) for _ in range(parts))
    x_ours, x_theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    s_ours = tuple(tg.tensor(s, requires_grad=True) for s in state)
    s_theirs = tuple(torch.tensor(s, requires_grad=True) for s in state)
    a = ours(x_ours, s_ours if parts == 2 else s_ours[0])
    b = theirs(x_theirs, s_theirs if parts == 2 else s_theirs[0])
    a, b = (a, b) if parts == 2 else ((a,), (b,))
    ws = _weights(rng, a)
    for u, v in zip(a, b):
        numpy.testing.assert_allclose(u.numpy(), v.detach().numpy(), **TOL)
    sum((u * w).sum() for u, w in zip(a, ws)).backward()
    sum((v * torch.from_numpy(w)).sum() for v, w in zip(b, ws)).backward()
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        numpy.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(), **TOL)
    for u, v in zip((x_ours,) + s_ours, (x_theirs,) + s_theirs):
        numpy.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), **TOL)


def test_feed_forward_layers_match_torch(rng):
    x = rng.standard_normal((2, 3, 7))
    pairs = [
        (nn.Linear(7, 4, dtype=F64), torch.nn.Linear(7, 4, dtype=torch.float64), None),
        (nn.LayerNorm(7, dtype=F64), torch.nn.LayerNorm(7, dtype=torch.float64), None),
        (nn.LayerNorm(7, bias=False, dtype=F64),
         torch.nn.LayerNorm(7, bias=False, dtype=torch.float64), None),
        (nn.Conv1d(3, 2, 3, dilation=2, causal=False, dtype=F64),
         torch.nn.Conv1d(3, 2, 3, dilation=2, dtype=torch.float64), None),
        # causal: torch pads both sides, so keep the first T outputs
        (nn.Conv1d(3, 2, 3, dilation=2, dtype=F64),
         torch.nn.Conv1d(3, 2, 3, dilation=2, padding=4, dtype=torch.float64),
         lambda y: y[:, :, :7]),
    ]
    for ours, theirs, post in pairs:
        with torch.no_grad():
            for p in theirs.parameters():
                p.uniform_(-1, 1)
        _tapegrad_from_torch(theirs, ours)
        x_ours, x_theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        a = ours(x_ours)
        b = theirs(x_theirs)
        b = post(b) if post else b
        numpy.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
        w = rng.standard_normal(a.shape)
        (a * w).sum().backward()
        (b * torch.from_numpy(w)).sum().backward()
        theirs_params = dict(theirs.named_parameters())
        for pname, p in ours.named_parameters():
            numpy.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(),
                                          **TOL)
        numpy.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), **TOL)


def test_load_state_dict_takes_torch_tensors_directly(rng):
    theirs = torch.nn.GRU(3, 4, num_layers=2, dtype=torch.float64)
    ours = nn.GRU(3, 4, num_layers=2, dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x = rng.standard_normal((5, 2, 3))
    numpy.testing.assert_allclose(ours(tg.tensor(x))[0].numpy(),
                                  theirs(torch.from_numpy(x))[0].detach().numpy(), **TOL)


@pytest.mark.parametrize("padding", [0, 3, (4, 0), (1, 2)])
def test_functional_conv1d_padding_matches_torch(padding, rng):
    x, w, b = rng.standard_normal((2, 3, 7)), rng.standard_normal((4, 3, 3)), rng.standard_normal(4)
    left, right = (padding, padding) if isinstance(padding, int) else padding
    ins_ours = [tg.tensor(v, requires_grad=True) for v in (x, w, b)]
    ins_theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    a = F.conv1d(*ins_ours, padding=padding, dilation=2)
    padded = torch.nn.functional.pad(ins_theirs[0], (left, right))
    c = torch.nn.functional.conv1d(padded, ins_theirs[1], ins_theirs[2], dilation=2)
    numpy.testing.assert_allclose(a.numpy(), c.detach().numpy(), **TOL)
    g = rng.standard_normal(a.shape)
    (a * g).sum().backward()
    (c * torch.from_numpy(g)).sum().backward()
    for u, v in zip(ins_ours, ins_theirs):
        numpy.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), **TOL)


def test_embedding_matches_torch(rng):
    theirs = torch.nn.Embedding(6, 3, dtype=torch.float64)
    ours = nn.Embedding(6, 3, dtype=F64)
    _tapegrad_from_torch(theirs, ours)
    ids = numpy.array([[0, 5, 5], [2, 0, 5]])
    a, b = ours(ids), theirs(torch.from_numpy(ids))
    numpy.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    w = rng.standard_normal(a.shape)
    (a * w).sum().backward()
    (b * torch.from_numpy(w)).sum().backward()
    numpy.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **TOL)


def _loss_parity(ours_fn, theirs_fn, inputs):
    ours_in = [tg.tensor(v, requires_grad=v.dtype.kind == "f") for v in inputs]
    theirs_in = [torch.tensor(v, requires_grad=v.dtype.kind == "f") for v in inputs]
    a, b = ours_fn(*ours_in), theirs_fn(*theirs_in)
    numpy.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    w = numpy.random.default_rng(0).standard_normal(a.shape)
    (a * w).sum().backward()
    (b * torch.from_numpy(w)).sum().backward()
    for u, v in zip(ours_in, theirs_in):
        if u.requires_grad:
            numpy.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_cross_entropy_and_nll_match_torch(shape, reduction, rng):
    logits = rng.standard_normal(shape) * 3
    target = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    target.flat[::4] = -100
    weight = rng.uniform(0.5, 2.0, shape[1])
    _loss_parity(lambda z, y: F.cross_entropy(z, y, reduction=reduction),
                 lambda z, y: torch.nn.functional.cross_entropy(z, y, reduction=reduction),
                 [logits, target])
    _loss_parity(lambda z, y: nn.CrossEntropyLoss(weight, reduction=reduction)(z, y),
                 lambda z, y: torch.nn.CrossEntropyLoss(torch.from_numpy(weight),
                                                        reduction=reduction)(z, y),
                 [logits, target])
    _loss_parity(lambda z, y: nn.NLLLoss(weight, reduction=reduction)(z, y),
                 lambda z, y: torch.nn.NLLLoss(torch.from_numpy(weight), reduction=reduction)(
                     z, y),
                 [logits, target])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_bce_match_torch(reduction, rng):
    a, b = rng.standard_normal((4, 3)) * 4, rng.uniform(0, 1, (4, 3))
    _loss_parity(lambda x, y: nn.MSELoss(reduction=reduction)(x, y),
                 lambda x, y: torch.nn.MSELoss(reduction=reduction)(x, y), [a, b])
    _loss_parity(lambda x, y: nn.BCEWithLogitsLoss(reduction=reduction)(x, y),
                 lambda x, y: torch.nn.BCEWithLogitsLoss(reduction=reduction)(x, y), [a, b])
    w, pos = rng.uniform(0, 2, (4, 1)), rng.uniform(0.5, 3, 3)
    _loss_parity(lambda x, y: nn.BCEWithLogitsLoss(w, reduction=reduction, pos_weight=pos)(x, y),
                 lambda x, y: torch.nn.BCEWithLogitsLoss(torch.from_numpy(w), reduction=reduction,
                                                         pos_weight=torch.from_numpy(pos))(x, y),
                 [a, b])
