"""``tapegrad.linalg``: linear algebra with ``torch.linalg``'s names, differentiable to any order.

Matrices are the last two dims (leading dims a batch).  Where a decomposition
is not unique, the choice is fixed so that it is a smooth function of the
input: ``cholesky`` and ``eigh`` read the symmetric part of ``a``; each
eigenvector, and each left singular vector, has its largest-magnitude entry
positive; ``qr``'s ``R`` has a non-negative diagonal.  The gradients of
eigenvectors and singular vectors divide by gaps between eigenvalues: they
are infinite at a repeated eigenvalue, where the vectors are not determined
(the eigenvalues' own gradients stay finite).
"""
from collections import namedtuple

from .errors import OpError, here
from .ops import matrix as _matrix
from .ops.linalg import matmul
from .ops.matrix import cholesky, inv, solve
from .ops.norms import eigvalsh, matrix_norm, norm, pinv, svdvals, vector_norm

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])


def det(a):
    """The determinant of square matrices."""
    return _matrix.det(a)


def slogdet(a):
    """(sign, logabsdet): the log of |det| without overflow, and the sign of det."""
    return SlogdetResult(*_matrix.slogdet(a))


def eigh(a):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices.

    Reads the symmetric part of ``a``; each eigenvector's largest-magnitude
    entry is positive.  The gradient exists only for distinct eigenvalues:
    with a repeated one the eigenvectors are not determined.
    """
    return EighResult(*_matrix.eigh(a))


def svd(a, full_matrices=False):
    """(U, S, Vh) with ``a = U @ diag(S) @ Vh``; reduced (``full_matrices=True`` is not
    supported: its extra columns have no gradient)."""
    if full_matrices:
        raise _matrix_error("svd", "full_matrices=True is not supported; use the reduced "
                                   "form (full_matrices=False)")
    return SVDResult(*_matrix.svd(a))


def qr(a, mode="reduced"):
    """(Q, R), reduced: Q with orthonormal columns, R upper triangular with R's diagonal >= 0."""
    if mode != "reduced":
        raise _matrix_error("qr", f"mode {mode!r} is not supported; use mode='reduced'")
    return QRResult(*_matrix.qr(a))


def _matrix_error(opname, what):
    return OpError(f"linalg.{opname}: {what}. At {here()}")


__all__ = ["EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "det", "eigh",
           "eigvalsh", "inv", "matmul", "matrix_norm", "norm", "pinv", "qr", "slogdet", "solve",
           "svd", "svdvals", "vector_norm"]
