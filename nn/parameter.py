"""``Parameter``: a tensor that a module owns and trains.

A parameter is always a leaf.  Assigning one to a module attribute registers
it; its ``name`` is then the dotted path that ``named_parameters()`` gives it
(``lstm.weight_ih_l0``), which is what the tape listing and the graph renderer
show for it.
"""
import numpy

import tapegrad
from tapegrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad (unless ``requires_grad=False``: frozen).

    ``Parameter(data)`` copies the values of an array, nested list or tensor
    (keeping an array's or tensor's dtype).
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def change_dtype(param, dtype):
    """Re-type ``param`` in place (its gradient too), as ``Module.to(dtype)`` does.

    The public in-place operations keep a tensor's dtype, so the parameter is
    re-initialised with the cast array; it stays the same object (optimizers
    and tied weights keep referring to it) and keeps its name.
    """
    dtype = numpy.dtype(dtype)
    if dtype.kind != "f":
        raise tapegrad.OpError(f"Module.to: parameters must stay floating point; got {dtype}. "
                               f"Use tapegrad.float32 or tapegrad.float64.")
    if param.dtype == dtype:
        return
    name, grad = param.name, param.grad
    Tensor.__init__(param, param.data.astype(dtype), requires_grad=param.requires_grad)
    param.name = name
    param.grad = None if grad is None else tapegrad.tensor(grad.data, dtype=dtype)


def clear_grads(params, set_to_none=True):
    """Forget the gradients of ``params``: ``.grad = None``, or zeros with ``set_to_none=False``.

    What ``Module.zero_grad`` and ``Optimizer.zero_grad`` do (PyTorch's
    argument and default).
    """
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        else:
            p.grad = tapegrad.zeros_like(p.grad)


def zero_parameter(shape, dtype=None):
    """A zero-filled parameter of ``shape`` (default dtype: tapegrad's), to be initialised."""
    dtype = tapegrad.get_default_dtype() if dtype is None else numpy.dtype(dtype)
    return Parameter(numpy.zeros(shape, dtype=dtype))
