"""Function transforms: Jacobian-vector, vector-Jacobian, Hessian- and Gauss-Newton-vector products.

The top layer of the engine, built only from tapegrad's public functions and classes.  The
signatures follow JAX's: ``jvp(f, primals, tangents)`` returns ``(primals_out,
tangents_out)``, ``vjp(f, *primals)`` returns ``(primals_out, vjp_fn)`` and
``vjp_fn`` a tuple with one cotangent per primal; ``linearize`` returns
``(primals_out, jvp_fn)``.  ``f`` takes tensors and returns a tensor or a
tuple/list of tensors; primals and tangents may be tensors, arrays or numbers.

Forward mode is the *double-vjp* trick rather than a second rule per
primitive: for a dummy cotangent ``u``, ``g(u) = J^T u`` is recorded (the vjps
are written in tapegrad functions, so a backward with ``create_graph`` records
them), and since ``g`` is linear in ``u``, the gradient of ``<g(u), v>`` with
respect to ``u`` is ``J v``.  Every primitive thus keeps one definition
(forward + vjp) and gets forward mode for free; the price is that a JVP costs
about two reverse sweeps.  ``Linearization`` records ``g`` once and
replays only those records for each new ``v`` -- what an inner CG loop needs.

Inputs are treated as values: each primal becomes a fresh leaf, so the
results are constants -- unless grad mode is on and a primal or tangent itself
requires grad (a transform inside a function being differentiated, e.g.
``jvp`` of a function that calls ``vjp``); then the products are recorded and
differentiable, as nested transforms need.
"""
from .backward import grad
from .creation import tensor, zeros_like
from .errors import OpError, here
from .grad_mode import enable_grad, is_grad_enabled
from .ops import cast, reshape
from .tape import Tape
from .tensor import Tensor

__all__ = ["GaussNewton", "Linearization", "gnvp", "hvp", "jvp", "linearize", "vjp"]


class Linearization:
    """The Jacobian ``J`` of recorded ``outputs`` w.r.t. ``inputs`` as a linear map, both ways.

    ``outputs`` are tensors computed from ``inputs`` (tensors that require
    grad: leaves such as parameters, or intermediate results).
    ``jvp`` maps one tangent per input to ``J v`` (one per output);
    ``vjp`` maps one cotangent per output to ``J^T u`` (one per input).
    The graph stays alive for repeated calls; the transposed graph that
    ``jvp`` replays is recorded on its first call.  Non-float outputs
    (indices, masks) have zero tangents.  ``create_graph=True`` records the
    products too, so they can be differentiated again.
    """

    def __init__(self, outputs, inputs, create_graph=False):
        self.outputs = _as_tuple(outputs)
        self.inputs = _as_tuple(inputs)
        self.create_graph = create_graph
        self._active = [k for k, o in enumerate(self.outputs)
                        if isinstance(o, Tensor) and o.requires_grad and o.dtype.kind == "f"]
        self._dummies = None        # the cotangent leaves u of g(u) = J^T u
        self._transposed = None     # g(u), one entry per input (None where unused)
        self._records = None        # the records that compute g from u

    def vjp(self, cotangents):
        """``J^T u``: one cotangent per output in, one tensor per input out (zeros if unused)."""
        cots = _like(_as_tuple(cotangents), self.outputs, "Linearization.vjp", "cotangent",
                     "output")
        outs = [self.outputs[k] for k in self._active]
        if not outs:
            return tuple(zeros_like(x) for x in self.inputs)
        grads = grad(outs, list(self.inputs), grad_outputs=[cots[k] for k in self._active],
                     retain_graph=True, allow_unused=True, create_graph=self.create_graph)
        return _zeros_for_none(grads, self.inputs)

    def jvp(self, tangents):
        """``J v``: one tangent per input in, one tensor per output out."""
        vs = _like(_as_tuple(tangents), self.inputs, "Linearization.jvp", "tangent", "input")
        if self._transposed is None:
            self._record_transposed()
        pairs = [(g, v) for g, v in zip(self._transposed, vs) if g is not None]
        result = [zeros_like(o) for o in self.outputs]
        if pairs:
            products = grad([g for g, _ in pairs], self._dummies,
                            grad_outputs=[v for _, v in pairs], retain_graph=True,
                            allow_unused=True, create_graph=self.create_graph,
                            records=self._records)
            for k, p in zip(self._active, products):
                if p is not None:
                    result[k] = p
        return tuple(result)

    def _record_transposed(self):
        """Record ``g(u) = J^T u`` for dummy leaves ``u`` (any value: g is linear in u)."""
        self._dummies = [zeros_like(self.outputs[k], requires_grad=True) for k in self._active]
        if not self._dummies:
            self._transposed = [None] * len(self.inputs)
            return
        with Tape() as tape, enable_grad():
            self._transposed = grad([self.outputs[k] for k in self._active], list(self.inputs),
                                    grad_outputs=self._dummies, create_graph=True,
                                    allow_unused=True)
        self._records = tape.records


class GaussNewton:
    """Gauss-Newton-vector products ``G v = J^T H_L J v`` of a loss on a model's outputs.

    ``loss`` is a scalar computed from ``outputs`` by a convex function (mean
    squared error, cross-entropy on logits, ...), ``outputs`` are computed from
    ``inputs`` (the parameters), ``J`` is the Jacobian of the outputs and
    ``H_L`` the Hessian of the loss w.r.t. the outputs.  ``G`` is positive
    semi-definite even where the Hessian of the whole objective is not, which
    is what conjugate gradient needs.  The loss may depend on ``inputs`` only
    through ``outputs``.

    ``states`` (optional, e.g. an RNN's hidden states) adds the Gauss-Newton
    matrix of the penalty ``weight / 2 * ||states(θ) - states(θ_k)||^2``,
    ``weight * J_s^T J_s v``: Martens and Sutskever's structural damping.

    Each product costs two reverse sweeps: ``H_L J v`` comes out of one
    replay of a recorded transposed graph (the gradient of the loss w.r.t.
    the outputs depends on the parameters only through the outputs, so its
    directional derivative along ``v`` is ``H_L J v``), then ``J^T`` of it.
    ``create_graph=True`` records the products, so they can be differentiated.
    """

    def __init__(self, loss, outputs, inputs, states=(), create_graph=False):
        self.inputs = _as_tuple(inputs)
        self.outputs = _as_tuple(outputs)
        self.states = _as_tuple(states)
        for who, group in (("outputs", self.outputs), ("states", self.states)):
            for i, t in enumerate(group):
                if not isinstance(t, Tensor) or not t.requires_grad:
                    raise OpError(f"GaussNewton: {who}[{i}] is not a tensor computed from the "
                                  f"inputs (it does not require grad); pass the tensors the "
                                  f"loss was computed from, recorded with grad enabled. "
                                  f"At {here()}")
        with enable_grad():
            dloss = grad(loss, list(self.outputs), create_graph=True, retain_graph=True,
                         allow_unused=True)
        dloss = _zeros_for_none(dloss, self.outputs)
        # d(dloss)/dθ v = H_L J v; d(states)/dθ v = J_s v: both from one replay
        self._forward = Linearization(dloss + self.states, self.inputs, create_graph)
        self._backward = Linearization(self.outputs + self.states, self.inputs, create_graph)

    def __call__(self, tangents, state_weight=0.0):
        """``J^T H_L J v + state_weight * J_s^T J_s v``, one tensor per input."""
        products = self._forward.jvp(tangents)
        n = len(self.outputs)
        cots = list(products[:n]) + [state_weight * p for p in products[n:]]
        return self._backward.vjp(cots)


def linearize(f, *primals):
    """``(primals_out, jvp_fn)``: ``f`` evaluated once; ``jvp_fn(*tangents)`` gives ``J v``.

    As ``jax.linearize``: call ``jvp_fn`` many times without re-running ``f``.
    """
    xs, create = _primals(primals, (), "linearize")
    out, outs = _evaluate(f, xs, "linearize")
    lin = Linearization(outs, xs, create_graph=create)

    def jvp_fn(*tangents):
        vs = _tangents(tangents, xs, "linearize's jvp_fn")
        return _restructure(out, lin.jvp(vs))
    return _restructure(out, _values(outs, create)), jvp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J v)``, each with ``f``'s output structure.

    ``primals`` and ``tangents`` are tuples (or lists) with one entry per
    argument of ``f``; each tangent has its primal's shape.
    """
    _check_sequence(primals, "jvp", "primals")
    _check_sequence(tangents, "jvp", "tangents")
    xs, create = _primals(primals, tangents, "jvp")
    vs = _tangents(tangents, xs, "jvp")
    out, outs = _evaluate(f, xs, "jvp")
    products = Linearization(outs, xs, create_graph=create).jvp(vs)
    return _restructure(out, _values(outs, create)), _restructure(out, products)


def vjp(f, *primals):
    """Reverse mode: ``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns a tuple ``J^T u``.

    The cotangent has ``f``'s output structure (one per output for a tuple
    output); the result has one entry per primal.  ``vjp_fn`` may be called
    many times.
    """
    xs, create = _primals(primals, (), "vjp")
    out, outs = _evaluate(f, xs, "vjp")
    lin = Linearization(outs, xs, create_graph=create)

    def vjp_fn(cotangent):
        cots = cotangent if isinstance(out, (tuple, list)) else (cotangent,)
        if isinstance(out, (tuple, list)) and not isinstance(cotangent, (tuple, list)):
            raise OpError(f"vjp_fn: f returned {len(outs)} outputs, so the cotangent is a "
                          f"tuple of {len(outs)}; got a {type(cotangent).__name__}. At {here()}")
        return lin.vjp(cots)
    return _restructure(out, _values(outs, create)), vjp_fn


def hvp(f, primals, tangents):
    """Hessian-vector product ``H v`` of a scalar function (reverse over reverse).

    ``f(*primals)`` must return one element; ``H`` is its Hessian w.r.t. all
    primals together.  Returns a tuple with one entry per primal (JAX spells
    this ``jvp(grad(f), primals, tangents)[1]``).
    """
    _check_sequence(primals, "hvp", "primals")
    _check_sequence(tangents, "hvp", "tangents")
    xs, create = _primals(primals, tangents, "hvp")
    vs = _tangents(tangents, xs, "hvp")
    _, outs = _evaluate(f, xs, "hvp")
    if len(outs) != 1 or outs[0].numel() != 1:
        shapes = [tuple(o.shape) for o in outs]
        raise OpError(f"hvp: f must return a scalar (one element) to have a Hessian; it "
                      f"returned shape(s) {shapes}. Reduce it (y.sum()), or use jvp/vjp for "
                      f"Jacobian products. At {here()}")
    (y,) = outs
    if not y.requires_grad:
        return tuple(zeros_like(x) for x in xs)
    with enable_grad():
        g = grad(y, xs, create_graph=True, allow_unused=True)
    pairs = [(gi, v) for gi, v in zip(g, vs) if gi is not None and gi.requires_grad]
    if not pairs:
        return tuple(zeros_like(x) for x in xs)
    products = grad([gi for gi, _ in pairs], xs, grad_outputs=[v for _, v in pairs],
                    retain_graph=create, allow_unused=True, create_graph=create)
    return _zeros_for_none(products, xs)


def gnvp(f, loss, primals, tangents):
    """Gauss-Newton-vector product ``J^T H_L J v`` of ``loss(f(*primals))``.

    ``f`` maps the primals to outputs, ``loss`` (convex) maps those outputs
    (one argument per output) to a scalar.  Returns a tuple with one entry per
    primal.  See ``GaussNewton`` for the recorded-graph form an
    optimizer uses.
    """
    _check_sequence(primals, "gnvp", "primals")
    _check_sequence(tangents, "gnvp", "tangents")
    xs, create = _primals(primals, tangents, "gnvp")
    vs = _tangents(tangents, xs, "gnvp")
    _, outs = _evaluate(f, xs, "gnvp")
    with enable_grad():
        value = loss(*outs)
    return GaussNewton(value, outs, xs, create_graph=create)(vs)


# ------------------------------------------------------------------ helpers
def _check_sequence(value, who, what):
    if not isinstance(value, (tuple, list)):
        raise OpError(f"{who}: {what} must be a tuple or list with one entry per argument of "
                      f"f, got a {type(value).__name__}; write ({what[:-1]},) for one argument. "
                      f"At {here()}")


def _primals(primals, tangents, who):
    """Fresh float leaves for the primals, and whether the products must be recorded."""
    if not primals:
        raise OpError(f"{who}: no primals given; pass the point at which to differentiate f. "
                      f"At {here()}")
    nested = is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad
                                       for t in tuple(primals) + tuple(tangents))
    xs = []
    for i, p in enumerate(primals):
        x = p if isinstance(p, Tensor) else tensor(p)
        if x.dtype.kind != "f":
            raise OpError(f"{who}: primal {i} has dtype {x.dtype}; only floating-point inputs "
                          f"can be differentiated. Pass float values (numpy.asarray(x, float)) or "
                          f"close over it in f. At {here()}")
        if nested and x.requires_grad:
            x = reshape(x, x.shape)     # a distinct node that keeps the link to the outer graph
        else:
            x = x.detach().requires_grad_(True)
        xs.append(x)
    return xs, nested


def _tangents(tangents, xs, who):
    if len(tangents) != len(xs):
        raise OpError(f"{who}: {len(xs)} primals but {len(tangents)} tangents; give one tangent "
                      f"per primal, each of its shape. At {here()}")
    return _like(tangents, xs, who, "tangent", "primal")


def _like(values, targets, who, what, of):
    """``values`` as tensors with the shapes and dtypes of ``targets`` (checked)."""
    if len(values) != len(targets):
        raise OpError(f"{who}: {len(values)} {what}s for {len(targets)} {of}s; give one per "
                      f"{of}. At {here()}")
    result = []
    for i, (v, t) in enumerate(zip(values, targets)):
        v = v if isinstance(v, Tensor) else tensor(v, dtype=t.dtype)
        if tuple(v.shape) != tuple(t.shape):
            raise OpError(f"{who}: {what} {i} has shape {tuple(v.shape)} but its {of} has shape "
                          f"{tuple(t.shape)}; they must match. At {here()}")
        result.append(v if v.dtype == t.dtype else cast(v, dtype=t.dtype))
    return result


def _evaluate(f, xs, who):
    """``f(*xs)`` with grad enabled: (its result, the outputs as a tuple of tensors)."""
    with enable_grad():
        out = f(*xs)
    outs = _as_tuple(out)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise OpError(f"{who}: f returned a {type(o).__name__}"
                          f"{f' as output {i}' if len(outs) > 1 else ''}, not a tensor; return "
                          f"a tensor or a tuple of tensors computed from the inputs. At {here()}")
    return out, outs


def _values(outs, keep_graph):
    return outs if keep_graph else tuple(o.detach() for o in outs)


def _restructure(out, values):
    return tuple(values) if isinstance(out, (tuple, list)) else values[0]


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _zeros_for_none(grads, like):
    return tuple(zeros_like(t) if g is None else g for g, t in zip(grads, like))
