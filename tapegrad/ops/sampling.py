"""Random sampling with PyTorch's names: normal, uniform, bernoulli, multinomial, randperm.

Every function draws from ``generator`` (a ``tapegrad.Generator`` or any
``numpy.random.Generator``), by default tapegrad's seeded global one
(``tapegrad.manual_seed`` restarts it).  Samples are constants: no gradient
flows through a draw, as in PyTorch.
"""
import numpy

from ..backend import xp
from ..creation import _float_dtype, _shape, default_generator, get_default_dtype
from ..errors import OpError, here
from ..tensor import TENSOR_TYPES, Tensor


def _gen(generator):
    return default_generator() if generator is None else generator


def _values(x):
    return x._data if type(x) in TENSOR_TYPES else xp.asarray(x)


def _constant(array):
    array = xp.asarray(array)
    array.flags.writeable = False
    return Tensor._make(array, None, -1)


def _float_result(arrays, dtype):
    """The dtype of a sample: ``dtype``, else that of the float tensor arguments, else the
    default dtype (Python numbers never decide it, as in PyTorch)."""
    if dtype is not None:
        return numpy.dtype(dtype)
    floats = [a.dtype for a in arrays if type(a) in TENSOR_TYPES and a.dtype.kind == "f"]
    return numpy.result_type(*floats) if floats else get_default_dtype()


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None):
    """Samples from N(mean, std**2): ``mean``/``std`` numbers or tensors (broadcast), or
    ``size`` for a fixed shape."""
    m, s = _values(mean), _values(std)
    if (s < 0).any():
        raise OpError(f"normal: std must be non-negative, got min {float(s.min())}. "
                      f"At {here()}")
    shape = numpy.broadcast_shapes(m.shape, s.shape) if size is None else _shape((size,))
    out = m + s * _gen(generator).standard_normal(shape)
    return _constant(out.astype(_float_result((mean, std), dtype)))


def uniform(low=0.0, high=1.0, size=None, *, generator=None, dtype=None):
    """Samples from U[low, high): numbers or tensors (broadcast), or ``size`` for a shape."""
    lo, hi = _values(low), _values(high)
    if (hi < lo).any():
        raise OpError(f"uniform: high must be >= low (got low {low!r}, high {high!r}). "
                      f"At {here()}")
    shape = numpy.broadcast_shapes(lo.shape, hi.shape) if size is None else _shape((size,))
    out = lo + (hi - lo) * _gen(generator).random(shape)
    return _constant(out.astype(_float_result((low, high), dtype)))


def bernoulli(p, *, generator=None):
    """1 with probability ``p`` (elementwise), else 0, in ``p``'s float dtype."""
    probs = _values(p)
    if probs.dtype.kind != "f" or (probs < 0).any() or (probs > 1).any():
        raise OpError(f"bernoulli: p must hold floating-point probabilities in [0, 1]; got "
                      f"{probs.dtype} values in [{probs.min()}, {probs.max()}]. At {here()}")
    return _constant((_gen(generator).random(probs.shape) < probs).astype(probs.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of ``input`` (non-negative weights, one row
    or a batch of rows), drawn with probability proportional to the weights; without
    ``replacement`` each category at most once per row."""
    w = _values(input).astype(numpy.float64)
    rows = w.reshape(-1, w.shape[-1]) if w.ndim else w.reshape(1, 1)
    if w.ndim not in (1, 2) or (w < 0).any() or not numpy.isfinite(w).all() \
            or (rows.sum(-1) <= 0).any():
        raise OpError(f"multinomial: input must be a vector or a matrix of non-negative, "
                      f"finite weights with a positive sum per row; got shape {w.shape}. "
                      f"At {here()}")
    if not replacement and num_samples > (rows > 0).sum(-1).min():
        raise OpError(f"multinomial: cannot draw {num_samples} samples without replacement "
                      f"from a row with {(rows > 0).sum(-1).min()} nonzero weights. Fix: "
                      f"replacement=True, or fewer samples. At {here()}")
    gen = _gen(generator)
    out = numpy.array([gen.choice(len(r), size=num_samples, replace=replacement, p=r / r.sum())
                       for r in rows], dtype=numpy.int64)
    return _constant(out.reshape(w.shape[:-1] + (num_samples,)))


def randperm(n, *, generator=None, dtype=numpy.int64):
    """A random permutation of 0 .. n - 1."""
    return _constant(_gen(generator).permutation(n).astype(dtype))


def rand_like(x, *, generator=None, dtype=None):
    """U[0, 1) samples with ``x``'s shape (and float dtype, unless ``dtype`` is given)."""
    return uniform(0.0, 1.0, x.shape, generator=generator,
                   dtype=dtype or _like_dtype(x))


def randn_like(x, *, generator=None, dtype=None):
    """N(0, 1) samples with ``x``'s shape (and float dtype, unless ``dtype`` is given)."""
    return normal(0.0, 1.0, x.shape, generator=generator, dtype=dtype or _like_dtype(x))


def _like_dtype(x):
    return x.dtype if x.dtype.kind == "f" else _float_dtype(None)


__all__ = ["bernoulli", "multinomial", "normal", "rand_like", "randn_like", "randperm",
           "uniform"]
