"""Weight penalties added to a loss: ``loss + lam * nn.l2_penalty(model.parameters())``.

Both return a differentiable 0-d tensor built from tapegrad operations, so
the penalty's gradient arrives through the ordinary backward (and shows up
in the gradient ledger as its own contributions).  ``l2_penalty`` is the
plain sum of squares (no factor 1/2): its gradient is ``2 * p``, so SGD's
``weight_decay=wd`` equals adding ``wd / 2 * l2_penalty`` to the loss.
"""
import tapegrad

from .module import Module


def l1_penalty(params):
    """``sum_p sum |p|`` over ``params`` (tensors, or a Module: its parameters)."""
    return _total(params, lambda p: tapegrad.abs(p).sum(), "l1_penalty")


def l2_penalty(params):
    """``sum_p sum p^2`` over ``params`` (tensors, or a Module: its parameters)."""
    return _total(params, lambda p: (p * p).sum(), "l2_penalty")


def _total(params, term, who):
    if isinstance(params, Module):
        params = params.parameters()
    elif isinstance(params, tapegrad.Tensor):
        params = [params]
    terms = [term(p) for p in params]
    if not terms:
        raise tapegrad.OpError(f"{who}: no parameters given; pass model.parameters() or a list "
                               f"of tensors.")
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
