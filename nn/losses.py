"""Loss modules: thin wrappers over `nn.functional` that hold the options.

``reduction`` is 'mean' (default), 'sum' or 'none' (one loss per element or
position), as in PyTorch; it and the other options after ``weight`` are
keyword-only (PyTorch has its deprecated ``size_average``/``reduce`` there).
"""
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, *, reduction="mean"):
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Squared error ``(input - target)^2``; input and target of the same shape."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class _ClassLoss(_Loss):
    """A loss over class indices: ``weight`` (C,) per class and ``ignore_index``."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(reduction=reduction)
        self.weight = weight
        self.ignore_index = ignore_index


class CrossEntropyLoss(_ClassLoss):
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) against class indices.

    ``ignore_index`` (default -100) marks positions to skip (padding); 'mean'
    averages over the others.  ``weight`` (C,) weights the classes (a
    constant: it gets no gradient).  See `nn.functional.cross_entropy`.
    """

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction)


class NLLLoss(_ClassLoss):
    """Negative log-likelihood of log-probabilities (pair it with ``LogSoftmax``)."""

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, in the stable softplus form.

    ``weight`` rescales each element, ``pos_weight`` the positive term (per
    class); both are constants (no gradient).
    """

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(reduction=reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
