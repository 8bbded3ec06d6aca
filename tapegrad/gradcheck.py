"""Gradient checking: every vjp against central finite differences.

``gradcheck(func, inputs)`` builds the Jacobian of ``func`` two ways and
compares them element by element:

* analytically, from vjps (one backward per output element), in the inputs'
  own dtype -- so a float32 model's float32 backward is what gets tested;
* numerically, by central differences on float64 copies of the inputs.

When they disagree the report names the input and output, the worst element
and the errors -- and then finds the culprit: it re-runs ``func`` on an
explicit `Tape` and checks each recorded primitive's vjp
on its own, at the values it saw, naming the first wrong one and the line that
called it.

The two checks PyTorch adds beyond the Jacobian run too, per recorded
primitive: its vjp must be linear in the cotangent (a vjp that ignores ``g``
looks right under ``f(x).sum()``, where every ``g`` is 1) and reentrant (two
backward passes agree exactly). Each names the primitive and its line.

Tolerances follow the *working precision*: float64 when the inputs and the
outputs are float64, float32 when any of them is float32 (float32 inputs give
a float32 backward; float32 internals give float32 finite differences).

* float64: ``eps=1e-6, atol=1e-5, rtol=1e-3`` (PyTorch's values).
* float32: ``eps=1e-3, atol=1e-2, rtol=1e-2``.  Rounding (unit roundoff
  6e-8) makes a central difference err by about ``6e-8 |f| / eps``: with
  ``eps=1e-3`` that is 6e-5 |f|, and truncation (``eps**2 |f'''| / 6``)
  stays near 2e-7, so ``atol=1e-2`` leaves room for outputs up to ~100 and
  for a float32 backward through a long chain, while ``rtol=1e-2`` still
  catches a vjp that is 10% off (or has the wrong sign).

The step is relative for large inputs: element ``x`` moves by
``eps * max(1, |x|)``.
"""
import numpy

from .backward import grad
from .errors import OpError, TapegradError
from .grad_mode import enable_grad
from .tape import Tape
from .tensor import TENSOR_TYPES, Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_F64 = numpy.dtype(numpy.float64)
_F32 = numpy.dtype(numpy.float32)

#: (eps, atol, rtol) by working precision; see the module docstring.
DEFAULTS = {_F64: (1e-6, 1e-5, 1e-3), _F32: (1e-3, 1e-2, 1e-2)}

_FAST_TRIALS = 2      # random (u, v) pairs tried by fast_mode
_BLAME_TRIALS = 3     # random (u, v) pairs per recorded primitive when hunting the culprit


class GradcheckError(TapegradError, AssertionError):
    """The analytic gradient (from vjps) disagrees with finite differences."""


def gradcheck(func, inputs, *, eps=None, atol=None, rtol=None, raise_exception=True,
              fast_mode=False, seed=0):
    """Check the vjps of ``func`` at ``inputs`` against central finite differences.

    ``inputs`` is a tensor or a tuple of tensors (and constants); those with
    ``requires_grad`` are checked.  ``func`` returns a tensor or a tuple of
    tensors.  ``eps``/``atol``/``rtol`` default by working precision (module
    docstring).  ``fast_mode`` first compares ``u^T J v`` for random ``u, v``
    (drawn from ``numpy.random.default_rng(seed)``) and does the full check
    only if that disagrees.  Returns True; on a mismatch raises
    `GradcheckError` (or returns False if ``raise_exception=False``).
    The inputs are never modified and their ``.grad`` is left alone.
    """
    check = _Check(func, inputs, eps, atol, rtol, "gradcheck")
    return check.run(fast_mode, seed, raise_exception, order=1)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=None, atol=None, rtol=None,
                  raise_exception=True, fast_mode=False, seed=0):
    """Check second derivatives: ``gradcheck`` of ``(inputs, v) -> grad(func(inputs), inputs, v)``.

    The gradient is taken with ``create_graph=True``, so this tests that every
    vjp on the way is itself differentiated correctly.  ``grad_outputs`` (one
    per floating-point output) default to random tensors drawn with ``seed``
    that require grad, so the check covers them too.
    """
    inputs = _as_tuple(inputs)
    checked = _checked(inputs, "gradgradcheck")
    n = len(inputs)
    with enable_grad():
        outs = _outputs(func, [_leaf(x) if i in checked else x for i, x in enumerate(inputs)])
    floats = [k for k, o in enumerate(outs) if o.dtype.kind == "f"]
    if grad_outputs is None:
        rng = numpy.random.default_rng(seed)
        grad_outputs = tuple(
            _leaf_of(rng.standard_normal(outs[k].shape).astype(outs[k].dtype), f"grad_output{k}")
            for k in floats)
    else:
        grad_outputs = _as_tuple(grad_outputs)
        if len(grad_outputs) != len(floats):
            raise OpError(f"gradgradcheck: func has {len(floats)} floating-point output(s) but "
                          f"{len(grad_outputs)} grad_outputs were given; give one per output.")

    def first_derivative(*args):
        xs = args[:n]
        ys = _outputs(func, xs)
        wrt = [xs[i] for i in checked]
        gs = grad([ys[k] for k in floats], wrt, list(args[n:]), create_graph=True,
                  allow_unused=True)
        gs = tuple(g if g is not None else _constant(numpy.zeros(x.shape, x.dtype))
                   for g, x in zip(gs, wrt))
        for g, i in zip(gs, checked):
            g.name = f"grad_{inputs[i].name or f'input{i}'}"
        return gs

    names = [f"the first derivative w.r.t. {_input_name(inputs[i], i)}" for i in checked]
    check = _Check(first_derivative, inputs + tuple(grad_outputs), eps, atol, rtol,
                   "gradgradcheck", output_names=names)
    return check.run(fast_mode, seed, raise_exception, order=2)


# ------------------------------------------------------------------ helpers
def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _checked(inputs, label):
    """Positions of the inputs that require grad (the ones checked)."""
    checked = [i for i, x in enumerate(inputs) if type(x) in TENSOR_TYPES and x.requires_grad]
    if not checked:
        raise OpError(f"{label}: no input requires grad, so there is nothing to check; "
                      f"create the inputs to check with requires_grad=True.")
    return checked


def _constant(array):
    array = numpy.asarray(array)      # 0-d arithmetic gives NumPy scalars
    array.flags.writeable = False
    return Tensor._make(array, None, -1)


def _leaf_of(array, name=None):
    t = _constant(array)
    t.requires_grad = True
    t.name = name
    return t


def _leaf(x):
    """A fresh leaf requiring grad with ``x``'s values and name."""
    return _leaf_of(x.data, x.name)


def _outputs(func, args):
    """``func(*args)`` as a tuple of tensors."""
    outs = _as_tuple(func(*args))
    for k, o in enumerate(outs):
        if type(o) not in TENSOR_TYPES:
            raise OpError(f"gradcheck: func must return a Tensor or a tuple of Tensors; its "
                          f"output {k} is {type(o).__name__}.")
    return outs


def _working_dtype(dtypes):
    """float64 if every floating dtype is at least double precision, else float32."""
    return _F64 if all(numpy.dtype(d).itemsize >= 8 for d in dtypes) else _F32


def _tolerances(dtypes, eps, atol, rtol):
    work = _working_dtype(dtypes)
    d_eps, d_atol, d_rtol = DEFAULTS[work]
    return (work, d_eps if eps is None else eps, d_atol if atol is None else atol,
            d_rtol if rtol is None else rtol)


def _input_name(x, i):
    name = getattr(x, "name", None)
    return f"input {i} ({name!r})" if name else f"input {i}"


def _element(label, shape, flat):
    if not shape:
        return label
    idx = numpy.unravel_index(flat, shape)
    return f"{label}[{', '.join(str(int(j)) for j in idx)}]"


def _scale(x):
    """Per-element step scale: steps are absolute near 0 and relative for large values."""
    return numpy.maximum(1.0, numpy.abs(x))


def _dot(a, b):
    return float(numpy.sum(numpy.asarray(a, dtype=numpy.float64) * b))


# -------------------------------------------------------------- the check
class _Check:
    """One gradient check: func, the inputs, which are checked, and tolerances."""

    def __init__(self, func, inputs, eps, atol, rtol, label, output_names=None):
        self.func = func
        self.inputs = _as_tuple(inputs)
        self.checked = _checked(self.inputs, label)
        self.label = label
        # the run whose vjps are tested: fresh leaves in the inputs' own dtype
        self.args = [_leaf(x) if i in self.checked else x for i, x in enumerate(self.inputs)]
        with enable_grad():
            self.outs = _outputs(func, self.args)
        self.floats = [k for k, o in enumerate(self.outs) if o.dtype.kind == "f"]
        self.base = [self.args[i].data.astype(_F64) for i in self.checked]
        self.f0 = self._evaluate(self.base)
        for k, f in zip(self.floats, self.f0):
            if self.outs[k].shape != f.shape:
                raise OpError(f"{label}: output {k} has shape {self.outs[k].shape} for the "
                              f"inputs but {f.shape} for their float64 copies; func's shapes "
                              f"must not depend on the dtype.")
        dtypes = ([self.inputs[i].dtype for i in self.checked]
                  + [self.outs[k].dtype for k in self.floats] + [f.dtype for f in self.f0])
        self.work, self.eps, self.atol, self.rtol = _tolerances(dtypes, eps, atol, rtol)
        self.out_names = output_names or [
            (self.outs[k].name or f"output {k}") for k in range(len(self.outs))]

    # ------------------------------------------------------------ evaluation
    def _evaluate(self, values):
        """Float outputs of func at float64 ``values`` of the checked inputs (a list of arrays).

        The inputs are fresh leaves requiring grad, so a func that itself
        calls ``grad`` (as gradgradcheck's does) works here too.
        """
        args = list(self.inputs)
        for i, v in zip(self.checked, values):
            args[i] = _leaf_of(v, self.inputs[i].name)
        with enable_grad():
            outs = _outputs(self.func, args)
        return [outs[k].data for k in range(len(outs)) if outs[k].dtype.kind == "f"]

    def _vjp(self, outputs, cotangents):
        """Gradients of ``outputs`` weighted by ``cotangents`` w.r.t. the checked inputs."""
        wrt = [self.args[i] for i in self.checked]
        return grad(outputs, wrt, cotangents, retain_graph=True, allow_unused=True)

    # ------------------------------------------------------------------ run
    def run(self, fast_mode, seed, raise_exception, order):
        message = None
        if not (fast_mode and self._directions_agree(numpy.random.default_rng(seed))):
            report = self._full_check()
            if report is not None:
                message = report + "\n" + self._blame(order)
        if message is None and order == 1:   # gradgradcheck's first derivative is made of
            message = self._vjp_contract(seed)  # primitives whose own gradcheck checked this
        if message is None:
            return True
        if raise_exception:
            raise GradcheckError(message)
        return False

    def _vjp_contract(self, seed):
        """What the Jacobian alone cannot show, per recorded primitive, or None if all is well.

        A vjp must be linear in its cotangent ``g`` (a vjp that ignores ``g``
        passes the Jacobian check of ``f(x).sum()``, where every ``g`` is 1)
        and reentrant (two backward passes at the same values agree exactly).
        """
        args = [_leaf(x) if i in self.checked else x for i, x in enumerate(self.inputs)]
        with Tape() as tape, enable_grad():
            self.func(*args)
        rng = numpy.random.default_rng(seed)
        culprit = _first_wrong([rec for rec in tape.records if rec.op.vjp is not None],
                               lambda local: _nonlinearity(local, rng) or _nonreentrancy(local, rng))
        if culprit is None:
            return None
        rec, detail = culprit
        return f"{self.label} failed: the vjp of {_where(rec)} {detail}"

    def _directions_agree(self, rng):
        """``u^T J v`` from one vjp equals its directional central difference, for random u, v.

        The products are compared with the element tolerances themselves (not
        scaled up by the sizes of u and v): strict, because a disagreement
        only costs the full check, while a pass is final.
        """
        for _ in range(_FAST_TRIALS):
            us = [rng.standard_normal(self.outs[k].shape).astype(self.outs[k].dtype)
                  for k in self.floats]
            ws = [rng.standard_normal(x.shape) * _scale(x) for x in self.base]
            gs = self._vjp([self.outs[k] for k in self.floats], us)
            analytic = sum(_dot(g.data, w) for g, w in zip(gs, ws) if g is not None)
            plus = self._evaluate([x + self.eps * w for x, w in zip(self.base, ws)])
            minus = self._evaluate([x - self.eps * w for x, w in zip(self.base, ws)])
            numeric = sum(_dot((p.astype(_F64) - m) / (2 * self.eps), u)
                          for p, m, u in zip(plus, minus, us))
            if not abs(analytic - numeric) <= self.atol + self.rtol * abs(numeric):
                return False
        return True

    def _full_check(self):
        """A description of the disagreements (None when all agree)."""
        analytic = self._analytic_jacobian()
        numeric = self._numeric_jacobian()
        mismatches = []
        for (k, j), a in analytic.items():
            n = numeric[k, j]
            err = numpy.abs(a - n)
            allowed = self.atol + self.rtol * numpy.abs(n)
            bad = ~(err <= allowed)
            if bad.any():
                ratio = numpy.where(bad, numpy.nan_to_num(err / allowed, nan=numpy.inf), 0.0)
                mismatches.append((k, j, a, n, err, int(numpy.argmax(ratio))))
        if not mismatches:
            return None
        report = self._describe(*mismatches[0])
        if len(mismatches) > 1:
            report += "\n  also disagree: " + ", ".join(
                f"{self._out_label(k)} w.r.t. {self._in_label(j)}" for k, j, *_ in mismatches[1:])
        return report

    def _analytic_jacobian(self):
        """{(output k, checked input j): float64 (out.size, x.size)} from one vjp per row."""
        blocks = {}
        for k in self.floats:
            o = self.outs[k]
            rows = [numpy.zeros((o.numel(), self.args[i].numel())) for i in self.checked]
            for r in range(o.numel()):
                u = numpy.zeros(o.shape, o.dtype)
                u.flat[r] = 1
                for j, g in enumerate(self._vjp([o], [u])):
                    if g is not None:
                        rows[j][r] = g.data.ravel()
            for j, block in enumerate(rows):
                blocks[k, j] = block
        return blocks

    def _numeric_jacobian(self):
        """{(output k, checked input j): float64 (out.size, x.size)} by central differences."""
        cols = {(k, j): numpy.zeros((self.outs[k].numel(), x.size))
                for k in self.floats for j, x in enumerate(self.base)}
        for j, x in enumerate(self.base):
            steps = self.eps * _scale(x)
            for e in range(x.size):
                values = list(self.base)
                plus, minus = x.copy(), x.copy()
                plus.flat[e] += steps.flat[e]
                minus.flat[e] -= steps.flat[e]
                width = plus.flat[e] - minus.flat[e]
                values[j] = plus
                f_plus = self._evaluate(values)
                values[j] = minus
                f_minus = self._evaluate(values)
                for k, p, m in zip(self.floats, f_plus, f_minus):
                    cols[k, j][:, e] = ((p.astype(_F64) - m) / width).ravel()
        return cols

    # -------------------------------------------------------------- report
    def _in_label(self, j):
        i = self.checked[j]
        return _input_name(self.inputs[i], i)

    def _out_label(self, k):
        return self.out_names[k]

    def _describe(self, k, j, a, n, err, worst):
        x = self.args[self.checked[j]]
        o = self.outs[k]
        row, col = divmod(worst, max(x.numel(), 1))
        name = x.name or f"input{self.checked[j]}"
        out_name = o.name or f"output{k}"
        nonzero = n != 0
        rel = (float(numpy.max(err[nonzero] / numpy.abs(n[nonzero]))) if nonzero.any()
               else float("nan"))
        return (f"{self.label} failed: the gradient of {self._out_label(k)} (shape {o.shape}) "
                f"with respect to {self._in_label(j)} (shape {x.shape}, {x.dtype}) disagrees "
                f"with finite differences.\n"
                f"  worst element: d {_element(out_name, o.shape, row)} / "
                f"d {_element(name, x.shape, col)}: analytic {a.flat[worst]:.6g}, "
                f"numeric {n.flat[worst]:.6g}\n"
                f"  max abs error {float(numpy.max(err)):.3g}, max rel error {rel:.3g}; "
                f"tolerances atol={self.atol:g}, rtol={self.rtol:g}, eps={self.eps:g} "
                f"(working precision {self.work.name})")

    def _blame(self, order):
        """Re-run func on an explicit tape and name the first primitive whose vjp is wrong."""
        args = [_leaf(x) if i in self.checked else x for i, x in enumerate(self.inputs)]
        try:
            with Tape() as tape, enable_grad():
                self.func(*args)
        except Exception as exc:  # the failure report must not hide behind a second error
            return f"  (could not re-run func on a tape to find the wrong primitive: {exc!r})"
        records = [r for r in tape.records if r.op.vjp is not None]
        culprit = _first_wrong(records, _vjp_disagreement)
        if culprit is not None:
            rec, detail = culprit
            return (f"  the first primitive whose vjp disagrees with finite differences: "
                    f"{_where(rec)}\n    {detail}")
        if order == 2:
            culprit = _first_wrong(records, _second_order_disagreement)
            if culprit is not None:
                rec, detail = culprit
                hint = ("; it declares twice=False (its vjp is not differentiable)"
                        if not rec.op.twice else
                        "; its vjp probably uses values cut off from the tape (NumPy on "
                        ".data/.numpy(), detach()) or has a wrong derivative")
                return (f"  the first primitive whose vjp is not differentiated correctly (the "
                        f"derivative of its vjp disagrees with finite differences of the vjp): "
                        f"{_where(rec)}{hint}\n    {detail}")
        return ("  every recorded primitive's vjp agrees with finite differences at the values it "
                "saw: the error may come from a non-differentiable point (relu or abs at 0, tied "
                "maxima) or from computation outside the tape (NumPy on .data or .numpy(), "
                "detach(), a Python-side constant that depends on an input).")


# ------------------------------------------------------ blame, per primitive
def _where(rec):
    scope = f" (scope {rec.scope_path})" if rec.scope else ""
    return f"{rec.op.name} at {rec.site}{scope}"


def _first_wrong(records, disagreement):
    """(record, detail) for the first record whose local check fails, or None."""
    for rec in records:
        try:
            local = _Local(rec)
        except Exception:         # its forward does not run on float64 copies: not checkable
            continue
        if not local.pos:
            continue
        try:
            detail = disagreement(local)
        except Exception as exc:  # a vjp that raises is wrong too
            detail = f"(checking its vjp raised {type(exc).__name__}: {exc})"
        if detail is not None:
            return rec, detail
    return None


class _Local:
    """A recorded primitive re-run on float64 copies of its saved inputs."""

    def __init__(self, rec):
        self.op = rec.op
        self.params = rec.params
        self.datas = [d.astype(_F64) if isinstance(d, numpy.ndarray) and d.dtype.kind == "f"
                      else d for d in rec.datas]
        self.pos = [i for i, (d, need) in enumerate(zip(self.datas, rec.needs))
                    if need and isinstance(d, numpy.ndarray) and d.dtype.kind == "f"]
        outs = self.forward([self.datas[i] for i in self.pos])
        self.out_shapes = [o.shape for o in outs]
        self.out_dtypes = [o.dtype for o in outs]
        _, self.eps, self.atol, self.rtol = _tolerances(
            [o.dtype for o in outs if o.dtype.kind == "f"], None, None, None)
        self.rng = numpy.random.default_rng(0)

    def forward(self, values):
        datas = list(self.datas)
        for i, v in zip(self.pos, values):
            datas[i] = v
        out = self.op.forward(*datas, **self.params)
        return [numpy.asarray(o) for o in (out if self.op.multi else (out,))]

    def vjp(self, values, cotangents, create_graph=False):
        """The engine's vjp (with its sum-to-shape and dtype fitting) at ``values``."""
        args = list(self.datas)
        for i, v in zip(self.pos, values):
            args[i] = v if type(v) in TENSOR_TYPES else _leaf_of(v)
        with enable_grad():
            y = self.op(*args, **self.params)
        ys = list(y) if self.op.multi else [y]
        return grad(ys, [args[i] for i in self.pos], cotangents, retain_graph=create_graph,
                    create_graph=create_graph, allow_unused=True)

    def draw(self):
        """Random cotangents (one per output), scaled directions (one per input needing grad)."""
        us = [self.rng.standard_normal(s).astype(d) for s, d in zip(self.out_shapes,
                                                                    self.out_dtypes)]
        base = [self.datas[i] for i in self.pos]
        vs = [self.rng.standard_normal(x.shape) * _scale(x) for x in base]
        return base, us, vs

    def agree(self, analytic, numeric, scale, what):
        """None if ``analytic`` matches ``numeric``; else a line showing both."""
        if abs(analytic - numeric) <= self.atol * scale + self.rtol * abs(numeric):
            return None
        return (f"({what} at the values it saw: {analytic:.6g} from the tape, {numeric:.6g} "
                f"from finite differences)")


def _cotangents(local, rng):
    """Random, non-uniform cotangents for the float outputs (zeros for the others)."""
    return [rng.standard_normal(s).astype(d) if d.kind == "f" else numpy.zeros(s, d)
            for s, d in zip(local.out_shapes, local.out_dtypes)]


def _gradient_arrays(local, base, us):
    return [numpy.zeros(base[j].shape) if g is None else g.data.astype(_F64)
            for j, g in enumerate(local.vjp(base, us))]


def _nonlinearity(local, rng):
    """None if vjp(a u + b v) = a vjp(u) + b vjp(v) for random u, v; else the complaint."""
    base = [local.datas[i] for i in local.pos]
    us, vs = _cotangents(local, rng), _cotangents(local, rng)
    a, b = 2.0, -3.0
    both = [(a * u + b * v).astype(u.dtype) for u, v in zip(us, vs)]
    g_u, g_v, g_both = (_gradient_arrays(local, base, c) for c in (us, vs, both))
    for x, gu, gv, gb in zip(base, g_u, g_v, g_both):
        want = a * gu + b * gv
        scale = max(1.0, float(numpy.max(numpy.abs(want), initial=0.0)))
        if not numpy.allclose(gb, want, rtol=local.rtol, atol=local.atol * scale,
                              equal_nan=True):
            return (f"is not linear in its cotangent g: vjp({a:g} u {b:+g} v) differs from "
                    f"{a:g} vjp(u) {b:+g} vjp(v) for random u, v (max difference "
                    f"{float(numpy.max(numpy.abs(gb - want))):.3g}). A vjp must multiply g "
                    f"(the incoming gradient), not ignore it or transform it nonlinearly.")
    return None


def _nonreentrancy(local, rng):
    """None if two backward passes with the same cotangent agree exactly; else the complaint."""
    base = [local.datas[i] for i in local.pos]
    us = _cotangents(local, rng)
    first, second = _gradient_arrays(local, base, us), _gradient_arrays(local, base, us)
    for g1, g2 in zip(first, second):
        if not numpy.array_equal(g1, g2, equal_nan=True):
            return (f"is not reentrant: two backward passes at the same values and cotangent "
                    f"gave different gradients (max difference "
                    f"{float(numpy.nanmax(numpy.abs(g1 - g2))):.3g}). A vjp must not keep "
                    f"state between calls.")
    return None


def _norm(arrays):
    return float(numpy.sqrt(sum(_dot(a, a) for a in arrays)))


def _vjp_disagreement(local):
    """None if the record's vjp matches central differences of its forward, else a detail line."""
    eps = local.eps
    for _ in range(_BLAME_TRIALS):
        base, us, vs = local.draw()
        gs = local.vjp(base, us)
        analytic = sum(_dot(g.data, v) for g, v in zip(gs, vs) if g is not None)
        plus = local.forward([x + eps * v for x, v in zip(base, vs)])
        minus = local.forward([x - eps * v for x, v in zip(base, vs)])
        numeric = sum(_dot((p.astype(_F64) - m) / (2 * eps), u)
                      for p, m, u in zip(plus, minus, us) if p.dtype.kind == "f")
        detail = local.agree(analytic, numeric, _norm(us) * _norm(vs),
                             "u^T J v for random u, v")
        if detail is not None:
            return detail
    return None


def _second_order_disagreement(local):
    """None if the derivative of the record's vjp matches central differences of the vjp.

    The scalar ``s(x, u) = sum_i <vjp_i(u; x), w_i>`` (fixed random ``w``) is
    differentiated through the tape (``create_graph``) and by differences.
    """
    eps = local.eps
    for _ in range(_BLAME_TRIALS):
        base, us, vs = local.draw()
        ws = [local.rng.standard_normal(x.shape) for x in base]
        dus = [local.rng.standard_normal(u.shape) for u in us]
        xs = [_leaf_of(x.copy()) for x in base]
        ut = [_leaf_of(u.astype(_F64)) for u in us]
        with enable_grad():
            gs = local.vjp(xs, ut, create_graph=True)
            terms = [(g * w).sum() for g, w in zip(gs, ws) if g is not None]
            s = terms[0] if terms else None
            for t in terms[1:]:
                s = s + t
        analytic = 0.0
        if s is not None and s.requires_grad:
            ds = grad(s, xs + ut, allow_unused=True)
            analytic = sum(_dot(d.data, v) for d, v in zip(ds, vs + dus) if d is not None)

        def s_at(sign):
            values = [x + sign * eps * v for x, v in zip(base, vs)]
            cots = [u.astype(_F64) + sign * eps * du for u, du in zip(us, dus)]
            return sum(_dot(g.data, w) for g, w in zip(local.vjp(values, cots), ws)
                       if g is not None)

        numeric = (s_at(1.0) - s_at(-1.0)) / (2 * eps)
        detail = local.agree(analytic, numeric, _norm(vs + dus) * _norm(ws),
                             "the derivative of <vjp(u), w> along a random direction")
        if detail is not None:
            return detail
    return None
