"""Products: ``einsum`` (a primitive) and ``dot``, ``outer``, ``tensordot`` (composed).

``einsum``'s vjp for an operand is another ``einsum`` of the cotangent with
the other operands, so it differentiates to any order.  Supported equations:
explicit or implicit output, each index at most once per operand (no
diagonals such as ``"ii->i"``; use ``tapegrad.diagonal``), no ``...``.
"""
import builtins
import string

import numpy

from ..backend import xp
from ..errors import OpError, here
from ..primitive import composite, primitive
from ._util import operand
from .linalg import matmul
from .broadcast import broadcast_to
from .shape import permute, reshape


def _parse(equation, n):
    """(operand index strings, output index string) of an einsum ``equation``."""
    eq = equation.replace(" ", "")
    inputs, arrow, output = eq.partition("->")
    terms = inputs.split(",")
    if not arrow:      # implicit output: the indices seen once, in alphabetical order
        output = "".join(sorted(c for c in set(inputs) if inputs.count(c) == 1 and c != ","))
    problem = None
    if len(terms) != n:
        problem = f"the equation names {len(terms)} operand(s) but {n} were given"
    elif "." in eq:
        problem = "'...' is not supported; name every dimension"
    elif builtins.any(len(set(t)) != len(t) for t in terms) or len(set(output)) != len(output):
        problem = ("an index repeats within one operand (a diagonal); take it with "
                   "tapegrad.diagonal first")
    elif not set(output) <= set("".join(terms)):
        problem = "the output names an index no operand has"
    if problem:
        raise OpError(f"einsum: {problem} (equation {equation!r}). At {here()}")
    return terms, output


def _einsum_sampler(draw, s, dtype):
    letters = "ijkl"
    sizes = {c: draw(s.st.integers(1, 3)) for c in letters}
    n = draw(s.st.integers(1, 3))
    terms = ["".join(draw(s.st.permutations(letters))[:draw(s.st.integers(0, 3))])
             for _ in range(n)]
    used = sorted(set("".join(terms)))
    output = "".join(draw(s.st.permutations(used))[:draw(s.st.integers(0, len(used)))])
    arrays = [draw(s.array(dtype, shape=tuple(sizes[c] for c in t))) for t in terms]
    return (",".join(terms) + "->" + output, *arrays), {}


def _einsum_reference(equation, *xs):
    """A loop over every assignment of the indices: products summed into the output."""
    terms, output = _parse(equation, len(xs))
    sizes = {c: x.shape[k] for t, x in zip(terms, xs) for k, c in enumerate(t)}
    letters = sorted(sizes)
    out = numpy.zeros(tuple(sizes[c] for c in output))
    for values in numpy.ndindex(*(sizes[c] for c in letters)):
        at = dict(zip(letters, values))
        term = 1.0
        for t, x in zip(terms, xs):
            term *= float(x[tuple(at[c] for c in t)])
        out[tuple(at[c] for c in output)] += term
    return out


@primitive(sampler=_einsum_sampler, reference=_einsum_reference, saves=("inputs",),
           name="einsum")
def einsum(equation, *operands):
    """Sum of products over the indices an ``equation`` names, e.g. ``"ij,jk->ik"``."""
    _parse(equation, len(operands))
    return xp.einsum(equation, *operands)


@einsum.defvjp
def _(g, out, equation, *operands, needs):
    terms, output = _parse(equation, len(operands))
    grads = [None]                       # the equation itself has no gradient
    for k, (term, x) in enumerate(zip(terms, operands)):
        if not needs[k + 1]:
            grads.append(None)
            continue
        others = [t for j, t in enumerate(terms) if j != k]
        carried = set(output).union(*others)
        kept = "".join(c for c in term if c in carried)
        gk = einsum(",".join([output] + others) + "->" + kept, g,
                    *[o for j, o in enumerate(operands) if j != k])
        if kept != term:      # an index only this operand has: the gradient is constant along it
            gk = broadcast_to(reshape(gk, shape=tuple(n if c in carried else 1
                                                       for c, n in zip(term, x.shape))),
                              shape=tuple(x.shape))
        grads.append(gk)
    return tuple(grads)


# --------------------------------------------------------------- composites
def _vectors_sampler(draw, s, dtype):
    n = draw(s.st.integers(1, 4))
    return (draw(s.array(dtype, shape=(n,))), draw(s.array(dtype, shape=(n,)))), {}


@composite(sampler=_vectors_sampler, reference=lambda x, y: builtins.sum(
    float(a) * float(b) for a, b in zip(x, y)))
def dot(x, y):
    """The inner product of two vectors of equal length (``torch.dot``)."""
    x, y = operand(x, "dot", "input"), operand(y, "dot", "other")
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise OpError(f"dot: needs two vectors of equal length, got shapes {tuple(x.shape)} "
                      f"and {tuple(y.shape)}; use matmul for matrices. At {here()}")
    return matmul(x, y)


def _outer_sampler(draw, s, dtype):
    return (draw(s.array(dtype, min_dims=1, max_dims=1)),
            draw(s.array(dtype, min_dims=1, max_dims=1))), {}


@composite(sampler=_outer_sampler,
           reference=lambda x, y: numpy.array([[a * b for b in y.tolist()] for a in x.tolist()]))
def outer(x, y):
    """The outer product of two vectors: ``out[i, j] = x[i] * y[j]``."""
    x, y = operand(x, "outer", "input"), operand(y, "outer", "vec2")
    return reshape(x, shape=(-1, 1)) * reshape(y, shape=(1, -1))


def _tensordot_sampler(draw, s, dtype):
    k = draw(s.st.integers(0, 2))
    shared = tuple(draw(s.st.integers(1, 3)) for _ in range(k))
    a_rest = tuple(draw(s.st.integers(1, 3)) for _ in range(draw(s.st.integers(0, 2))))
    b_rest = tuple(draw(s.st.integers(1, 3)) for _ in range(draw(s.st.integers(0, 2))))
    a = draw(s.array(dtype, shape=a_rest + shared))
    b = draw(s.array(dtype, shape=shared + b_rest))
    if k and draw(s.st.booleans()):          # the explicit form, axes listed
        return (a, b), {"dims": (list(range(len(a_rest), a.ndim)), list(range(k)))}
    return (a, b), {"dims": k}


def _tensordot_reference(a, b, dims=2):
    if isinstance(dims, int):
        dims = (list(range(a.ndim - dims, a.ndim)), list(range(dims)))
    letters = iter(string.ascii_lowercase)
    ta = [next(letters) for _ in range(a.ndim)]
    tb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(*dims):
        tb[j] = ta[i]
    out = [c for c in ta if c not in tb] + [c for c in tb if c not in ta]
    return _einsum_reference("".join(ta) + "," + "".join(tb) + "->" + "".join(out), a, b)


@composite(sampler=_tensordot_sampler, reference=_tensordot_reference)
def tensordot(a, b, dims=2):
    """Sum over paired dims: the last ``dims`` of ``a`` with the first ``dims`` of ``b``, or
    the lists ``dims=(dims_a, dims_b)``; the remaining dims of ``a`` then ``b``."""
    a, b = operand(a, "tensordot", "a"), operand(b, "tensordot", "b")
    if isinstance(dims, (int, numpy.integer)):
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d % a.ndim for d in dims[0]], [d % b.ndim for d in dims[1]])
    if [a.shape[i] for i in dims_a] != [b.shape[j] for j in dims_b]:
        raise OpError(f"tensordot: the paired dims differ in size: {tuple(a.shape)} dims "
                      f"{dims_a} and {tuple(b.shape)} dims {dims_b}. At {here()}")
    free_a = [i for i in range(a.ndim) if i not in dims_a]
    free_b = [j for j in range(b.ndim) if j not in dims_b]
    k = int(numpy.prod([a.shape[i] for i in dims_a]))
    left = reshape(permute(a, axes=tuple(free_a + dims_a)),
                   shape=(int(numpy.prod([a.shape[i] for i in free_a])), k))
    right = reshape(permute(b, axes=tuple(dims_b + free_b)),
                    shape=(k, int(numpy.prod([b.shape[j] for j in free_b]))))
    return reshape(matmul(left, right),
                   shape=tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))
