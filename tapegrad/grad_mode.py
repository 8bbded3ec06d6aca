"""``no_grad`` / ``enable_grad``: switch recording off and on, as in PyTorch."""
import functools

from .state import MODES


class _GradMode:
    """Context manager (and decorator) that sets grad mode and restores it."""

    enabled = True

    def __enter__(self):
        self._prev = MODES.grad_enabled
        MODES.grad_enabled = self.enabled

    def __exit__(self, *exc):
        MODES.grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Operations inside record nothing; use for evaluation and optimizer steps."""

    enabled = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    enabled = True


def is_grad_enabled():
    """True when operations on tensors that require grad are being recorded."""
    return MODES.grad_enabled
