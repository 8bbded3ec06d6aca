"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's).

Exploding gradients are the classic failure of backpropagation through time;
clipping the global norm keeps each update's direction and bounds its size.
Both functions change the ``.grad`` tensors in place (a gradient does not
require grad, so this is allowed) and skip parameters whose grad is None.
"""
import math

import numpy

import tapegrad
from tapegrad.errors import TapegradError


class NonFiniteNormError(TapegradError, RuntimeError):
    """``clip_grad_norm_(..., error_if_nonfinite=True)`` found a NaN or infinite total norm."""


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their total norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the per-parameter gradient
    norms (``inf``: the largest absolute entry), as if all gradients were
    one vector.  Gradients are multiplied by
    ``min(1, max_norm / (total + 1e-6))``.  Returns the total norm *before*
    clipping, as a 0-d tensor (0.0 when no parameter has a gradient).
    With ``error_if_nonfinite=True`` a NaN or infinite total norm raises
    `NonFiniteNormError` naming the offending parameters, and nothing
    is changed.
    """
    params = _with_grads(parameters)
    if not params:
        return tapegrad.tensor(0.0)
    norm_type = float(norm_type)
    grads = [numpy.asarray(p.grad.data) for p in params]
    dtype = numpy.result_type(*grads)
    norms = numpy.array([_vector_norm(g, norm_type) for g in grads], dtype=dtype)
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not numpy.isfinite(total):
        bad = [p.name or f"#{i} shape {p.shape}" for i, (p, g) in enumerate(zip(params, grads))
               if not numpy.isfinite(g).all()]
        raise NonFiniteNormError(
            f"clip_grad_norm_: the total {norm_type:g}-norm of the gradients is {total}; "
            f"non-finite gradients in: {', '.join(bad) or 'none (the norm overflowed)'}. "
            f"Look for the op that produced them with tapegrad.detect_anomaly(), or pass "
            f"error_if_nonfinite=False to clip anyway.")
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    with tapegrad.no_grad():
        for p in params:
            p.grad.mul_(coef)
    return tapegrad.tensor(total)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    with tapegrad.no_grad():
        for p in _with_grads(parameters):
            p.grad.copy_(numpy.clip(p.grad.data, -clip_value, clip_value))


def _with_grads(parameters):
    if isinstance(parameters, tapegrad.Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _vector_norm(x, norm_type):
    """The ``norm_type``-norm of all entries of ``x`` (as a 0-d array of x's dtype)."""
    a = numpy.abs(x)
    if norm_type == math.inf:
        return a.max() if a.size else numpy.zeros((), x.dtype)
    if norm_type == 0:
        return numpy.asarray(numpy.count_nonzero(a), dtype=x.dtype)
    if norm_type == 1:
        return a.sum()
    if norm_type == 2:
        return numpy.sqrt((a * a).sum())
    return (a ** norm_type).sum() ** (1.0 / norm_type)
