"""RMSprop (Hinton): steps divided by a running root-mean-square of the gradient."""
import numpy

from .optimizer import Optimizer, _nonnegative


class RMSprop(Optimizer):
    """PyTorch's RMSprop.  With ``g = grad + weight_decay * p``:

        v = alpha * v + (1 - alpha) * g^2
        a = sqrt(v) + eps            or, centered:  gbar = alpha * gbar + (1 - alpha) * g,
                                                    a = sqrt(v - gbar^2) + eps
        b = momentum * b + g / a,  p = p - lr * b      (momentum > 0)
        p = p - lr * g / a                             (otherwise)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        for key in ("alpha", "eps", "momentum"):
            _nonnegative(self, group, key)

    def update(self, param, grad, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        state["step"] = state.get("step", 0) + 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        v = alpha * _buffer(state, "square_avg", param) + (1 - alpha) * grad * grad
        state["square_avg"] = v
        if group["centered"]:
            gbar = _buffer(state, "grad_avg", param)
            gbar = state["grad_avg"] = gbar + (1 - alpha) * (grad - gbar)
            avg = numpy.sqrt(v - gbar * gbar) + group["eps"]
        else:
            avg = numpy.sqrt(v) + group["eps"]
        if momentum > 0:
            buf = momentum * _buffer(state, "momentum_buffer", param) + grad / avg
            state["momentum_buffer"] = buf
            return param - group["lr"] * buf
        return param - group["lr"] * grad / avg


def _buffer(state, key, param):
    """``state[key]``, zeros like ``param`` the first time."""
    buf = state.get(key)
    return numpy.zeros_like(param) if buf is None else buf
