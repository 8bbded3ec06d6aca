"""jvp / vjp / hvp / linearize / gnvp: every registered primitive and composite against finite
differences in float64, a few functions against torch.func, the Gauss-Newton product against an
explicitly formed J^T H J, nesting, and the errors a user can hit."""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import testing
from tapegrad.primitive import is_built_in
from tapegrad.testing import _float_arrays, _rebuild

BUILT_IN = sorted(name for name, prim in tg.REGISTRY.items() if is_built_in(prim.forward))
OPS = [("primitive", n) for n in BUILT_IN] + [("composite", n) for n in sorted(tg.COMPOSITES)]

#: central differences in float64 are accurate to ~eps**2 |f'''| + 1e-16 |f| / eps ~ 1e-10 here
#: (values |x| <= 3, margins of 0.05 from kinks); float32 outputs (cast) use gradcheck's float32
#: step and tolerances
PRECISION = {numpy.dtype(numpy.float64): dict(eps=1e-6, atol=1e-7, rtol=1e-6),
             numpy.dtype(numpy.float32): dict(eps=1e-3, atol=1e-2, rtol=1e-2)}


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _case(op, draw):
    """(function of the float inputs, the float inputs) for one sampled call of ``op``."""
    args, params = op.sampler(draw, testing, numpy.dtype(numpy.float64))
    primals = list(_float_arrays(args))

    def f(*tensors):
        return op(*_rebuild(args, iter(tensors)), **params)
    return f, primals


def _plain(f, xs):
    return [numpy.asarray(o.numpy(), numpy.float64)
            for o in _as_tuple(f(*[tg.tensor(x) for x in xs]))]


def _directional(f, xs, vs, eps):
    """Central difference of every output of ``f`` along ``vs``."""
    plus = _plain(f, [x + eps * v for x, v in zip(xs, vs)])
    minus = _plain(f, [x - eps * v for x, v in zip(xs, vs)])
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


@pytest.mark.parametrize("kind, name", OPS)
def test_jvp_vjp_and_hvp_match_finite_differences(kind, name):
    op = tg.REGISTRY[name] if kind == "primitive" else tg.COMPOSITES[name]

    @settings(max_examples=4, deadline=None)
    @given(st.data())
    def check(data):
        f, xs = _case(op, data.draw)
        rng = numpy.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
        vs = [rng.standard_normal(x.shape) for x in xs]
        out, tangents = tg.jvp(f, xs, vs)
        outs, tangents = _as_tuple(out), _as_tuple(tangents)
        low = min((o.dtype for o in outs), key=lambda d: d.itemsize)
        tol = PRECISION[low]
        numeric = _directional(f, xs, vs, tol["eps"])
        for k, (t, n) in enumerate(zip(tangents, numeric)):
            assert t.shape == outs[k].shape and t.dtype == outs[k].dtype
            numpy.testing.assert_allclose(t.numpy(), n, atol=tol["atol"], rtol=tol["rtol"],
                                          err_msg=f"jvp of {name}, output {k}")
        # vjp: <J^T u, v> = <u, J v>, the right side from finite differences
        us = [rng.standard_normal(o.shape) for o in outs]
        value, vjp_fn = tg.vjp(f, *xs)
        pulled = vjp_fn(tuple(us) if isinstance(value, (tuple, list)) else us[0])
        assert len(pulled) == len(xs)
        for p, x in zip(pulled, xs):
            assert p.shape == x.shape
        lhs = sum(float(numpy.vdot(p.numpy(), v)) for p, v in zip(pulled, vs))
        rhs = sum(float(numpy.vdot(u, n)) for u, n in zip(us, numeric))
        numpy.testing.assert_allclose(lhs, rhs, atol=tol["atol"] * (1 + abs(rhs)),
                                      rtol=tol["rtol"], err_msg=f"vjp of {name}")
        if op.twice and low == numpy.float64:
            _check_hvp(f, xs, vs, us, tol, name)
    check()


def _check_hvp(f, xs, vs, us, tol, name):
    """H v of the scalar <u, f(x)> against differences of its (reverse-mode) gradient."""
    def scalar(*tensors):
        return sum((tg.tensor(u) * o).sum() for u, o in zip(us, _as_tuple(f(*tensors))))

    def gradient(values):
        leaves = [tg.tensor(x, requires_grad=True) for x in values]
        grads = tg.grad(scalar(*leaves), leaves, allow_unused=True)
        return [numpy.zeros_like(x) if g is None else g.numpy() for g, x in zip(grads, values)]
    eps = tol["eps"]
    plus = gradient([x + eps * v for x, v in zip(xs, vs)])
    minus = gradient([x - eps * v for x, v in zip(xs, vs)])
    products = tg.hvp(scalar, xs, vs)
    for i, (h, p, m) in enumerate(zip(products, plus, minus)):
        numpy.testing.assert_allclose(h.numpy(), (p - m) / (2 * eps), atol=tol["atol"],
                                      rtol=tol["rtol"], err_msg=f"hvp of {name}, input {i}")


# --- against PyTorch ---------------------------------------------------------------------
RNG = numpy.random.default_rng(1)
W = RNG.standard_normal((4, 3)) * 0.7
X = RNG.standard_normal((2, 3))
B = RNG.standard_normal(4) * 0.3
V_X, V_B = RNG.standard_normal((2, 3)), RNG.standard_normal(4)


def _tg_model(x, b):
    h = tg.tanh(x @ tg.tensor(W).T + b)
    return tg.log_softmax(h * 2.0, 1), (tg.sigmoid(h) ** 2).sum(0) + tg.exp(-x.sum())


def _torch_model(torch, x, b):
    h = torch.tanh(x @ torch.tensor(W).T + b)
    return torch.log_softmax(h * 2.0, 1), (torch.sigmoid(h) ** 2).sum(0) + torch.exp(-x.sum())


def test_jvp_matches_torch_func_jvp():
    torch = pytest.importorskip("torch")
    func = pytest.importorskip("torch.func")
    out, tangents = tg.jvp(_tg_model, (X, B), (V_X, V_B))
    t_out, t_tangents = func.jvp(lambda x, b: _torch_model(torch, x, b),
                                       (torch.tensor(X), torch.tensor(B)),
                                       (torch.tensor(V_X), torch.tensor(V_B)))
    for ours, theirs in zip(out + tangents, t_out + t_tangents):
        numpy.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)


def test_vjp_matches_torch_func_vjp():
    torch = pytest.importorskip("torch")
    func = pytest.importorskip("torch.func")
    us = (RNG.standard_normal((2, 4)), RNG.standard_normal(4))
    _, vjp_fn = tg.vjp(_tg_model, X, B)
    _, t_vjp_fn = func.vjp(lambda x, b: _torch_model(torch, x, b),
                                 torch.tensor(X), torch.tensor(B))
    for ours, theirs in zip(vjp_fn(us), t_vjp_fn(tuple(torch.tensor(u) for u in us))):
        numpy.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)


def test_hvp_matches_torch_forward_over_reverse():
    torch = pytest.importorskip("torch")
    func = pytest.importorskip("torch.func")

    def scalar(x, b):
        logp, extra = _tg_model(x, b)
        return -logp[:, 1].sum() + (extra * extra).sum()

    def t_scalar(x, b):
        logp, extra = _torch_model(torch, x, b)
        return -logp[:, 1].sum() + (extra * extra).sum()
    ours = tg.hvp(scalar, (X, B), (V_X, V_B))
    _, theirs = func.jvp(func.grad(t_scalar, argnums=(0, 1)),
                               (torch.tensor(X), torch.tensor(B)),
                               (torch.tensor(V_X), torch.tensor(V_B)))
    for a, b in zip(ours, theirs):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)


# --- Gauss-Newton products -----------------------------------------------------------------
def _explicit(f, x):
    """The Jacobian of f at x, one column per basis tangent (built from jvp)."""
    return numpy.stack([tg.jvp(f, (x,), (e,))[1].numpy().ravel()
                        for e in numpy.eye(x.size).reshape(x.size, *x.shape)], axis=1)


def test_gauss_newton_product_matches_an_explicit_jt_h_j():
    mixing = RNG.standard_normal((3, 3))
    x0 = RNG.standard_normal((3, 2))

    def model(theta):           # outputs (2, 3), nonlinear in theta
        return tg.tanh(theta).T @ tg.tensor(mixing) + (theta ** 2).sum(0).reshape(2, 1)

    def loss(z):                # softmax cross-entropy on logits: convex, non-diagonal H_L
        return -(tg.log_softmax(z, 1) * tg.tensor(numpy.eye(3)[[0, 2]])).sum()
    J = _explicit(model, x0)
    z = model(tg.tensor(x0)).numpy()
    p = numpy.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    H = numpy.zeros((6, 6))      # the softmax cross-entropy Hessian, block diagonal per row
    for r in range(2):
        H[3 * r:3 * r + 3, 3 * r:3 * r + 3] = numpy.diag(p[r]) - numpy.outer(p[r], p[r])
    G = J.T @ H @ J
    assert numpy.linalg.eigvalsh(G).min() > -1e-12       # positive semi-definite
    for v in RNG.standard_normal((3, 3, 2)):
        (gv,) = tg.gnvp(model, loss, (x0,), (v,))
        numpy.testing.assert_allclose(gv.numpy().ravel(), G @ v.ravel(), rtol=1e-11, atol=1e-13)


def test_gauss_newton_states_add_the_structural_damping_term():
    theta = tg.tensor(RNG.standard_normal(3), requires_grad=True)
    hidden = tg.tanh(theta * tg.tensor([1.0, -2.0, 0.5]))
    out = (hidden * hidden).sum()
    loss = (out - 1.0) ** 2
    gn = tg.GaussNewton(loss, out, [theta], states=hidden)
    v = RNG.standard_normal(3)
    j_out = 2 * hidden.numpy() * (1 - hidden.numpy() ** 2) * [1.0, -2.0, 0.5]
    j_h = numpy.diag((1 - hidden.numpy() ** 2) * [1.0, -2.0, 0.5])
    expected = 2 * j_out * (j_out @ v) + 0.3 * j_h.T @ j_h @ v
    numpy.testing.assert_allclose(gn([v], state_weight=0.3)[0].numpy(), expected, rtol=1e-12)
    numpy.testing.assert_allclose(gn([v])[0].numpy(), 2 * j_out * (j_out @ v), rtol=1e-12)


def test_linearization_replays_for_many_tangents_and_both_directions_agree():
    x = tg.tensor(RNG.standard_normal(4), requires_grad=True)
    y = tg.sin(x) * x.sum()
    lin = tg.Linearization(y, x)
    J = numpy.diag(numpy.cos(x.numpy())) * x.numpy().sum() + numpy.sin(x.numpy())[:, None]
    for v in numpy.eye(4):
        numpy.testing.assert_allclose(lin.jvp([v])[0].numpy(), J @ v, rtol=1e-13)
        numpy.testing.assert_allclose(lin.vjp([v])[0].numpy(), J.T @ v, rtol=1e-13)


def test_linearize_returns_the_value_and_a_reusable_jvp():
    out, jvp_fn = tg.linearize(lambda a, b: a * b, 2.0, 3.0)
    assert float(out) == 6.0
    assert float(jvp_fn(1.0, 0.0)) == 3.0 and float(jvp_fn(0.0, 1.0)) == 2.0


# --- structure, nesting, constants ---------------------------------------------------------
def test_outputs_keep_the_structure_and_the_results_are_constants():
    x = tg.tensor([0.5, 1.0], requires_grad=True)
    with tg.no_grad():
        out, tangent = tg.jvp(lambda a: (a * 2, a.sum()), (x,), ([1.0, 1.0],))
    assert isinstance(out, tuple) and isinstance(tangent, tuple) and len(tangent) == 2
    numpy.testing.assert_array_equal(tangent[0].numpy(), [2.0, 2.0])
    assert float(tangent[1]) == 2.0
    assert not tangent[0].requires_grad and not out[0].requires_grad
    value, vjp_fn = tg.vjp(lambda a: a * 3, numpy.array([1.0, 2.0]))
    (g,) = vjp_fn(numpy.ones(2))
    assert isinstance(value, tg.Tensor) and not value.requires_grad
    numpy.testing.assert_array_equal(g.numpy(), [3.0, 3.0])
    numpy.testing.assert_array_equal(vjp_fn(2 * numpy.ones(2))[0].numpy(), [6.0, 6.0])


def test_an_unused_input_and_a_constant_output_get_zeros():
    _, tangent = tg.jvp(lambda a, b: (a * 2, tg.tensor(1.0)), (1.0, 2.0), (1.0, 1.0))
    assert float(tangent[0]) == 2.0 and float(tangent[1]) == 0.0
    _, vjp_fn = tg.vjp(lambda a, b: a * 2, 1.0, 2.0)
    assert [float(g) for g in vjp_fn(1.0)] == [2.0, 0.0]
    assert [float(h) for h in tg.hvp(lambda a, b: a * a, (1.0, 2.0), (1.0, 1.0))] == [2.0, 0.0]
    assert float(tg.hvp(lambda a: a * 3, (1.0,), (1.0,))[0]) == 0.0


def test_transforms_nest_jvp_of_vjp_is_the_hessian_product():
    def f(x):
        return (tg.sin(x) * x).sum()

    def gradient(x):
        return tg.vjp(f, x)[1](1.0)[0]
    x, v = numpy.array([0.3, -1.2]), numpy.array([1.0, 0.5])
    hessian = numpy.diag(2 * numpy.cos(x) - x * numpy.sin(x))
    numpy.testing.assert_allclose(tg.jvp(gradient, (x,), (v,))[1].numpy(), hessian @ v,
                                  rtol=1e-13)
    numpy.testing.assert_allclose(tg.hvp(f, (x,), (v,))[0].numpy(), hessian @ v, rtol=1e-13)


def test_a_jvp_inside_a_differentiated_function_is_differentiable():
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    _, tangent = tg.jvp(lambda a: (a ** 3).sum(), (x,), ([1.0, 2.0],))
    assert tangent.requires_grad
    (g,) = tg.grad(tangent, x)
    numpy.testing.assert_allclose(g.numpy(), 6 * x.numpy() * [1.0, 2.0])


def test_tangents_take_the_primal_dtype_and_float32_stays_float32():
    x = numpy.array([0.5, 1.0], numpy.float32)
    _, t = tg.jvp(tg.tanh, (x,), (numpy.ones(2),))
    assert t.dtype == numpy.float32
    assert tg.hvp(lambda a: (a ** 3).sum(), (x,), (x,))[0].dtype == numpy.float32


# --- errors ---------------------------------------------------------------------------------
def test_errors_name_the_transform_and_the_fix():
    f = tg.tanh
    with pytest.raises(tg.OpError, match=r"jvp: primals must be a tuple or list.*\(primal,\)"):
        tg.jvp(f, numpy.ones(2), (numpy.ones(2),))
    with pytest.raises(tg.OpError, match=r"jvp: tangent 0 has shape \(3,\) but its primal has "
                                         r"shape \(2,\)"):
        tg.jvp(f, (numpy.ones(2),), (numpy.ones(3),))
    with pytest.raises(tg.OpError, match="jvp: 1 primals but 2 tangents"):
        tg.jvp(f, (numpy.ones(2),), (numpy.ones(2), numpy.ones(2)))
    with pytest.raises(tg.OpError, match="hvp: f must return a scalar"):
        tg.hvp(f, (numpy.ones(2),), (numpy.ones(2),))
    with pytest.raises(tg.OpError, match="vjp: primal 0 has dtype int64"):
        tg.vjp(f, numpy.array([1, 2]))
    with pytest.raises(tg.OpError, match="vjp: f returned a float, not a tensor"):
        tg.vjp(lambda a: 1.0, numpy.ones(2))
    _, vjp_fn = tg.vjp(lambda a: (a, a * 2), numpy.ones(2))
    with pytest.raises(tg.OpError, match="vjp_fn: f returned 2 outputs"):
        vjp_fn(numpy.ones(2))
    with pytest.raises(tg.OpError, match=r"Linearization.vjp: cotangent 0 has shape \(3,\)"):
        vjp_fn((numpy.ones(3), numpy.ones(2)))
    with pytest.raises(tg.OpError, match="linearize: no primals given"):
        tg.linearize(f)
    with pytest.raises(tg.OpError, match=r"GaussNewton: outputs\[0\] is not a tensor computed"):
        tg.GaussNewton(tg.tensor(1.0), tg.tensor([1.0]), [tg.tensor([1.0], requires_grad=True)])


def test_a_gnvp_inside_a_differentiated_function_is_differentiable():
    """d/dx of <v, G(x) v> for z = x^2, L = z^2 / 2: G = diag(4x^2), so the result is 8 x v^2."""
    x = tg.tensor([0.5, -1.5], requires_grad=True)
    v = numpy.array([1.0, 2.0])
    (gv,) = tg.gnvp(lambda a: a * a, lambda z: (z * z).sum() / 2, (x,), (v,))
    numpy.testing.assert_allclose(gv.numpy(), 4 * x.numpy() ** 2 * v)
    (g,) = tg.grad((gv * tg.tensor(v)).sum(), x)
    numpy.testing.assert_allclose(g.numpy(), 8 * x.numpy() * v ** 2)
