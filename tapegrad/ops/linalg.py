"""``matmul``: vectors, matrices and batches of matrices, with NumPy's broadcasting;
``addmm``: a matrix product plus a term, as one recorded operation."""

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


def _addmm_sampler(draw, s, dtype):
    n, k, m = (draw(s.st.integers(1, s.MAX_SIDE)) for _ in range(3))
    term_shape = draw(s.st.sampled_from([(n, m), (m,), (1, m), (n, 1), ()]))
    params = draw(s.st.sampled_from([{}, {"beta": 0.5, "alpha": -2.0}]))
    arrays = tuple(draw(s.array(dtype, shape=sh)) for sh in (term_shape, (n, k), (k, m)))
    return arrays, params


def _addmm_reference(input, mat1, mat2, beta=1, alpha=1):
    return beta * input + alpha * ref.matrix_product(mat1, mat2)


def _explain_addmm(exc, input, mat1, mat2, beta=1, alpha=1):
    if getattr(mat1, "ndim", 0) != 2 or getattr(mat2, "ndim", 0) != 2:
        return (f"addmm multiplies two matrices; got operands of {getattr(mat1, 'ndim', 0)} and "
                f"{getattr(mat2, 'ndim', 0)} dimensions. Fix: use input + matmul(a, b) for "
                f"vectors and batches.")
    if mat1.shape[1] != mat2.shape[0]:
        return _explain_matmul(exc, mat1, mat2)
    return (f"the added term of shape {getattr(input, 'shape', ())} does not broadcast to the "
            f"product's shape {(mat1.shape[0], mat2.shape[1])}. Fix: give it that shape, or one "
            f"that broadcasts to it such as ({mat2.shape[1]},).")


@primitive(sampler=_addmm_sampler, reference=_addmm_reference, explain=_explain_addmm,
           saves=(1, 2))
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)`` for matrices, as one recorded operation.

    PyTorch's ``addmm``: ``input`` broadcasts to the product's shape (a bias
    row, say).  A recurrent step's ``x_t W_ih^T + h W_hh^T`` is one record
    instead of two, and one array instead of two.
    """
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise ValueError("addmm needs 2-D operands")
    out = xp.matmul(mat1, mat2)
    if alpha != 1:
        out *= alpha
    term = input if beta == 1 else beta * input
    if getattr(term, "dtype", None) == out.dtype:
        xp.add(out, term, out=out)        # a fresh array: add in place (a term that does not
        return out                        # broadcast to its shape raises)
    total = out + term
    if total.shape != out.shape:
        raise ValueError("the term does not broadcast to the product's shape")
    return total


@addmm.defvjp
def _(g, out, input, mat1, mat2, needs, beta=1, alpha=1):
    ga = g if beta == 1 else beta * g     # the engine sums it to input's shape
    gg = g if alpha == 1 else alpha * g
    g1 = gg @ mat2.swapaxes(-1, -2) if needs[1] else None
    g2 = mat1.swapaxes(-1, -2) @ gg if needs[2] else None
    return (ga if needs[0] else None), g1, g2
