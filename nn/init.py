"""Parameter initialisation (PyTorch's ``torch.nn.init``), in place and unrecorded.

Every function overwrites its tensor's values under ``no_grad`` (the tape
never sees initialisation) and returns the tensor.  Random ones draw from
``generator`` (a ``numpy.random.Generator``), by default tapegrad's seeded
global generator (`tapegrad.manual_seed` reseeds it).  Samples are drawn
in float64 and then cast, so the same seed gives the same values in float32
and float64.
"""
import math

import numpy

import tapegrad
from tapegrad.errors import OpError

_LINEAR = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d")
_GAINS = dict.fromkeys(_LINEAR, 1.0) | {"tanh": 5.0 / 3.0, "relu": math.sqrt(2.0),
                                        "selu": 0.75}


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's values).

    ``leaky_relu`` takes its negative slope as ``param`` (default 0.01).
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity not in _GAINS:
        raise OpError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; known: "
                      f"{sorted(_GAINS) + ['leaky_relu']}.")
    return _GAINS[nonlinearity]


def _fill(tensor, values):
    with tapegrad.no_grad():
        tensor.copy_(numpy.asarray(values).astype(tensor.dtype))
    return tensor


def _gen(generator):
    return generator if generator is not None else tapegrad.default_generator()


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples from U(a, b)."""
    return _fill(tensor, _gen(generator).uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples from N(mean, std^2)."""
    return _fill(tensor, _gen(generator).normal(mean, std, size=tensor.shape))


def constant_(tensor, val):
    """Fill ``tensor`` with ``val``, in place; returns it."""
    return _fill(tensor, numpy.full(tensor.shape, val))


def zeros_(tensor):
    """Fill ``tensor`` with zeros, in place; returns it."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill ``tensor`` with ones, in place; returns it."""
    return constant_(tensor, 1.0)


def eye_(tensor, gain=1.0):
    """A 2-d tensor becomes ``gain`` times the identity (rectangular: ones on the diagonal).

    The IRNN initialisation (Le, Jaitly and Hinton, 2015): a ReLU Elman RNN with
    ``weight_hh`` set to the identity and zero biases starts by copying its
    state forward, which lets it learn long dependencies.
    """
    if tensor.ndim != 2:
        raise OpError(f"eye_: needs a 2-d tensor, got shape {tensor.shape}.")
    return _fill(tensor, gain * numpy.eye(*tensor.shape))


def _fans(tensor, name):
    """(fan_in, fan_out) as PyTorch computes them: dims 1 and 0 times the receptive field."""
    if tensor.ndim < 2:
        raise OpError(f"{name}: fan in and fan out need a tensor with at least 2 dimensions, "
                      f"got shape {tensor.shape}. Fix: use uniform_/normal_ for biases.")
    receptive = int(numpy.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity, name):
    fan_in, fan_out = _fans(tensor, name)
    if mode not in ("fan_in", "fan_out"):
        raise OpError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}.")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015).

    ``a=math.sqrt(5)`` gives PyTorch's default for ``Linear``: b = 1/sqrt(fan_in).
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2014), from the QR of a Gaussian.

    Dims after the first are flattened.  The signs of R's diagonal are folded
    into Q so the result is uniformly distributed.
    """
    if tensor.ndim < 2:
        raise OpError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}.")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = numpy.linalg.qr(flat)
    q = q * numpy.sign(numpy.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]
