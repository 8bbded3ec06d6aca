"""Feed-forward layers: Linear, Embedding, Dropout, activations, LayerNorm, causal Conv1d.

Each layer holds its parameters and calls `nn.functional`; the shapes,
parameter names and default initialisations are PyTorch's.  Layers take an
optional ``dtype`` for their parameters (default: tapegrad's default dtype).
Arguments that PyTorch does not have, or has at another position, are
keyword-only, so a call written for PyTorch never binds them by position.
"""
import math

import numpy

import tapegrad
from tapegrad.errors import OpError

from . import functional as F
from . import init
from .module import Module
from .parameter import zero_parameter


def _default_init(weight, bias):
    """PyTorch's default for Linear and Conv1d: the weight by ``kaiming_uniform_(a=sqrt(5))``,
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias (if any) from the same range."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight.numel() // weight.shape[0] if weight.shape[0] else 0
        bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """``y = x @ weight.T + bias``; weight (out_features, in_features).

    Initialised like PyTorch: weight by ``kaiming_uniform_(a=sqrt(5))``, i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and bias from the same range.
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = zero_parameter((out_features, in_features), dtype)
        self.bias = zero_parameter((out_features,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Draw new weights as PyTorch does: U(-1/sqrt(in_features), 1/sqrt(in_features)) for both."""
        _default_init(self.weight, self.bias)

    def forward(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = input.shape[-1] if input.ndim else None
            raise OpError(f"{self.describe()}: input of shape {input.shape} has last dimension "
                          f"{got}, expected {self.in_features}. Fix: feed (..., "
                          f"{self.in_features}) inputs, or build Linear({got}, "
                          f"{self.out_features}).")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: ``embedding(ids)`` is ``weight[ids]``; weight (num, dim) ~ N(0, 1).

    The lookup is indexing, so an id used several times in a batch gets the
    sum of its gradients.  ``padding_idx`` (as in PyTorch): that row starts at
    zero and gets no gradient, so padded positions of a batch never train it.
    """

    input_is_float = False      # ids, checked by forward

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, *, dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise OpError(f"Embedding: padding_idx {padding_idx} is outside the table of "
                              f"{num_embeddings} rows. Fix: an id in [0, {num_embeddings}), "
                              f"or None.")
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.weight = zero_parameter((num_embeddings, embedding_dim), dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw new vectors from N(0, 1); the ``padding_idx`` row (if any) becomes zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with tapegrad.no_grad():
                self.weight[self.padding_idx] = 0.0

    def forward(self, input):
        ids = input.data if isinstance(input, tapegrad.Tensor) else numpy.asarray(input)
        if ids.dtype.kind not in "iu":
            raise OpError(f"{self.describe()}: ids must be "
                          f"integers, got dtype {ids.dtype} (shape {ids.shape}). Fix: "
                          f"tapegrad.tensor(ids, dtype=tapegrad.int64) or ids.long().")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise OpError(f"{self.describe()}: ids range "
                          f"from {ids.min()} to {ids.max()}, outside [0, {self.num_embeddings})."
                          f" Fix: make num_embeddings the vocabulary size (max id + 1).")
        rows = self.weight[ids]
        if self.padding_idx is None:
            return rows
        padded = (ids == self.padding_idx)[..., None]
        if not padded.any():
            return rows
        return tapegrad.where(padded, rows.detach(), rows)   # same values, no gradient there

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """Inverted dropout with probability ``p``, active only in training mode.

    ``generator`` (a ``numpy.random.Generator``) makes the masks reproducible;
    by default they come from tapegrad's seeded global generator.
    """

    def __init__(self, p=0.5, *, generator=None):
        super().__init__()
        F.check_probability(p, "Dropout")
        self.p = p
        self.generator = generator

    def forward(self, input):
        return F.dropout(input, self.p, self.training, generator=self.generator)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then scale (init 1) and shift.

    ``elementwise_affine=False``: neither; ``bias=False``: scale only (PyTorch's arguments).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *,
                 dtype=None):
        super().__init__()
        self.normalized_shape = F._as_shape(normalized_shape)
        self.eps = eps
        affine = bool(elementwise_affine)
        self.weight = init.ones_(zero_parameter(self.normalized_shape, dtype)) if affine else None
        self.bias = zero_parameter(self.normalized_shape, dtype) if affine and bias else None

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.weight is not None}"
                + (", bias=False" if self.weight is not None and self.bias is None else ""))


class Conv1d(Module):
    """Dilated 1-d convolution over (batch, channels, time); causal by default.

    ``causal=True`` pads ``(kernel_size - 1) * dilation`` zeros on the left
    only, so output step t sees inputs t, t-d, ..., t-(k-1)d and never the
    future, and the output is as long as the input: the building block of
    WaveNet and temporal convolutional networks (TCN), the usual non-recurrent
    baseline for sequences.  ``causal=False`` pads nothing (PyTorch's default
    ``padding=0``).  Weight (out_channels, in_channels, kernel_size) and bias
    initialised like PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in =
    in_channels * kernel_size.
    """

    def __init__(self, in_channels, out_channels, kernel_size, *, dilation=1, causal=True,
                 bias=True, dtype=None):
        super().__init__()
        F.check_conv1d(kernel_size, dilation, (0, 0), "Conv1d")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.causal = causal
        self.weight = zero_parameter((out_channels, in_channels, kernel_size), dtype)
        self.bias = zero_parameter((out_channels,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Draw new weights as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in * kernel."""
        _default_init(self.weight, self.bias)

    def forward(self, input):
        if input.ndim != 3 or input.shape[1] != self.in_channels:
            raise OpError(f"{self.describe()}: input of shape {input.shape}, expected (batch, "
                          f"{self.in_channels}, time). Fix: a (batch, time, channels) input "
                          f"needs x.transpose(1, 2); an unbatched one x.unsqueeze(0).")
        pad = ((self.kernel_size - 1) * self.dilation, 0) if self.causal else 0
        return F.conv1d(input, self.weight, self.bias, padding=pad, dilation=self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, causal={self.causal}")


# ------------------------------------------------------------- activations
class Tanh(Module):
    """``tanh(input)``, elementwise, as a module."""
    def forward(self, input):
        return tapegrad.tanh(input)


class Sigmoid(Module):
    """``sigmoid(input)``, elementwise, as a module."""
    def forward(self, input):
        return tapegrad.sigmoid(input)


class ReLU(Module):
    """``relu(input)``, elementwise, as a module."""
    def forward(self, input):
        return tapegrad.relu(input)


class LeakyReLU(Module):
    """``leaky_relu(input, negative_slope)``, elementwise, as a module."""
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input):
        return tapegrad.leaky_relu(input, negative_slope=self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """``elu(input, alpha)``, elementwise, as a module."""
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, input):
        return tapegrad.elu(input, alpha=self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta (PyTorch's linear ``threshold`` shortcut is not needed:
    the primitive is stable for every x)."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def forward(self, input):
        return tapegrad.softplus(input, beta=self.beta)

    def extra_repr(self):
        return f"beta={self.beta}"


class _AlongDim(Module):
    """An activation over one dimension (default the last; see docs/nn.md)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """``softmax(input, dim)`` as a module (``dim`` defaults to -1)."""
    def forward(self, input):
        return tapegrad.softmax(input, self.dim)


class LogSoftmax(_AlongDim):
    """``log_softmax(input, dim)`` as a module (``dim`` defaults to -1)."""
    def forward(self, input):
        return tapegrad.log_softmax(input, self.dim)
