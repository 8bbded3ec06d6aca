"""Elementwise primitives (broadcasting everywhere), each forward beside its vjp.

Subgradient choices at non-differentiable points (documented, PyTorch's):
``relu``/``leaky_relu``/``elu`` use the left derivative at 0, ``abs`` uses 0
at 0, ``maximum``/``minimum`` split the gradient equally between tied inputs,
``clip`` passes the gradient at its bounds, ``sign`` has gradient 0.
``pow`` follows PyTorch at its boundaries: d(x**y)/dx is 0 where y == 0 (even
at x = 0); d(x**y)/dy is 0 where x == 0 and y >= 0, and otherwise
``x**y log(x)``: nan for a negative base, -inf at base 0 for y < 0.
"""
import builtins
import math
import operator

import numpy

from ..backend import xp
from ..primitive import primitive
from . import _references as ref
from ..errors import OpError, here
from ._util import nondifferentiable


def _ew(n, domain=None):
    """Test sampler: ``n`` arrays of mutually broadcastable shapes, values in ``domain``."""
    def sampler(draw, s, dtype):
        return s.elementwise(draw, dtype, n, domain), {}
    return sampler


def _with_params(n, domain, **param_strategies):
    def sampler(draw, s, dtype):
        params = {k: draw(v(s)) for k, v in param_strategies.items()}
        return s.elementwise(draw, dtype, n, domain), params
    return sampler


# ---------------------------------------------------------------- arithmetic
@primitive(sampler=_ew(2), reference=ref.scalar_map(operator.add), saves=())
def add(x, y):
    """``x + y``, broadcasting."""
    return xp.add(x, y)


@add.defvjp
def _(g, out, x, y):
    return g, g


@primitive(sampler=_ew(2), reference=ref.scalar_map(operator.sub), saves=())
def sub(x, y):
    """``x - y``, broadcasting."""
    return xp.subtract(x, y)


@sub.defvjp
def _(g, out, x, y, needs):
    return g, (-g if needs[1] else None)


@primitive(sampler=_ew(2), reference=ref.scalar_map(operator.mul), saves=("inputs",))
def mul(x, y):
    """``x * y``, elementwise, broadcasting."""
    return xp.multiply(x, y)


@mul.defvjp
def _(g, out, x, y, needs):
    return (g * y if needs[0] else None), (g * x if needs[1] else None)


@primitive(sampler=_ew(2, ("any", "nonzero")), reference=ref.scalar_map(operator.truediv))
def div(x, y):
    """``x / y``, true division, broadcasting."""
    return xp.divide(x, y)


@div.defvjp
def _(g, out, x, y, needs):
    gx = g / y
    return (gx if needs[0] else None), (-gx * out if needs[1] else None)


@primitive(sampler=_ew(1), reference=ref.scalar_map(operator.neg), saves=())
def neg(x):
    """``-x``."""
    return xp.negative(x)


@neg.defvjp
def _(g, out, x):
    return -g


@primitive(sampler=_ew(2, ("positive", "any")), reference=ref.scalar_map(math.pow))
def pow(x, y):
    """``x ** y``, broadcasting (gradients at the boundaries as in PyTorch: module docstring)."""
    return xp.power(x, y)


@pow.defvjp
def _(g, out, x, y, needs):
    gx = gy = None
    if needs[0]:
        if type(y) in (int, float):     # a Python exponent (x ** 2): the common case
            gx = g * 0.0 if y == 0 else g * y * x ** (y - 1)
        else:
            # y x**(y-1) is 0 where y == 0 except at x == 0 (0 * inf): masked there,
            # with x ** (1 - 1) in the unused branch so its derivatives stay finite
            # (only there: elsewhere the y-derivative of y x**(y-1) is needed)
            zero = logical_and(y == 0, x == 0)
            gx = where(zero, 0.0, g * y * x ** (where(zero, 1.0, y) - 1))
    if needs[1]:
        flat = logical_and(x == 0, y >= 0)      # 0 ** y for y >= 0: gradient 0
        log_x = log(where(flat, 1.0, x))        # nan for a negative base, as in PyTorch
        if log_x.dtype != out.dtype:    # a Python-number base gives a float64 0-d array
            log_x = cast(log_x, dtype=out.dtype)
        gy = where(flat, 0.0, g * out * log_x)
    return gx, gy


# ------------------------------------------------------------ transcendental
@primitive(sampler=_ew(1), reference=ref.scalar_map(math.exp), saves=("out",))
def exp(x):
    """``e ** x``, elementwise."""
    return xp.exp(x)


@exp.defvjp
def _(g, out, x):
    return g * out


@primitive(sampler=_ew(1, "positive"), reference=ref.scalar_map(math.log))
def log(x):
    """Natural logarithm, elementwise."""
    return xp.log(x)


@log.defvjp
def _(g, out, x):
    return g / x


@primitive(sampler=_ew(1, "positive"), reference=ref.scalar_map(math.sqrt), saves=("out",))
def sqrt(x):
    """Square root, elementwise."""
    return xp.sqrt(x)


@sqrt.defvjp
def _(g, out, x):
    return g / (2.0 * out)


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.sin))
def sin(x):
    """Sine, elementwise."""
    return xp.sin(x)


@sin.defvjp
def _(g, out, x):
    return g * cos(x)


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.cos))
def cos(x):
    """Cosine, elementwise."""
    return xp.cos(x)


@cos.defvjp
def _(g, out, x):
    return -(g * sin(x))


@primitive(sampler=_ew(1), reference=ref.scalar_map(math.tanh), saves=("out",))
def tanh(x):
    """Hyperbolic tangent, elementwise; its vjp reuses the output: ``g * (1 - out ** 2)``."""
    return xp.tanh(x)


@tanh.defvjp
def _(g, out, x):
    return g * (1.0 - out * out)


@primitive(sampler=_ew(1), reference=ref.scalar_map(lambda x: 1.0 / (1.0 + math.exp(-x))),
           saves=("out",))
def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))``.

    Accurate to the last bits in the far negative tail, where ``0.5 + 0.5 tanh(x / 2)``
    rounds to 0 (float32 at x = -20), and faster than tanh; where ``exp(-x)``
    overflows to inf the result is its limit, 0, without a warning.
    """
    with xp.errstate(over="ignore"):
        e = xp.exp(xp.multiply(x, -1.0))
    return 1.0 / (1.0 + e)


@sigmoid.defvjp
def _(g, out, x):
    return g * out * (1.0 - out)


@primitive(sampler=_with_params(1, None, beta=lambda s: s.st.sampled_from([0.5, 1.0, 2.0])),
           reference=ref.scalar_map(lambda x, beta=1.0: math.log(1.0 + math.exp(beta * x)) / beta))
def softplus(x, beta=1.0):
    """log(1 + exp(beta x)) / beta, computed stably for every x."""
    return xp.logaddexp(0.0, beta * x) / beta


@softplus.defvjp
def _(g, out, x, beta=1.0):
    return g * sigmoid(beta * x)


# --------------------------------------------------------- piecewise / kinks
@primitive(sampler=_ew(1, "away_from_zero"), reference=lambda x: x * (x > 0))
def relu(x):
    """``max(x, 0)``, elementwise (gradient 0 at 0)."""
    return xp.maximum(x, 0)


@relu.defvjp
def _(g, out, x):
    # zero where x <= 0; at NaN the gradient passes through, as in PyTorch
    return where(x <= 0, 0.0, g)


@primitive(sampler=_with_params(1, "away_from_zero",
                                negative_slope=lambda s: s.st.sampled_from([0.01, 0.2])),
           reference=ref.scalar_map(lambda x, negative_slope=0.01: x if x > 0
                                    else negative_slope * x))
def leaky_relu(x, negative_slope=0.01):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return xp.where(x > 0, x, x * negative_slope)


@leaky_relu.defvjp
def _(g, out, x, negative_slope=0.01):
    return where(x > 0, g, g * negative_slope)


@primitive(sampler=_with_params(1, "away_from_zero", alpha=lambda s: s.st.sampled_from([1.0, 0.5])),
           reference=ref.scalar_map(lambda x, alpha=1.0: x if x > 0 else alpha * (math.exp(x) - 1)))
def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


@elu.defvjp
def _(g, out, x, alpha=1.0):
    return where(x > 0, g, g * (out + alpha))


@primitive(sampler=_ew(1, "away_from_zero"), reference=ref.scalar_map(math.fabs))
def abs(x):
    """Absolute value, elementwise (gradient 0 at 0)."""
    return xp.abs(x)


@abs.defvjp
def _(g, out, x):
    return g * sign(x)


@primitive(sampler=_ew(2, "distinct"), reference=ref.scalar_map(builtins.max))
def maximum(x, y):
    """Elementwise maximum of ``x`` and ``y``; a tie splits the gradient in half."""
    return xp.maximum(x, y)


@maximum.defvjp
def _(g, out, x, y):
    gx = where(x > y, g, where(x == y, 0.5 * g, 0.0))
    return gx, g - gx


@primitive(sampler=_ew(2, "distinct"), reference=ref.scalar_map(builtins.min))
def minimum(x, y):
    """Elementwise minimum of ``x`` and ``y``; a tie splits the gradient in half."""
    return xp.minimum(x, y)


@minimum.defvjp
def _(g, out, x, y):
    gx = where(x < y, g, where(x == y, 0.5 * g, 0.0))
    return gx, g - gx


def _clamped(x, min=None, max=None):
    """One number clamped, for the test reference."""
    if min is not None and x < min:
        return min
    return max if max is not None and x > max else x


def _clip_sampler(draw, s, dtype):
    (x,) = s.elementwise(draw, dtype, 1, "clip_safe")
    lo, hi = draw(s.st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.3, None)]))
    return (x,), {"min": lo, "max": hi}


@primitive(sampler=_clip_sampler, reference=ref.scalar_map(_clamped), name="clip")
def clip_(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    return xp.clip(x, min, max)


def clip(x, min=None, max=None, *, a_min=None, a_max=None):
    """Clamp into [min, max] (either bound may be None); PyTorch's ``clamp``, and NumPy's
    ``clip`` with its ``a_min``/``a_max`` names."""
    if a_min is not None or a_max is not None:
        if min is not None or max is not None:
            raise OpError(f"clip: give min/max or a_min/a_max, not both. At {here()}")
        min, max = a_min, a_max
    return clip_(x, min=min, max=max)


@clip_.defvjp
def _(g, out, x, min=None, max=None):
    inside = (x >= min) if min is not None else None
    if max is not None:
        inside = (x <= max) if inside is None else logical_and(inside, x <= max)
    return where(inside, g, 0.0)


def _where_sampler(draw, s, dtype):
    x, y = s.elementwise(draw, dtype, 2, None)
    cond = draw(s.bool_array(numpy.broadcast_shapes(x.shape, y.shape)))
    return (cond, x, y), {}


@primitive(sampler=_where_sampler, reference=ref.scalar_map(lambda c, x, y: x if c else y))
def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y`` (broadcasting); no gradient to condition."""
    return xp.where(condition, x, y)


@where.defvjp
def _(g, out, condition, x, y, needs):
    gx = where(condition, g, 0.0) if needs[1] else None
    gy = where(condition, 0.0, g) if needs[2] else None
    return None, gx, gy


def _cast_sampler(draw, s, dtype):
    (x,) = s.elementwise(draw, dtype, 1, None)
    return (x,), {"dtype": numpy.dtype(numpy.float64 if dtype == numpy.float32 else numpy.float32)}


@primitive(sampler=_cast_sampler, reference=lambda x, dtype: numpy.array(x.tolist(), dtype),
           saves=())
def cast(x, *, dtype):
    """Convert to ``dtype``; the gradient is converted back to the input's dtype."""
    return x.astype(dtype)


@cast.defvjp
def _(g, out, x, dtype):
    return cast(g, dtype=x.dtype)


# ------------------------------------------------------ no gradient (masks)
@primitive(sampler=_ew(1, "away_from_zero"), reference=lambda x: (x > 0) * 1.0 - (x < 0) * 1.0,
           saves=())
def sign(x):
    """-1, 0 or 1: recorded, with gradient 0 everywhere (PyTorch's choice at 0 too)."""
    return xp.sign(x)


@sign.defvjp
def _(g, out, x):
    return g * 0.0


lt = nondifferentiable(xp.less)
"""``x < y`` elementwise, a bool tensor with no gradient."""
le = nondifferentiable(xp.less_equal)
"""``x <= y`` elementwise, a bool tensor with no gradient."""
gt = nondifferentiable(xp.greater)
"""``x > y`` elementwise, a bool tensor with no gradient."""
ge = nondifferentiable(xp.greater_equal)
"""``x >= y`` elementwise, a bool tensor with no gradient."""
eq = nondifferentiable(xp.equal)
"""``x == y`` elementwise, a bool tensor with no gradient."""
ne = nondifferentiable(xp.not_equal)
"""``x != y`` elementwise, a bool tensor with no gradient."""
logical_and = nondifferentiable(xp.logical_and)
"""Elementwise logical and, a bool tensor with no gradient."""
logical_or = nondifferentiable(xp.logical_or)
"""Elementwise logical or, a bool tensor with no gradient."""
logical_not = nondifferentiable(xp.logical_not)
"""Elementwise logical not, a bool tensor with no gradient."""
isfinite = nondifferentiable(xp.isfinite)
"""True where an element is neither infinite nor NaN; no gradient."""
isnan = nondifferentiable(xp.isnan)
"""True where an element is NaN; no gradient."""
