"""Losses: values against NumPy references, gradients (float64 gradcheck), stability, errors."""
import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad.nn as nn
import tapegrad.nn.functional as F
import tapegrad as tg


def _log_softmax(z, axis):
    m = z.max(axis, keepdims=True)
    return z - m - numpy.log(numpy.exp(z - m).sum(axis, keepdims=True))


def _ce_reference(logits, target, weight=None, ignore_index=-100, reduction="mean"):
    """Cross-entropy by explicit loops over positions (class dim 1)."""
    logp = _log_softmax(logits, 1)
    losses = numpy.zeros(target.shape)
    weights = numpy.zeros(target.shape)
    for pos in numpy.ndindex(*target.shape):
        y = target[pos]
        if y == ignore_index:
            continue
        w = 1.0 if weight is None else weight[y]
        index = (pos[0], y) + pos[1:]
        losses[pos] = -w * logp[index]
        weights[pos] = w
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / weights.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2), (2, 3, 2, 2)])
def test_cross_entropy_values_and_gradcheck(shape, reduction, rng):
    logits = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    target = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    loss = F.cross_entropy(logits, target, reduction=reduction)
    numpy.testing.assert_allclose(loss.numpy(),
                                  _ce_reference(logits.numpy(), target, reduction=reduction),
                                  rtol=1e-12)
    tg.gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction), (logits,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_ignore_index_and_class_weights(reduction, rng):
    logits = tg.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    target = numpy.array([0, 2, -100, 1, -100, 2])
    weight = numpy.array([0.5, 2.0, 1.5])
    loss = nn.CrossEntropyLoss(weight=weight, reduction=reduction)(logits, tg.tensor(target))
    expected = _ce_reference(logits.numpy(), target, weight, reduction=reduction)
    numpy.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    tg.gradcheck(lambda z: F.cross_entropy(z, target, weight, reduction=reduction), (logits,))
    loss.sum().backward()
    assert numpy.all(logits.grad.numpy()[[2, 4]] == 0)


def test_cross_entropy_mean_is_over_non_ignored_positions(rng):
    logits = tg.tensor(rng.standard_normal((4, 3)))
    target = numpy.array([1, 7, 7, 0])
    full = F.cross_entropy(logits[numpy.array([0, 3])], numpy.array([1, 0]))
    numpy.testing.assert_allclose(F.cross_entropy(logits, target, ignore_index=7).numpy(),
                                  full.numpy(), rtol=1e-12)


def test_cross_entropy_unbatched_and_sequence_flattening(rng):
    z = tg.tensor(rng.standard_normal(4))
    numpy.testing.assert_allclose(F.cross_entropy(z, numpy.array(2)).numpy(),
                                  -_log_softmax(z.numpy()[None], 1)[0, 2], rtol=1e-12)
    seq = tg.tensor(rng.standard_normal((5, 2, 3)))       # (T, B, C) logits
    targets = rng.integers(0, 3, size=(5, 2))
    loss = F.cross_entropy(seq.reshape(-1, 3), targets.reshape(-1))
    numpy.testing.assert_allclose(loss.numpy(),
                                  _ce_reference(seq.numpy().reshape(-1, 3),
                                                targets.reshape(-1)), rtol=1e-12)


@given(hnp.arrays(numpy.float64, (3, 4), elements=st.floats(-1e4, 1e4)))
def test_cross_entropy_is_stable_for_huge_logits(z):
    logits = tg.tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, numpy.array([0, 1, 3]))
    loss.backward()
    assert numpy.isfinite(loss.item()) and numpy.all(numpy.isfinite(logits.grad.numpy()))
    numpy.testing.assert_allclose(loss.item(),
                                  _ce_reference(z, numpy.array([0, 1, 3])), rtol=1e-9,
                                  atol=1e-9)


def _softmax(z):
    e = numpy.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@given(st.sampled_from([numpy.float32, numpy.float64]), st.floats(1.0, 1e30),
       hnp.arrays(numpy.float64, (3, 4), elements=st.floats(-1, 1)))
def test_cross_entropy_gradient_is_softmax_minus_one_hot_at_any_scale(dtype, scale, unit):
    """Near-ties at huge magnitudes: the gradient's softmax must still sum to one."""
    z = (unit * scale).astype(dtype)
    z[:, 1] = z[:, 2]                                  # an exact tie in every row
    target = numpy.array([0, 1, 3])
    logits = tg.tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, target, reduction="sum")
    loss.backward()
    exact = z.astype(numpy.float64)
    expected = _softmax(exact) - numpy.eye(4)[target]
    tol = 1e-5 if dtype == numpy.float32 else 1e-12
    numpy.testing.assert_allclose(logits.grad.numpy(), expected, rtol=0, atol=tol)
    numpy.testing.assert_allclose(loss.item(), _ce_reference(exact, target, reduction="sum"),
                                  rtol=tol, atol=tol)


def test_softmax_module_sums_to_one_at_huge_logits():
    z = tg.tensor([[0.0, 1e17, 1e17]], dtype=tg.float64)
    numpy.testing.assert_allclose(nn.Softmax(dim=1)(z).numpy(), [[0.0, 0.5, 0.5]])


def test_float32_losses_are_finite_at_extreme_logits():
    z = tg.tensor(numpy.array([[1e38, -1e38, 0.0], [-1e30, 1e30, 1e30]], numpy.float32),
                  requires_grad=True)
    loss = F.cross_entropy(z, numpy.array([1, 0]), reduction="none")
    numpy.testing.assert_allclose(loss.numpy(), [2e38, 2e30], rtol=1e-6)
    loss.sum().backward()
    assert z.grad.dtype == numpy.float32
    numpy.testing.assert_allclose(z.grad.numpy(), [[1, -1, 0], [-1, 0.5, 0.5]], atol=1e-7)
    x = tg.tensor(numpy.array([-1e30, 1e30, 0.0], numpy.float32), requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(x, tg.tensor(numpy.array([1.0, 0.0, 0.5],
                                                                      numpy.float32)),
                                             reduction="none")
    numpy.testing.assert_allclose(bce.numpy(), [1e30, 1e30, numpy.log(2.0)], rtol=1e-6)
    bce.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, 0.0], atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_with_log_softmax_equals_cross_entropy(reduction, rng):
    logits = tg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    target = numpy.array([3, 0, 1, 1, -100])
    a = nn.NLLLoss(reduction=reduction)(nn.LogSoftmax(dim=1)(logits), target)
    b = F.cross_entropy(logits, target, reduction=reduction)
    numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    tg.gradcheck(lambda z: F.nll_loss(z, target, reduction=reduction), (logits,))


def test_nll_loss_is_not_a_kind_of_cross_entropy_loss():
    # a criterion dispatching on isinstance must not feed log-probabilities to a softmax
    assert not isinstance(nn.NLLLoss(), nn.CrossEntropyLoss)
    assert repr(nn.NLLLoss(ignore_index=0)) == "NLLLoss(reduction='mean')"


@pytest.mark.parametrize("target, match", [
    (numpy.array([0, 4, 1]), r"cross_entropy: target holds class index 4.*4 classes.*0\.\.3"),
    (numpy.array([0, -1, 1]), "class index -1"),
    (numpy.array([[0, 1, 2]]), r"target shape \(1, 3\) does not fit input shape \(3, 4\)"),
    (numpy.array([0.0, 1.0, 2.0]), "integer class indices"),
])
def test_cross_entropy_bad_targets_are_explained(target, match):
    with pytest.raises(tg.OpError, match=match):
        nn.CrossEntropyLoss()(tg.zeros(3, 4), target)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_class_weights_of_the_wrong_length_are_explained(loss):
    # one weight short: was NumPy's IndexError, and only when the last class occurred
    with pytest.raises(tg.OpError, match=loss.__name__ + r": weight has shape \(3,\), expected "
                                         r"\(4,\).*Fix"):
        loss(tg.zeros(2, 4), numpy.array([0, 1]), weight=numpy.ones(3))
    with pytest.raises(tg.OpError, match=r"weight has shape \(3,\)"):
        loss(tg.zeros(2, 4), numpy.array([0, 1]), weight=tg.ones(3))


def test_sequence_logits_without_flattening_get_the_fix():
    with pytest.raises(tg.OpError, match=r"reshape\(-1, C\)"):
        F.cross_entropy(tg.zeros(5, 2, 3), numpy.zeros((5, 2), numpy.int64))


def test_bad_reduction():
    with pytest.raises(tg.OpError, match="reduction"):
        nn.MSELoss(reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse(reduction, rng):
    a = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    sq = (a.numpy() - b.numpy()) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    numpy.testing.assert_allclose(nn.MSELoss(reduction=reduction)(a, b).numpy(), expected,
                                  rtol=1e-12)
    tg.gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (a, b))


def test_mse_refuses_broadcasting_shapes():
    with pytest.raises(tg.OpError, match=r"\(4, 1\).*\(4,\).*reshape"):
        F.mse_loss(tg.zeros(4, 1), tg.zeros(4))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction, rng):
    x = tg.tensor(rng.standard_normal((4, 3)) * 3, requires_grad=True)
    y = tg.tensor(rng.uniform(0, 1, (4, 3)), requires_grad=True)
    p = 1 / (1 + numpy.exp(-x.numpy()))
    ref = -(y.numpy() * numpy.log(p) + (1 - y.numpy()) * numpy.log(1 - p))
    expected = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    numpy.testing.assert_allclose(nn.BCEWithLogitsLoss(reduction=reduction)(x, y).numpy(),
                                  expected, rtol=1e-10)
    tg.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                 (x, y))


def test_bce_with_logits_weights(rng):
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = tg.tensor(rng.integers(0, 2, (4, 3)).astype(float))
    w = numpy.array([[1.0], [0.5], [2.0], [0.0]])
    pos = numpy.array([1.0, 3.0, 0.5])
    p = 1 / (1 + numpy.exp(-x.numpy()))
    ref = -w * (pos * y.numpy() * numpy.log(p) + (1 - y.numpy()) * numpy.log(1 - p))
    loss = nn.BCEWithLogitsLoss(weight=w, pos_weight=pos)(x, y)
    numpy.testing.assert_allclose(loss.numpy(), ref.mean(), rtol=1e-10)
    tg.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, w, pos_weight=pos), (x,))


def test_bce_with_logits_is_stable_at_extreme_logits():
    x = tg.tensor([-800.0, 800.0, 0.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([1.0, 0.0, 1.0], dtype=tg.float64)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    numpy.testing.assert_allclose(loss.numpy(), [800.0, 800.0, numpy.log(2.0)], rtol=1e-12)
    loss.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, -0.5])


def test_bce_shape_mismatch():
    with pytest.raises(tg.OpError, match="binary_cross_entropy_with_logits.*reshape"):
        F.binary_cross_entropy_with_logits(tg.zeros(4, 1), tg.zeros(4))
