"""Hessian-free optimization (Martens 2010; Martens and Sutskever 2011).

Each step minimizes a local quadratic model of the objective by truncated
conjugate gradient, with the damped Gauss-Newton matrix as its curvature::

    q(d) = g.d + 1/2 d.(G + lambda I + lambda mu J_h^T J_h) d

``G = J^T H_L J`` (positive semi-definite for a convex loss on the outputs)
is only ever applied to vectors (``tapegrad.GaussNewton``); ``lambda``
is adapted by the Levenberg-Marquardt rule from how well the model predicted
the actual change; ``mu`` weights Martens and Sutskever's *structural
damping*, a penalty on changing the hidden states ``h`` of a recurrent
network, which keeps the step from relying on the sensitive long-range
dynamics the quadratic model cannot see.
"""
import math

import numpy

import tapegrad

from .optimizer import Optimizer, OptimizerError, _nonnegative


class HessianFree(Optimizer):
    """Truncated-Newton optimizer on the damped Gauss-Newton system, with a closure.

    Like PyTorch's ``LBFGS``, ``step`` takes a closure that
    re-evaluates the model; it returns ``(loss, outputs)`` or ``(loss,
    outputs, hidden)``: the scalar loss, the model outputs it was computed from
    by a convex function (mean squared error on linear outputs, cross-entropy
    on logits: a *matching* loss), and optionally the hidden states for
    structural damping.  It need not call ``backward``.  One step evaluates
    the closure once with gradients and a few more times without (to
    backtrack), and performs up to ``max_cg_iterations`` Gauss-Newton
    products, each costing about two backward passes; an optional
    ``curvature_closure`` computes those on a smaller batch.

    Options, with the values of the papers where they give one:

    * ``lr`` (1): multiplies the chosen step; HF needs no learning rate.
    * ``damping`` (1): the initial Tikhonov damping ``lambda``, adapted
      after every step (the current value is kept in the parameter group).
    * ``structural_damping`` (0): ``mu``, the weight of the hidden-state
      penalty relative to ``lambda``, so it adapts with it (Martens and
      Sutskever 2011; the demo uses 1/30).  Needs the closure to return the
      hidden states.
    * ``max_cg_iterations`` (250, Martens 2010) and ``cg_tolerance``
      (``epsilon`` = 5e-4, Martens 2010): CG stops when the model's relative
      progress over the last ``k = max(10, 0.1 i)`` iterations falls below
      ``k * epsilon``.
    * ``cg_decay`` (0.95, Martens 2010): CG starts from the previous step's
      final CG iterate times this factor (warm start).
    * ``backtrack_ratio`` (``gamma`` = 1.3, Martens 2010): iterates
      ``ceil(gamma^j)`` are kept; the step is the last of them after which
      the true objective stops decreasing (CG backtracking).
    * ``damping_factors`` ((2/3, 3/2), Martens 2010): ``lambda`` shrinks by
      the first when the reduction ratio ``rho`` exceeds 3/4 and grows by the
      second when it is below 1/4.

    A step that does not decrease the loss is not taken (``lambda`` grows).
    ``step_info`` holds the last step's figures (loss before/after, rho,
    lambda, CG iterations, the backtracked iterate).  All parameters form one
    group: the curvature couples them.
    """

    def __init__(self, params, lr=1.0, damping=1.0, structural_damping=0.0,
                 max_cg_iterations=250, cg_tolerance=5e-4, cg_decay=0.95, backtrack_ratio=1.3,
                 damping_factors=(2 / 3, 3 / 2)):
        super().__init__(params, dict(lr=lr, damping=damping,
                                      structural_damping=structural_damping,
                                      max_cg_iterations=max_cg_iterations,
                                      cg_tolerance=cg_tolerance, cg_decay=cg_decay,
                                      backtrack_ratio=backtrack_ratio,
                                      damping_factors=tuple(damping_factors)))
        if len(self.param_groups) != 1:
            raise OptimizerError(f"HessianFree: got {len(self.param_groups)} parameter groups; "
                                 f"it optimizes all parameters jointly, so pass one list "
                                 f"(model.parameters()).")
        self.step_info = {}

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        for key in ("damping", "structural_damping", "cg_tolerance"):
            _nonnegative(self, group, key)
        if not (isinstance(group["max_cg_iterations"], int) and group["max_cg_iterations"] >= 1):
            raise OptimizerError(f"HessianFree: max_cg_iterations must be an int >= 1, got "
                                 f"{group['max_cg_iterations']!r}.")
        if not 0.0 <= group["cg_decay"] <= 1.0:
            raise OptimizerError(f"HessianFree: cg_decay must be in [0, 1], got "
                                 f"{group['cg_decay']!r}.")
        if not group["backtrack_ratio"] > 1.0:
            raise OptimizerError(f"HessianFree: backtrack_ratio must be > 1, got "
                                 f"{group['backtrack_ratio']!r}.")
        down, up = group["damping_factors"]
        if not 0.0 < down < 1.0 < up:
            raise OptimizerError(f"HessianFree: damping_factors must be (shrink, grow) with "
                                 f"0 < shrink < 1 < grow, got {group['damping_factors']!r}.")

    def step(self, closure, curvature_closure=None):
        """One HF step; returns the loss the closure computed before it (a tensor).

        ``curvature_closure`` (optional, same contract as ``closure``) evaluates
        the model on the batch used for the Gauss-Newton products, typically a
        subset of the closure's batch: Martens (2010) computes the gradient on
        a large mini-batch and the cheaper-to-estimate curvature on a smaller
        one, which makes every CG iteration cheaper.
        """
        group = self.param_groups[0]
        params = group["params"]
        with tapegrad.enable_grad():
            loss, outputs, hidden = _evaluated(closure)
        f0 = float(loss)
        gradient = _flat(tapegrad.grad(loss, params, retain_graph=curvature_closure is None,
                                       allow_unused=True), params)
        if curvature_closure is not None:
            with tapegrad.enable_grad():
                loss_c, outputs, hidden = _evaluated(curvature_closure)
        else:
            loss_c = loss
        states = hidden if hidden is not None and group["structural_damping"] > 0 else ()
        curvature = tapegrad.GaussNewton(loss_c, outputs, params, states=states)
        damping = group["damping"]
        state_weight = damping * group["structural_damping"]

        def damped(vector):
            product = curvature(_split(vector, params), state_weight=state_weight)
            return _flat(product, params) + damping * vector

        start = group["cg_decay"] * self._warm_start(params)
        iterates, final, cg_steps = _truncated_cg(
            damped, -gradient, start, group["max_cg_iterations"], group["cg_tolerance"],
            group["backtrack_ratio"])
        self._store_warm_start(params, final)
        origin = [numpy.array(p.data, copy=True) for p in params]
        lr = group["lr"]
        chosen, f_new = self._backtrack(closure, params, origin, iterates, lr)
        _, x, curvature_x = iterates[chosen]
        predicted = lr * float(gradient @ x) + 0.5 * lr * lr * curvature_x   # damped model
        rho = (f_new - f0) / predicted if predicted < 0 else -math.inf
        down, up = group["damping_factors"]
        if rho > 0.75:
            group["damping"] = damping * down
        elif not rho >= 0.25:          # NaN too
            group["damping"] = damping * up
        accepted = f_new < f0
        if not accepted:
            self._assign(params, origin, None, 0.0)
        self.step_info = dict(loss=f0, new_loss=f_new if accepted else f0, rho=float(rho),
                              damping=damping, cg_iterations=cg_steps,
                              chosen_iteration=iterates[chosen][0], accepted=accepted)
        return loss

    # ------------------------------------------------------------ pieces
    def _warm_start(self, params):
        parts = [self.state.get(p, {}).get("cg_start") for p in params]
        if any(part is None for part in parts):
            return numpy.zeros(sum(p.numel() for p in params))
        return numpy.concatenate([part.ravel() for part in parts])

    def _store_warm_start(self, params, final):
        for p, part in zip(params, _split(final, params)):
            self.state.setdefault(p, {})["cg_start"] = part

    def _backtrack(self, closure, params, origin, iterates, lr):
        """(index of the iterate to take, the loss there): walk back while the loss improves."""
        best, best_loss = len(iterates) - 1, None
        for k in range(len(iterates) - 1, -1, -1):
            self._assign(params, origin, iterates[k][1], lr)
            with tapegrad.no_grad():
                value = float(_evaluated(closure)[0])
            if best_loss is not None and not value < best_loss:
                break
            best, best_loss = k, value
        self._assign(params, origin, iterates[best][1], lr)
        return best, best_loss

    @staticmethod
    def _assign(params, origin, vector, lr):
        steps = _split(vector, params) if vector is not None else [0.0] * len(params)
        with tapegrad.no_grad():
            for p, start, d in zip(params, origin, steps):
                p.copy_(start + lr * numpy.asarray(d))


def _evaluated(closure):
    """``(loss, outputs, hidden states or None)`` from the closure, checked."""
    result = closure()
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise OptimizerError(f"HessianFree: the closure must return (loss, outputs) or (loss, "
                             f"outputs, hidden), got {type(result).__name__}"
                             f"{' of length %d' % len(result) if isinstance(result, (tuple, list)) else ''}. "
                             f"The Gauss-Newton matrix needs the outputs the loss was computed "
                             f"from.")
    loss, outputs = result[0], result[1]
    hidden = result[2] if len(result) == 3 else None
    if not isinstance(loss, tapegrad.Tensor) or loss.numel() != 1:
        raise OptimizerError(f"HessianFree: the closure's loss must be a one-element tensor, "
                             f"got {getattr(loss, 'shape', type(loss).__name__)}.")
    return loss, outputs, hidden


def _truncated_cg(apply, b, start, max_iterations, tolerance, ratio):
    """Minimize ``phi(x) = 1/2 x.A x - b.x`` by CG from ``start`` (Martens 2010, section 4).

    Returns (the kept iterates [(iteration, x, x.A x)], the final iterate,
    the iteration count).  Iterates ``ceil(ratio^j)`` and the last are kept for
    backtracking; CG stops on negative curvature, on a zero residual, or when
    ``phi`` improved by less than ``k * tolerance`` (relatively) over the last
    ``k = max(10, 0.1 i)`` iterations.
    """
    x = numpy.array(start, dtype=numpy.float64)
    r = b - apply(x) if x.any() else b.copy()
    p = r.copy()
    rr = r @ r
    phis = [-0.5 * x @ (b + r)]
    kept = []
    next_kept = 1.0
    i = 0
    while i < max_iterations and rr > 0:
        ap = apply(p)
        curvature = p @ ap
        if not curvature > 0:
            break
        alpha = rr / curvature
        x += alpha * p
        r -= alpha * ap
        rr, previous = r @ r, rr
        p = r + (rr / previous) * p
        i += 1
        phis.append(-0.5 * x @ (b + r))
        if i >= math.ceil(next_kept):
            kept.append((i, x.copy(), x @ (b - r)))
            while math.ceil(next_kept) <= i:
                next_kept *= ratio
        k = max(10, int(0.1 * i))
        if i > k and phis[i] < 0 and (phis[i] - phis[i - k]) / phis[i] < k * tolerance:
            break
    if not kept or kept[-1][0] != i:
        kept.append((i, x.copy(), x @ (b - r)))
    return kept, x, i


def _flat(tensors, params):
    """One float64 vector from one tensor per parameter (None: zeros)."""
    return numpy.concatenate([numpy.zeros(p.numel()) if t is None else
                              numpy.asarray(t.data, numpy.float64).ravel()
                              for t, p in zip(tensors, params)])


def _split(vector, params):
    """The vector cut into arrays of the parameters' shapes and dtypes."""
    parts, offset = [], 0
    for p in params:
        n = p.numel()
        parts.append(numpy.asarray(vector[offset:offset + n], p.dtype).reshape(p.shape))
        offset += n
    return parts
