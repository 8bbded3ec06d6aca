"""tapegrad: a NumPy autograd framework with a reverse-mode tape.

Tensors record the operations applied to them on a tape (a Wengert list);
``backward`` sweeps it in reverse.  See the docs for the tape, the primitives
and gradient checking.
"""
from . import linalg, methods  # noqa: F401  (methods attaches Tensor's operators and methods)
from .anomaly import detect_anomaly
from .backward import grad
from .creation import (arange, bool_, default_generator, eye, float16, float32, float64,
                       from_numpy, full, full_like, get_default_dtype, int32, int64, linspace,
                       manual_seed, ones, ones_like, rand, randint, randn, set_default_dtype,
                       tensor, zeros, zeros_like)
from .errors import (AnomalyError, BackwardError, InPlaceError, OpError, PrimitiveBugError,
                     TapegradError)
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .generator import Generator
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ledger import Contribution, contributions
from .ops import *  # noqa: F401,F403
from .ops import __all__ as _ops_all
from .primitive import COMPOSITES, REGISTRY, Primitive, composite, primitive
from .tape import Record, Tape, scope
from .tensor import Tensor
from .transforms import GaussNewton, Linearization, gnvp, hvp, jvp, linearize, vjp

__all__ = ["Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like", "ones_like",
           "full_like", "arange", "linspace", "eye", "rand", "randn", "randint", "manual_seed",
           "default_generator", "get_default_dtype", "set_default_dtype", "bool_", "float16", "float32",
           "float64", "int32", "int64", "Tape", "Record", "scope", "grad", "no_grad", "enable_grad",
           "is_grad_enabled", "detect_anomaly", "contributions", "Contribution", "gradcheck",
           "gradgradcheck", "GradcheckError", "primitive", "Primitive", "composite", "REGISTRY",
           "COMPOSITES", "TapegradError", "OpError", "BackwardError", "InPlaceError", "PrimitiveBugError",
           "AnomalyError", "jvp", "vjp", "linearize", "hvp", "gnvp", "Linearization",
           "GaussNewton", "Generator", "linalg"] + _ops_all

__version__ = "0.1.0"
