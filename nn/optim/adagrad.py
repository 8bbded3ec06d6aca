"""Adagrad (Duchi, Hazan & Singer): per-coordinate steps shrinking with the squared-gradient sum."""
import numpy

from .optimizer import Optimizer, _nonnegative


class Adagrad(Optimizer):
    """PyTorch's Adagrad.  At step t, with ``g = grad + weight_decay * p``:

        s = s + g^2                          (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        for key in ("lr_decay", "initial_accumulator_value", "eps"):
            _nonnegative(self, group, key)

    def update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = numpy.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"] = state["sum"] + grad * grad
        return param - clr * grad / (numpy.sqrt(s) + group["eps"])
