"""``matmul``: vectors, matrices and batches of matrices, with NumPy's broadcasting."""

from ..backend import xp
from ..primitive import primitive
from . import _references as ref


def _matmul_sampler(draw, s, dtype):
    a, b = draw(s.matmul_operands(dtype))
    return (a, b), {}


def _explain_matmul(exc, a, b):
    if getattr(a, "ndim", 0) == 0 or getattr(b, "ndim", 0) == 0:
        return "matmul needs operands with at least one dimension; use * for scalars."
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        return (f"inner dimensions differ: the last dim of the left operand ({k_a}) must equal "
                f"the {'second-to-last' if b.ndim > 1 else 'only'} dim of the right ({k_b}). "
                f"Fix: transpose one operand (x.T / x.mT) or check the layer sizes.")
    return (f"batch dimensions {a.shape[:-2]} and {b.shape[:-2]} do not broadcast. "
            f"Fix: make the leading (batch) dimensions equal or 1.")


@primitive(sampler=_matmul_sampler, reference=ref.matrix_product, explain=_explain_matmul,
           saves=("inputs",))
def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading dims are batches."""
    return xp.matmul(a, b)


@matmul.defvjp
def _(g, out, a, b, needs):
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        return (g * b if needs[0] else None), (g * a if needs[1] else None)
    if a.ndim == 1:                                   # (n,) @ (..., n, m) -> (..., m)
        g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        if needs[0]:
            ga = g2 @ b.swapaxes(-1, -2)              # (..., 1, n): the engine sums to (n,)
        if needs[1]:
            gb = a.reshape((a.shape[0], 1)) @ g2
        return ga, gb
    if b.ndim == 1:                                   # (..., n, k) @ (k,) -> (..., n)
        g2 = g.reshape(g.shape + (1,))
        if needs[0]:
            ga = g2 @ b.reshape((1, b.shape[0]))
        if needs[1]:
            gb = a.swapaxes(-1, -2) @ g2
            gb = gb.reshape(gb.shape[:-1])
        return ga, gb
    if needs[0]:
        ga = g @ b.swapaxes(-1, -2)
    if needs[1]:
        gb = a.swapaxes(-1, -2) @ g
    return ga, gb
