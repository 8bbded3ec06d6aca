"""Adam (Kingma & Ba), its AMSGrad variant, and AdamW (decoupled weight decay)."""
import math

import numpy

from .optimizer import Optimizer, OptimizerError, _nonnegative


class Adam(Optimizer):
    """PyTorch's Adam.  At step t, with ``g = grad + weight_decay * p``:

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)                   (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    decoupled = False   # AdamW: decay the parameter itself instead of adding to the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        _nonnegative(self, group, "eps")
        betas = tuple(group["betas"])
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise OptimizerError(f"{type(self).__name__}: betas must be two numbers in [0, 1), "
                                 f"got {group['betas']!r}.")

    def update(self, param, grad, state, group):
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = numpy.zeros_like(param)
            state["exp_avg_sq"] = numpy.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = numpy.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        if wd != 0:
            if self.decoupled:
                param = param * (1 - lr * wd)
            else:
                grad = grad + wd * param
        m = state["exp_avg"] = state["exp_avg"] + (1 - beta1) * (grad - state["exp_avg"])
        v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = numpy.maximum(state["max_exp_avg_sq"], v)
        step_size = lr / (1 - beta1 ** t)
        denom = numpy.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
        return param - step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p = p * (1 - lr * weight_decay)``
    before the Adam step, and the gradient is left alone."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
