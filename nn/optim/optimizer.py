"""``Optimizer``: parameter groups, per-parameter state and the in-place update.

The base class does the bookkeeping PyTorch's does -- parameter groups (a
list of dicts: ``params`` plus hyperparameters), per-parameter state,
``zero_grad``, ``state_dict``/``load_state_dict`` -- and subclasses define
only `Optimizer.update`: the new value of one parameter from its
gradient, as NumPy arithmetic on plain arrays.  The update is written into
the parameter with ``copy_`` under ``tapegrad.no_grad()``, which bumps its
version, so a backward through a graph recorded before the step raises
instead of using stale values.
"""
import numpy

import tapegrad
from tapegrad.errors import TapegradError

from ..parameter import clear_grads


class OptimizerError(TapegradError, ValueError):
    """Invalid hyperparameters, parameters or optimizer state."""


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of tensors, or of dicts (parameter groups)
    each with a ``"params"`` entry and optional per-group hyperparameters;
    ``defaults`` fills in what a group does not set.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}            # parameter -> dict of NumPy arrays and ints
        self.param_groups = []
        if isinstance(params, tapegrad.Tensor):
            raise OptimizerError(f"{type(self).__name__}: params must be an iterable of tensors "
                                 f"or of dicts, got a single tensor; pass [tensor] or "
                                 f"model.parameters().")
        groups = list(params)
        if not groups:
            raise OptimizerError(f"{type(self).__name__} got an empty parameter list; pass "
                                 f"model.parameters() of a model that has parameters.")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a group (a dict with ``"params"``); missing hyperparameters take the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise OptimizerError(f"{type(self).__name__}: a parameter group is a dict with a "
                                 f"'params' entry, got {type(group).__name__}.")
        params = group["params"]
        params = [params] if isinstance(params, tapegrad.Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            _check_parameter(self, p, seen)
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise OptimizerError(f"{type(self).__name__}: unknown hyperparameter(s) "
                                 f"{sorted(unknown)} in a parameter group; known: "
                                 f"{sorted(self.defaults)}.")
        full = dict(self.defaults)
        full.update(group)
        full["params"] = params
        self.check_hyperparameters(full)
        self.param_groups.append(full)

    def check_hyperparameters(self, group):
        """Raise OptimizerError for invalid values in ``group`` (subclasses extend)."""
        _nonnegative(self, group, "lr")
        if "weight_decay" in group:
            _nonnegative(self, group, "weight_decay")

    # ---------------------------------------------------------------- steps
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``.grad = None`` (or zeros with ``set_to_none=False``)."""
        clear_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given.

        ``closure`` (optional) re-evaluates the model and returns the loss,
        with gradients computed, as in PyTorch.
        """
        loss = None
        if closure is not None:
            with tapegrad.enable_grad():
                loss = closure()
        with tapegrad.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.setdefault(p, {})
                    new = self.update(numpy.asarray(p.data), numpy.asarray(p.grad.data),
                                      state, group)
                    p.copy_(new)
        return loss

    def update(self, param, grad, state, group):
        """The new value of one parameter (arrays in, array out); ``state`` is updated in place."""
        raise NotImplementedError

    # ---------------------------------------------------------------- state
    def state_dict(self):
        """``{"state": {index: {name: array or int}}, "param_groups": [...]}``, PyTorch's layout.

        Parameters are numbered across groups in order; each group lists the
        indices of its parameters under ``"params"``.  Arrays are copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by `state_dict`.

        The groups must have the same sizes as this optimizer's; every state
        array must have its parameter's shape (it is cast to its dtype).
        Everything is checked before anything changes.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise OptimizerError(f"{name}.load_state_dict: expected a dict with 'state' and "
                                 f"'param_groups' (what state_dict() returns), got {got}. Fix: "
                                 f"pass optimizer.state_dict(), not the model's.")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise OptimizerError(f"{name}.load_state_dict: the saved state has {len(groups)} "
                                 f"parameter group(s), this optimizer {len(self.param_groups)}.")
        params = {}
        for k, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise OptimizerError(f"{name}.load_state_dict: group {k} has "
                                     f"{len(saved['params'])} parameters in the saved state, "
                                     f"{len(own['params'])} here.")
            params.update(zip(saved["params"], own["params"]))
        new_state = {}
        for i, entries in state_dict["state"].items():
            p = params.get(int(i))
            if p is None:
                raise OptimizerError(f"{name}.load_state_dict: state for parameter index {i}, "
                                     f"which no group lists.")
            new_state[p] = {k: _restore(v, p, k, name) for k, v in entries.items()}
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = tuple(v) if isinstance(v, list) else v
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _check_parameter(opt, p, seen):
    name = type(opt).__name__
    if not isinstance(p, tapegrad.Tensor):
        raise OptimizerError(f"{name}: can only optimize tensors, got {type(p).__name__}.")
    if not p.is_leaf:
        raise OptimizerError(f"{name}: cannot optimize a non-leaf tensor (shape {p.shape}, "
                             f"made by {p.grad_fn.op.name}); optimize the leaves it was "
                             f"computed from, or .detach().requires_grad_() it.")
    if p.dtype.kind != "f":
        raise OptimizerError(f"{name}: can only optimize floating-point tensors, got {p.dtype}.")
    if id(p) in seen:
        raise OptimizerError(f"{name}: a parameter (shape {p.shape}, name {p.name!r}) appears "
                             f"twice; each parameter may be in only one group, once.")


def _nonnegative(opt, group, key):
    if not group[key] >= 0.0:
        raise OptimizerError(f"{type(opt).__name__}: invalid {key} {group[key]!r}; it must be "
                             f">= 0.")


def _copy(value):
    return numpy.array(value, copy=True) if isinstance(value, numpy.ndarray) else value


def _restore(value, p, key, name):
    """A saved state entry as this optimizer keeps it: arrays of the parameter's shape/dtype."""
    if isinstance(value, (numpy.ndarray, tapegrad.Tensor)):
        arr = numpy.array(value, copy=True)
        if arr.shape != p.shape:
            which = f"its parameter {p.name!r}" if p.name else "its parameter"
            raise OptimizerError(f"{name}.load_state_dict: state {key!r} has shape {arr.shape}, "
                                 f"{which} has shape {p.shape}. Fix: build the optimizer over "
                                 f"the same parameters, in the same order, as the saved one.")
        return arr.astype(p.dtype)
    return value
