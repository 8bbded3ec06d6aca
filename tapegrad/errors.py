"""Exceptions and the helpers that make their messages name op, shapes and source line."""
import os
import sys


class TapegradError(Exception):
    """Base class of every error tapegrad raises on purpose."""


class OpError(TapegradError, ValueError):
    """An operation got inputs it cannot handle (shapes, axes, dtypes)."""


class BackwardError(TapegradError, RuntimeError):
    """Backward cannot run: released graph, modified saved tensor, bad gradient."""


class InPlaceError(TapegradError, RuntimeError):
    """An in-place operation on a tensor the tape depends on."""


class PrimitiveBugError(TapegradError, RuntimeError):
    """A primitive's vjp returned something of the wrong shape, dtype or count."""


class AnomalyError(TapegradError, FloatingPointError):
    """Raised under ``detect_anomaly`` by the first operation producing NaN or Inf."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: Files inside the package that are written as user code: the example models
#: the drawing command builds, whose lines are the ones worth showing.
_USER_CODE_IN_PACKAGE = frozenset({os.path.join(_PACKAGE_DIR, "viz", "models.py")})


#: filename -> True for files inside tapegrad, filled in as frames are met (the
#: primitive call path reads it directly to skip the walk for user files).
INTERNAL_FILES = {}


def is_internal(filename):
    """True for frames inside the tapegrad package, ``tapegrad.nn`` included, or of Python's
    frozen import machinery: skipped when finding the user's line, so that a label or an
    error names the line that called the module (never ``cells.py:32``)."""
    if filename in _USER_CODE_IN_PACKAGE:
        return False
    return filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen ")


def user_site(depth=1):
    """(code, offset) of the innermost caller outside the tapegrad package.

    Starts ``depth`` frames above the caller; the line number itself is worked
    out only when shown (``f_lineno`` is slow to compute on every operation).
    """
    f = sys._getframe(depth)
    internal = INTERNAL_FILES
    while f is not None:
        code = f.f_code
        fn = code.co_filename
        flag = internal.get(fn)
        if flag is None:
            flag = internal[fn] = is_internal(fn)
        if not flag:
            return code, f.f_lasti
        f = f.f_back
    return None, 0


def line_of(code, lasti):
    """Source line of bytecode offset ``lasti`` in ``code`` (resolved lazily: cheap to record)."""
    if code is None:
        return None
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line
    return code.co_firstlineno


def format_site(code, lasti):
    """``file.py:12`` for a recorded (code, offset) pair."""
    if code is None:
        return "<unknown>"
    return f"{os.path.basename(code.co_filename)}:{line_of(code, lasti)}"


def here():
    """``file.py:12`` of the user's current line."""
    return format_site(*user_site(2))


def describe(value):
    """Short description of an operand: ``Tensor(3, 4) float32`` or ``float 2.0``."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        kind = "Tensor" if type(value).__name__ in ("Tensor", "Parameter") else "array"
        return f"{kind}{tuple(shape)} {dtype}"
    return f"{type(value).__name__} {value!r}"[:60]
