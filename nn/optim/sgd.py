"""Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay."""
import numpy

from .optimizer import Optimizer, OptimizerError, _nonnegative


class SGD(Optimizer):
    """PyTorch's SGD.  With ``g = grad + weight_decay * p``:

        b = g                                   (first step)
        b = momentum * b + (1 - dampening) * g  (later steps)
        g = g + momentum * b  if nesterov  else  b      (only when momentum != 0)
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        _nonnegative(self, group, "momentum")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise OptimizerError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0, "
                                 f"got momentum={group['momentum']}, "
                                 f"dampening={group['dampening']}.")

    def update(self, param, grad, state, group):
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = numpy.array(grad, copy=True)
            else:
                buf = momentum * buf + (1 - group["dampening"]) * grad
            state["momentum_buffer"] = buf
            grad = grad + momentum * buf if group["nesterov"] else buf
        return param - group["lr"] * grad
