"""All operations: primitives (forward + vjp) and the functions composed from them."""
from .arrange import (diag, diagonal, flip, hstack, moveaxis, pad, ravel, repeat_interleave, roll,
                      tile, trace, tril, triu, vstack)
from .broadcast import broadcast_to, expand, reduce_sum, sum_to_shape
from .elementwise import (abs, add, cast, clip, cos, div, elu, eq, exp, ge, gt, isfinite, isnan,
                          le, leaky_relu, log, logical_and, logical_not, logical_or, lt, maximum,
                          minimum, mul, ne, neg, pow, relu, sigmoid, sign, sin, softplus, sqrt,
                          sub, tanh, where)
from .linalg import addmm, matmul
from .math import (arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, ceil, cosh, expm1,
                   floor, hypot, log1p, log2, log10, logaddexp, reciprocal, remainder, round, sinh,
                   square, tan)
from .norms import dist, norm
from .products import dot, einsum, outer, tensordot
from .reduce import (MaxMin, amax, amin, argmax, argmin, log_softmax, logsumexp, max, mean, min,
                     reduce_logsumexp, reduce_max, reduce_min, softmax, sum)
from .sampling import (bernoulli, multinomial, normal, rand_like, randn_like, randperm,
                       uniform)
from .scans import Sorted, argsort, cumprod, cumsum, diff, prod, sort, std, var
from .shape import (cat, chunk, concatenate, expand_dims, flatten, getitem, index_add, permute,
                    reshape, split, split_sizes, squeeze, stack, stack_, swapaxes, transpose,
                    unbind, unbind_, unsqueeze)

clamp = clip
"""PyTorch's name for ``clip``."""

asin = arcsin
"""PyTorch's name for ``arcsin``."""

acos = arccos
"""PyTorch's name for ``arccos``."""

atan = arctan
"""PyTorch's name for ``arctan``."""

atan2 = arctan2
"""PyTorch's name for ``arctan2``."""

asinh = arcsinh
"""PyTorch's name for ``arcsinh``."""

acosh = arccosh
"""PyTorch's name for ``arccosh``."""

atanh = arctanh
"""PyTorch's name for ``arctanh``."""

movedim = moveaxis
"""PyTorch's name for ``moveaxis``."""

repeat = repeat_interleave
"""NumPy's ``repeat``: PyTorch's ``repeat_interleave`` (the method ``x.repeat`` is PyTorch's, NumPy's ``tile``)."""
"""PyTorch's name for ``clip``: the same function."""

__all__ = [
    "abs",
    "acos",
    "acosh",
    "add",
    "addmm",
    "amax",
    "amin",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argsort",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bernoulli",
    "broadcast_to",
    "cast",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clip",
    "concatenate",
    "cos",
    "cosh",
    "cumprod",
    "cumsum",
    "diag",
    "diagonal",
    "diff",
    "dist",
    "div",
    "dot",
    "einsum",
    "elu",
    "eq",
    "exp",
    "expand",
    "expand_dims",
    "expm1",
    "flatten",
    "flip",
    "floor",
    "ge",
    "getitem",
    "gt",
    "hstack",
    "hypot",
    "index_add",
    "isfinite",
    "isnan",
    "le",
    "leaky_relu",
    "log",
    "log10",
    "log1p",
    "log2",
    "log_softmax",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logsumexp",
    "lt",
    "matmul",
    "max",
    "maximum",
    "MaxMin",
    "mean",
    "min",
    "minimum",
    "moveaxis",
    "movedim",
    "mul",
    "multinomial",
    "ne",
    "neg",
    "norm",
    "normal",
    "outer",
    "pad",
    "permute",
    "pow",
    "prod",
    "rand_like",
    "randn_like",
    "randperm",
    "ravel",
    "reciprocal",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_min",
    "reduce_sum",
    "relu",
    "remainder",
    "repeat",
    "repeat_interleave",
    "reshape",
    "roll",
    "round",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "softmax",
    "softplus",
    "sort",
    "Sorted",
    "split",
    "split_sizes",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "stack_",
    "std",
    "sub",
    "sum",
    "sum_to_shape",
    "swapaxes",
    "tan",
    "tanh",
    "tensordot",
    "tile",
    "trace",
    "transpose",
    "tril",
    "triu",
    "unbind",
    "unbind_",
    "uniform",
    "unsqueeze",
    "var",
    "vstack",
    "where",
]
