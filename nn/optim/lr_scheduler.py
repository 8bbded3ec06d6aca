"""Learning-rate schedules: ``StepLR`` and ``CosineAnnealingLR`` (PyTorch's names and formulas).

A scheduler sets ``group["lr"]`` of every parameter group from the group's
initial learning rate and the epoch counter; call ``scheduler.step()`` once
per epoch, after ``optimizer.step()``.  The learning rates are computed in
closed form from the epoch (PyTorch's chainable recursion gives the same
values up to rounding, as long as nothing else changes ``lr``).
"""
import math

from .optimizer import OptimizerError


class LRScheduler:
    """Base class: keeps ``base_lrs`` (each group's ``initial_lr``) and ``last_epoch``."""

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        for k, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise OptimizerError(f"{type(self).__name__}: last_epoch={last_epoch} resumes a "
                                     f"schedule, but parameter group {k} has no 'initial_lr'; "
                                     f"load the optimizer's state dict first.")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, epoch):
        """The learning rate of a group with initial rate ``base_lr`` at ``epoch``."""
        raise NotImplementedError

    def step(self):
        """Advance one epoch and set every group's ``lr``."""
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def get_last_lr(self):
        """The learning rates the last `step` set, one per group."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Everything but the optimizer: ``last_epoch``, ``base_lrs`` and the settings."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the scheduler's position and settings from ``state_dict()``'s result."""
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every ``step_size``
    epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) != step_size or step_size < 1:
            raise OptimizerError(f"StepLR: step_size must be a positive integer, got "
                                 f"{step_size!r}.")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Half a cosine from the initial rate down to ``eta_min`` over ``T_max``
    epochs (SGDR without restarts); past ``T_max`` it rises again, as PyTorch's does.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not T_max > 0:
            raise OptimizerError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}.")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        cos = math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + cos) / 2

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]
