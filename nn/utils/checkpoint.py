"""Gradient checkpointing: keep a segment's inputs, not its intermediates; recompute in backward.

``checkpoint(fn, *args)`` runs ``fn`` without recording and puts ONE
operation on the tape, whose inputs are the tensor arguments plus the
parameters ``fn`` uses.  Its vjp re-runs ``fn`` with recording on, from
fresh leaves holding the saved argument values, and differentiates that
small graph with `tapegrad.grad`.  The tape therefore holds one
record per checkpointed call instead of one per operation inside it: memory
falls, at the price of a second forward pass during backward.

``checkpoint_sequence`` applies this to a recurrent loop: T steps cut into
segments of about sqrt(T) steps keep sqrt(T) saved states plus, during
backward, one segment's intermediates -- memory ~ sqrt(T) instead of ~ T
(the per-step outputs the caller keeps are not counted).

Recomputation must reproduce the forward exactly.  ``fn`` must be
deterministic given its arguments and parameters, except for draws from
tapegrad's default generator (dropout without ``generator=``): its state is
saved at the forward and replayed for the recomputation.  Other generators
are not replayed.  Higher-order gradients (``create_graph=True``) through a
checkpoint are not supported and raise.
"""
import math

import tapegrad
from tapegrad.errors import BackwardError, OpError
from tapegrad.tensor import TENSOR_TYPES

from ..module import Module


def checkpoint(fn, *args, params=None):
    """``fn(*args)``, recorded as one operation that recomputes ``fn`` during backward.

    ``args`` may nest tensors in tuples and lists (an LSTM state ``(h, c)``);
    other values are passed through unchanged.  ``params``: the tensors
    ``fn`` uses besides its arguments (weights); by default, when ``fn`` is a
    Module or a bound method of one, its ``parameters()``.  A tensor that
    requires grad, is used by ``fn`` and is neither an argument nor in
    ``params`` would silently get no gradient: backward detects it and
    raises.  Returns what ``fn`` returns (tensors, possibly nested in
    tuples/lists).
    """
    arg_tensors, arg_template = _flatten(args)
    params = _params_of(fn) if params is None else list(params)
    inputs = arg_tensors + params
    if not inputs:
        return fn(*args)
    call = _Call(fn, arg_template, len(arg_tensors), params)
    outs = _checkpointed(*inputs, call=call)
    return _unflatten(call.out_template, iter(outs))


def checkpoint_sequence(step_fn, xs, state, segment=None, params=None):
    """Run ``y_t, state = step_fn(x_t, state)`` over time, checkpointing segments of steps.

    ``xs``: a tensor whose first dimension is time, or a list of per-step
    tensors.  ``state``: the initial state (a tensor, a tuple of tensors, or
    None if ``step_fn`` accepts it).  ``segment``: steps per checkpoint,
    default ceil(sqrt(T)).  ``params`` as for `checkpoint`.  Returns
    ``(ys, state)``: the outputs stacked along a new first dimension, and the
    final state.  For a cell whose output is its state:

        step = lambda x, h: (cell(x, h),) * 2          # RNNCell, GRUCell
        step = lambda x, s: (lambda h, c: (h, (h, c)))(*cell(x, s))   # LSTMCell
        ys, h = checkpoint_sequence(step, x, h0, params=cell.parameters())
    """
    steps = len(xs)
    if steps == 0:
        raise OpError("checkpoint_sequence: the sequence is empty; give at least one step.")
    segment = math.ceil(math.sqrt(steps)) if segment is None else int(segment)
    if segment < 1:
        raise OpError(f"checkpoint_sequence: segment must be a positive number of steps, got "
                      f"{segment}.")
    params = _params_of(step_fn) if params is None else list(params)

    def run_segment(state, *chunk):
        per_step = chunk if is_list else tapegrad.unbind(chunk[0], 0)
        ys = []
        for x in per_step:
            y, state = step_fn(x, state)
            ys.append(y)
        return tapegrad.stack(ys), state

    is_list = isinstance(xs, (list, tuple))
    pieces = []
    for start in range(0, steps, segment):
        chunk = xs[start:start + segment]
        ys, state = checkpoint(run_segment, state, *(chunk if is_list else [chunk]),
                               params=params)
        pieces.append(ys)
    return (pieces[0] if len(pieces) == 1 else tapegrad.cat(pieces, dim=0)), state


class _Call:
    """One checkpointed call: how to run ``fn`` forward and recompute it for its vjp."""

    __slots__ = ("fn", "arg_template", "n_args", "params", "out_template", "rng_state")

    def __init__(self, fn, arg_template, n_args, params):
        self.fn = fn
        self.arg_template = arg_template
        self.n_args = n_args
        self.params = params
        self.out_template = None
        self.rng_state = None

    def forward(self, arrays):
        self.rng_state = tapegrad.default_generator().bit_generator.state
        leaves = [tapegrad.from_numpy(a) for a in arrays[:self.n_args]]
        with tapegrad.no_grad():
            result = self.fn(*_unflatten(self.arg_template, iter(leaves)))
        outs, self.out_template = _flatten(result)
        if not outs:
            raise OpError("checkpoint: fn returned no tensor; it must return a tensor or a "
                          "tuple/list of tensors.")
        return tuple(o.numpy() for o in outs)

    def backward(self, grads, outs, arrays, needs):
        if any(type(g) in TENSOR_TYPES for g in grads):
            raise BackwardError(
                "checkpoint: higher-order gradients (create_graph=True) through a checkpointed "
                "call are not supported. Differentiate twice without checkpoint(), or use "
                "checkpoint only for first-order training.")
        leaves = []
        for a, need in zip(arrays[:self.n_args], needs):
            leaf = tapegrad.from_numpy(a)
            leaves.append(leaf.requires_grad_() if need else leaf)
        generator = tapegrad.default_generator()
        current = generator.bit_generator.state
        generator.bit_generator.state = self.rng_state
        try:
            with tapegrad.enable_grad(), tapegrad.Tape() as tape:
                result = self.fn(*_unflatten(self.arg_template, iter(leaves)))
        finally:
            generator.bit_generator.state = current
        self._check_no_hidden_leaves(tape, leaves)
        del tape
        wanted = [t for t, need in zip(leaves + self.params, needs) if need]
        outs, _ = _flatten(result)
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad]
        found = iter(tapegrad.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                   allow_unused=True) if pairs else [None] * len(wanted))
        cots = []
        for t, need in zip(leaves + self.params, needs):
            if not need:
                cots.append(None)
                continue
            g = next(found)
            cots.append(tapegrad.zeros_like(t).numpy() if g is None else g.numpy())
        return cots[0] if len(cots) == 1 else tuple(cots)

    def _check_no_hidden_leaves(self, tape, leaves):
        """Raise if fn used a tensor that requires grad but is not an input of the checkpoint."""
        known = {id(t) for t in leaves + self.params}
        inner = {id(rec) for rec in tape.records}
        for rec in tape.records:
            for a in rec.inputs:
                if type(a) in TENSOR_TYPES and a.requires_grad and id(a) not in known \
                        and (a.grad_fn is None or id(a.grad_fn) not in inner):
                    name = f" {a.name!r}" if a.name else ""
                    raise BackwardError(
                        f"checkpoint: fn uses a tensor{name} of shape {a.shape} that requires "
                        f"grad (in {rec.op.name} at {rec.site}) but is neither an argument nor "
                        f"in params, so it would get no gradient. Pass it in "
                        f"params=[...] (e.g. params=model.parameters()) or as an argument.")


@tapegrad.primitive(name="checkpoint", multi=True, twice=False)
def _checkpointed(*arrays, call):
    return call.forward(arrays)


@_checkpointed.defvjp
def _checkpointed_vjp(g, out, *arrays, call, needs):
    return call.backward(g, out, arrays, needs)


def _params_of(fn):
    owner = fn if isinstance(fn, Module) else getattr(fn, "__self__", None)
    return list(owner.parameters()) if isinstance(owner, Module) else []


def _flatten(value):
    """(tensors found in ``value``, a template to rebuild it); tuples and lists are walked."""
    tensors = []

    def walk(v):
        if type(v) in TENSOR_TYPES:
            tensors.append(v)
            return _SLOT
        if isinstance(v, (tuple, list)):
            return type(v)(walk(x) for x in v)
        return v

    return tensors, walk(value)


def _unflatten(template, tensors):
    if template is _SLOT:
        return next(tensors)
    if isinstance(template, (tuple, list)):
        return type(template)(_unflatten(x, tensors) for x in template)
    return template


class _Slot:
    """Marks where a tensor goes in a flattened structure."""

    def __repr__(self):
        return "<tensor>"


_SLOT = _Slot()
