"""Stateless building blocks (PyTorch's ``torch.nn.functional``), composed from tapegrad ops.

Nothing here has a hand-written backward: every function is a few tapegrad
operations, so the tape shows exactly what a loss or a layer is made of.
Losses are computed stably (``log_softmax``, ``softplus``; never
``log(softmax(x))`` or ``log(sigmoid(x))``).  Arguments that sit at another
position in PyTorch (after its deprecated ``size_average``/``reduce``, or
its ``stride``) are keyword-only, so a PyTorch-style call cannot misbind them.
"""
import numpy

import tapegrad
from tapegrad import (elu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus,  # noqa: F401
                      tanh)
from tapegrad.errors import OpError
from tapegrad.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ layers
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` with ``weight`` of shape (out_features, in_features)."""
    y = input @ weight.T
    return y if bias is None else y + bias


def dropout(input, p=0.5, training=True, *, generator=None):
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    The identity when ``training`` is False or ``p`` is 0.  The mask is drawn
    from ``generator`` (a ``numpy.random.Generator``; default: tapegrad's
    seeded global generator), so a seeded generator reproduces it.
    """
    check_probability(p, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    gen = generator if generator is not None else tapegrad.default_generator()
    keep = gen.random(input.shape) >= p
    return input * (keep.astype(input.dtype) / input.dtype.type(1.0 - p))


def check_probability(p, who, name="p"):
    """Raise naming ``who`` unless the dropout probability ``p`` lies in [0, 1]."""
    if not 0.0 <= p <= 1.0:
        raise OpError(f"{who}: {name} must be a probability in [0, 1], got {p}. Fix: {name} is "
                      f"the fraction of values zeroed, e.g. 0.1.")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance); scale, shift."""
    shape = _as_shape(normalized_shape)
    if input.ndim < len(shape) or tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise OpError(f"layer_norm: input of shape {input.shape} does not end in the normalized "
                      f"shape {shape}. Fix: LayerNorm(normalized_shape) must be the size of the "
                      f"last dimension(s) of its input, here {input.shape[-len(shape):]}.")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centred = input - input.mean(dims, keepdim=True)
    var = (centred * centred).mean(dims, keepdim=True)
    y = centred / tapegrad.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def conv1d(input, weight, bias=None, *, padding=0, dilation=1):
    """1-d convolution (cross-correlation, like PyTorch) over input (batch, channels, time).

    ``weight`` is (out_channels, in_channels, kernel_size).  ``padding`` is
    one int (both sides, PyTorch's meaning) or a ``(left, right)`` pair -- a
    tapegrad extension: ``((kernel_size - 1) * dilation, 0)`` makes the
    convolution causal.  Built as an unfold (one slice per kernel tap,
    stacked) followed by one matrix product.
    """
    if input.ndim != 3 or weight.ndim != 3 or input.shape[1] != weight.shape[1]:
        raise OpError(f"conv1d: input {input.shape} and weight {weight.shape} do not fit: input "
                      f"must be (batch, in_channels, time) and weight (out_channels, in_channels,"
                      f" kernel_size) with the same in_channels. Fix: for a (batch, time, "
                      f"channels) input use x.transpose(1, 2).")
    left, right = (padding, padding) if isinstance(padding, int) else padding
    out_ch, in_ch, k = weight.shape
    check_conv1d(k, dilation, (left, right), "conv1d")
    batch, _, steps = input.shape
    span = (k - 1) * dilation
    if left or right:
        pads = [tapegrad.zeros(batch, in_ch, n, dtype=input.dtype) for n in (left, right)]
        input = tapegrad.cat([pads[0], input, pads[1]], dim=2)
    t_out = steps + left + right - span
    if t_out < 1:
        raise OpError(f"conv1d: input of {steps} time steps is too short for kernel_size {k} "
                      f"with dilation {dilation} (span {span + 1}) and padding ({left}, "
                      f"{right}). Fix: pad the input or use a smaller kernel/dilation.")
    if k == 1:
        cols = input
    else:
        taps = [input[:, :, j * dilation:j * dilation + t_out] for j in range(k)]
        cols = tapegrad.stack(taps, dim=2).reshape(batch, in_ch * k, t_out)
    y = weight.reshape(out_ch, in_ch * k) @ cols
    return y if bias is None else y + bias.reshape(out_ch, 1)


def check_conv1d(kernel_size, dilation, padding, who):
    """Raise naming ``who`` unless kernel_size, dilation >= 1 and both paddings are >= 0."""
    if kernel_size < 1 or dilation < 1 or min(padding) < 0:
        raise OpError(f"{who}: kernel_size {kernel_size} and dilation {dilation} must be at "
                      f"least 1 and the padding {tuple(padding)} at least 0. Fix: a "
                      f"dilation of 1 is a plain convolution; padding=0 pads nothing.")


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding of integer class indices (``num_classes=-1``: max + 1).

    Like PyTorch the result is int64; call ``.float()`` to feed it to a layer.
    """
    idx = _index_array(tensor, "one_hot")
    if num_classes == -1 and not idx.size:
        raise OpError(f"one_hot: cannot infer the number of classes from an empty tensor "
                      f"(shape {idx.shape}). Fix: pass num_classes.")
    n = int(idx.max()) + 1 if num_classes == -1 else int(num_classes)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise OpError(f"one_hot: class indices must lie in [0, {n}); got values from "
                      f"{idx.min()} to {idx.max()}. Fix: pass num_classes large enough.")
    return tapegrad.tensor(numpy.eye(n, dtype=numpy.int64)[idx])


# ------------------------------------------------------------------ losses
def mse_loss(input, target, *, reduction="mean"):
    """Mean (or summed, or per-element) squared error; shapes must match exactly.

    Unlike PyTorch, which only warns, a target whose shape differs from the
    input's is an error: silent broadcasting of (N, 1) against (N,) is a
    classic bug.
    """
    _check_reduction(reduction, "mse_loss")
    if tuple(target.shape) != tuple(input.shape):
        raise OpError(f"mse_loss: input shape {input.shape} and target shape {target.shape} "
                      f"differ; they must be equal (broadcasting would compare the wrong "
                      f"pairs). Fix: reshape the target, e.g. target.reshape{input.shape}.")
    diff = input - target
    return _reduce(diff * diff, reduction)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Cross-entropy of logits ``input`` against integer class indices ``target``.

    Shapes as in PyTorch: input (N, C) with target (N,); input (N, C, d1, ...)
    with target (N, d1, ...); input (C,) with a 0-d target.  For sequence
    logits (T, B, C) flatten first: ``cross_entropy(logits.reshape(-1, C),
    targets.reshape(-1))``.  Positions whose target is ``ignore_index`` add
    nothing; 'mean' divides by the number of the others (by their summed
    class ``weight`` if given, a constant) -- PyTorch's convention.  Computed as
    ``nll_loss(log_softmax(input))``: stable for any logit magnitude.
    """
    return _nll(input, target, weight, ignore_index, reduction, "cross_entropy", logits=True)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (e.g. from ``log_softmax``).

    Same shapes, ``weight``, ``ignore_index`` and ``reduction`` as `cross_entropy`.
    """
    return _nll(input, target, weight, ignore_index, reduction, "nll_loss", logits=False)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean",
                                     pos_weight=None):
    """Binary cross-entropy of logits ``input`` against targets in [0, 1] (same shape).

    Computed as ``(1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)`` -- the
    softplus form, exact for large |x| where ``log(sigmoid(x))`` overflows.
    ``weight`` rescales each element; ``pos_weight`` (per class, broadcast
    over the last dim) weights the positive term.  Both are constants (no
    gradient), cast to the input's dtype.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    if tuple(target.shape) != tuple(input.shape):
        raise OpError(f"binary_cross_entropy_with_logits: target shape {target.shape} differs "
                      f"from input shape {input.shape}; they must be equal. Fix: reshape the "
                      f"target (one probability per logit).")
    if pos_weight is None:
        loss = softplus(input) - input * target
    else:
        pos_weight = _constant(pos_weight, input.dtype)
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * softplus(-input)
    if weight is not None:
        loss = loss * _constant(weight, input.dtype)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------- helpers
def _nll(input, target, weight, ignore_index, reduction, name, logits):
    _check_reduction(reduction, name)
    idx = _index_array(target, name)
    shape_in = tuple(input.shape)
    out_shape = (() if input.ndim <= 1 else (input.shape[0],) + tuple(input.shape[2:]))
    if input.ndim == 0 or tuple(idx.shape) != out_shape:
        raise OpError(
            f"{name}: target shape {tuple(idx.shape)} does not fit input shape {input.shape}: "
            f"for input (N, C) the target must be (N,), for (N, C, d1, ...) it must be "
            f"(N, d1, ...), for (C,) it must be 0-d -- here {out_shape} -- holding class "
            f"indices. Fix: for sequence logits (T, B, C) flatten both: "
            f"logits.reshape(-1, C), targets.reshape(-1).")
    if input.ndim == 1:                       # unbatched: one row
        input = input.reshape(1, -1)
    classes = input.shape[1]
    if input.ndim > 2:                        # classes last, then one row per position
        axes = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(axes).reshape(-1, classes)
    flat = idx.reshape(-1)
    valid = flat != ignore_index
    bad = valid & ((flat < 0) | (flat >= classes))
    if bad.any():
        value = flat[bad][0]
        raise OpError(f"{name}: target holds class index {value}, but the input has "
                      f"{classes} classes (valid indices 0..{classes - 1}, or ignore_index="
                      f"{ignore_index} to skip a position). Input {shape_in}, target "
                      f"{tuple(idx.shape)}. Fix: check the number of classes of the last "
                      f"layer, or map the labels to 0..C-1.")
    if weight is not None:
        weight = _constant(weight, input.dtype)
        if weight.shape != (classes,):
            raise OpError(f"{name}: weight has shape {weight.shape}, expected ({classes},): one "
                          f"weight per class of the input {shape_in}. Fix: give every class a "
                          f"weight (1.0 for unweighted ones).")
    logp = log_softmax(input, dim=1) if logits else input
    safe = numpy.where(valid, flat, 0)
    picked = logp[numpy.arange(flat.size), safe]
    if weight is None:
        scale = None if valid.all() else valid.astype(logp.dtype)
    else:
        scale = numpy.where(valid, weight[safe], 0)
    losses = -picked if scale is None else picked * -scale
    if reduction == "none":
        return losses.reshape(out_shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / (losses.dtype.type(flat.size) if scale is None else scale.sum())


def _constant(value, dtype):
    """A weight as a plain array of ``dtype``: it gets no gradient and does not upcast."""
    value = value.data if isinstance(value, Tensor) else numpy.asarray(value)
    return value.astype(dtype, copy=False)


def _index_array(target, name):
    idx = target.data if isinstance(target, Tensor) else numpy.asarray(target)
    if idx.dtype.kind not in "iu":
        raise OpError(f"{name}: targets must be integer class indices, got dtype {idx.dtype} "
                      f"(shape {idx.shape}). Fix: tapegrad.tensor(labels, dtype=tapegrad.int64)"
                      f" or target.long(); class probabilities as targets are not supported.")
    return idx


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise OpError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}.")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_shape(shape):
    return (int(shape),) if isinstance(shape, (int, numpy.integer)) else tuple(shape)

__all__ = ["linear", "dropout", "layer_norm", "conv1d", "one_hot", "mse_loss", "cross_entropy",
           "nll_loss", "binary_cross_entropy_with_logits", "relu", "leaky_relu", "elu", "tanh", "sigmoid",
           "softplus", "softmax", "log_softmax"]
