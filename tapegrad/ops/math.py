"""More elementwise functions (NumPy's and PyTorch's names), each forward beside its vjp.

Trigonometric, hyperbolic and their inverses, logarithms and exponentials
near 0 (``log1p``, ``expm1``), two-argument ``arctan2``, ``hypot``,
``logaddexp`` and ``remainder``.  ``floor``, ``ceil`` and ``round`` are
recorded with gradient 0 (PyTorch's choice), so a graph through them still
reaches its leaves.  Functions with an exact expression in other primitives
(``square``, ``reciprocal``, ``log2``, ``log10``) are composed.
"""
import builtins
import math

import numpy

from ..backend import xp
from ..primitive import composite, primitive
from . import _references as ref
from .elementwise import _ew, exp, log, sqrt


# ------------------------------------------------------------- trigonometric
@primitive(sampler=_ew(1, "unit"), reference=ref.scalar_map(math.tan), saves=("out",))
def tan(x):
    """Tangent, elementwise."""
    return xp.tan(x)


@tan.defvjp
def _(g, out, x):
    return g * (1.0 + out * out)


@primitive(sampler=_ew(1, "unit"), reference=ref.scalar_map(math.asin))
def arcsin(x):
    """Inverse sine (in [-pi/2, pi/2]), for x in [-1, 1]."""
    return xp.arcsin(x)


@arcsin.defvjp
def _(g, out, x):
    return g / sqrt(1.0 - x * x)


@primitive(sampler=_ew(1, "unit"), reference=ref.scalar_map(math.acos))
def arccos(x):
    """Inverse cosine (in [0, pi]), for x in [-1, 1]."""
    return xp.arccos(x)


@arccos.defvjp
def _(g, out, x):
    return -g / sqrt(1.0 - x * x)


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.atan))
def arctan(x):
    """Inverse tangent (in (-pi/2, pi/2))."""
    return xp.arctan(x)


@arctan.defvjp
def _(g, out, x):
    return g / (1.0 + x * x)


@primitive(sampler=_ew(2, ("nonzero", "any")), reference=ref.scalar_map(math.atan2))
def arctan2(y, x):
    """The angle of the point (x, y): ``arctan(y / x)`` in the right quadrant.

    It jumps by 2 pi across y = 0 for x < 0 (the branch cut): the tests keep y away from 0.
    """
    return xp.arctan2(y, x)


@arctan2.defvjp
def _(g, out, y, x, needs):
    scale = g / (x * x + y * y)
    return (scale * x if needs[0] else None), (-scale * y if needs[1] else None)


# ---------------------------------------------------------------- hyperbolic
@primitive(sampler=_ew(1), reference=ref.scalar_map(math.sinh))
def sinh(x):
    """Hyperbolic sine, elementwise."""
    return xp.sinh(x)


@sinh.defvjp
def _(g, out, x):
    return g * cosh(x)


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.cosh))
def cosh(x):
    """Hyperbolic cosine, elementwise."""
    return xp.cosh(x)


@cosh.defvjp
def _(g, out, x):
    return g * sinh(x)


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.asinh))
def arcsinh(x):
    """Inverse hyperbolic sine."""
    return xp.arcsinh(x)


@arcsinh.defvjp
def _(g, out, x):
    return g / sqrt(x * x + 1.0)


@primitive(sampler=_ew(1, "above_one"), reference=ref.scalar_map(math.acosh))
def arccosh(x):
    """Inverse hyperbolic cosine, for x >= 1."""
    return xp.arccosh(x)


@arccosh.defvjp
def _(g, out, x):
    return g / sqrt(x * x - 1.0)


@primitive(sampler=_ew(1, "unit"), reference=ref.scalar_map(math.atanh))
def arctanh(x):
    """Inverse hyperbolic tangent, for x in (-1, 1)."""
    return xp.arctanh(x)


@arctanh.defvjp
def _(g, out, x):
    return g / (1.0 - x * x)


# ---------------------------------------------------- logarithms, exponentials
@primitive(sampler=_ew(1, "positive"), reference=ref.scalar_map(math.log1p))
def log1p(x):
    """log(1 + x), accurate for tiny x."""
    return xp.log1p(x)


@log1p.defvjp
def _(g, out, x):
    return g / (1.0 + x)


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.expm1), saves=("out",))
def expm1(x):
    """exp(x) - 1, accurate for tiny x."""
    return xp.expm1(x)


@expm1.defvjp
def _(g, out, x):
    return g * (out + 1.0)


@primitive(sampler=_ew(2), reference=ref.scalar_map(
    lambda x, y: math.log(math.exp(x) + math.exp(y))))
def logaddexp(x, y):
    """log(exp(x) + exp(y)), without overflow."""
    return xp.logaddexp(x, y)


@logaddexp.defvjp
def _(g, out, x, y, needs):
    return (g * exp(x - out) if needs[0] else None), (g * exp(y - out) if needs[1] else None)


@primitive(sampler=_ew(2, "nonzero"), reference=ref.scalar_map(math.hypot))
def hypot(x, y):
    """sqrt(x**2 + y**2), without overflow."""
    return xp.hypot(x, y)


@hypot.defvjp
def _(g, out, x, y, needs):
    return (g * x / out if needs[0] else None), (g * y / out if needs[1] else None)


@composite(sampler=_ew(1, "positive"), reference=ref.scalar_map(math.log2))
def log2(x):
    """Base-2 logarithm: log(x) / log(2)."""
    return log(x) * (1.0 / math.log(2.0))


@composite(sampler=_ew(1, "positive"), reference=ref.scalar_map(math.log10))
def log10(x):
    """Base-10 logarithm: log(x) / log(10)."""
    return log(x) * (1.0 / math.log(10.0))


@composite(sampler=_ew(1), reference=ref.scalar_map(lambda x: x ** 2))
def square(x):
    """x * x."""
    return x * x


@composite(sampler=_ew(1, "nonzero"), reference=ref.scalar_map(lambda x: 1.0 / x))
def reciprocal(x):
    """1 / x."""
    return 1.0 / x


# ------------------------------------------------- remainder, rounding (flat)
def _remainder_sampler(draw, s, dtype):
    """Dividend and divisor of one shape, the quotient's fraction in [0.1, 0.9]:
    at least 0.1 |divisor| from every jump."""
    y = draw(s.array(numpy.float64, domain="nonzero"))
    t = draw(s.array(numpy.float64, shape=y.shape))
    whole = numpy.floor(t)
    x = y * (whole + 0.1 + 0.8 * (t - whole))
    return (x.astype(dtype), y.astype(dtype)), {}


@primitive(sampler=_remainder_sampler,
           reference=ref.scalar_map(lambda x, y: x - y * math.floor(x / y)))
def remainder(x, y):
    """``x % y`` with the divisor's sign (Python's and PyTorch's ``remainder``).

    Gradient 1 with respect to ``x``, and ``-floor(x / y)`` with respect to ``y``.
    """
    return xp.remainder(x, y)


@remainder.defvjp
def _(g, out, x, y, needs):
    return (g if needs[0] else None), (-g * floor(x / y) if needs[1] else None)


def _flat_vjp(g, out, x):
    return g * 0.0


@primitive(sampler=_ew(1, "off_grid"), reference=ref.scalar_map(lambda x: float(math.floor(x))),
           saves=())
def floor(x):
    """The largest integer <= x (as a float); gradient 0."""
    return xp.floor(x)


floor.defvjp(_flat_vjp)


@primitive(sampler=_ew(1, "off_grid"), reference=ref.scalar_map(lambda x: float(math.ceil(x))),
           saves=())
def ceil(x):
    """The smallest integer >= x (as a float); gradient 0."""
    return xp.ceil(x)


ceil.defvjp(_flat_vjp)


@primitive(sampler=_ew(1, "off_grid"), saves=(),
           reference=ref.scalar_map(lambda x: float(builtins.round(x))))
def round(x):
    """The nearest integer (halves to even, as NumPy and PyTorch); gradient 0."""
    return xp.round(x)


round.defvjp(_flat_vjp)
