"""A weight's transpose shared by every time step: its gradient is one product over all steps.

The sweep stacks the left operands and cotangents of all ``h @ W.T`` (or
``addmm(x_t, h, W.T)``) and forms ``Σ_t h_{t-1}ᵀ δ_t`` as one product.  It must
equal the sum of the per-step products (what a fresh ``W.T`` at every step
gives), first and second order.
"""
import numpy
import pytest

import tapegrad as tg
import tapegrad.backward
from tapegrad.viz.gradients import cotangents, input_cotangent

T, B, H = 7, 3, 4


def problem(seed=0):
    rng = numpy.random.default_rng(seed)
    W = tg.tensor(rng.standard_normal((H, H)) * 0.5, requires_grad=True)
    xs = tg.tensor(rng.standard_normal((T, B, H)))
    return W, xs


def plain(x, h, w_t):
    return x + h @ w_t


#: Ways to write a step's pre-activation, each with the same step written with matmul, mul
#: and add (the reference): the sweep defers the weight's term of matmul and of addmm with
#: alpha 1; with alpha != 1 each step's term is formed on its own.
STEPS = {
    "matmul": (plain, plain),
    "addmm": (lambda x, h, w_t: tg.addmm(x, h, w_t), plain),
    "addmm-scaled": (lambda x, h, w_t: tg.addmm(x, h, w_t, beta=0.5, alpha=0.75),
                     lambda x, h, w_t: 0.5 * x + (h @ w_t) * 0.75),
}


@pytest.fixture(params=sorted(STEPS))
def step(request):
    return STEPS[request.param]


def loss_of(W, xs, shared, step=STEPS["matmul"]):
    """An Elman-style loop.  ``shared``: one ``W.T`` for all steps and ``step``'s own form;
    else a fresh ``W.T`` per step and the reference form."""
    w_t = W.T
    form = step[0] if shared else step[1]
    h = tg.zeros(B, H, dtype=tg.float64)
    total = 0.0
    for t in range(T):
        h = tg.tanh(form(xs[t], h, w_t if shared else W.T))
        total = total + (h * h).sum()
    return total


def test_the_shared_product_equals_the_sum_of_per_step_products(step):
    W, xs = problem()
    loss_of(W, xs, False, step).backward()
    per_step = W.grad.numpy().copy()
    W.grad = None
    loss_of(W, xs, True, step).backward()
    numpy.testing.assert_allclose(W.grad.numpy(), per_step, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("limit", [1, 1 << 30])
def test_partial_products_add_up_to_the_same_gradient(monkeypatch, limit, step):
    """Pending terms are multiplied out in chunks when they grow large (bounded memory)."""
    W, xs = problem(1)
    (expected,) = tg.grad(loss_of(W, xs, False, step), W)
    monkeypatch.setattr(tapegrad.backward, "SHARED_PRODUCT_BYTES", limit)
    (got,) = tg.grad(loss_of(W, xs, True, step), W)
    numpy.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-13, atol=1e-14)


def test_the_shared_product_is_differentiable_with_create_graph(step):
    W, xs = problem(2)
    v = tg.tensor(numpy.random.default_rng(3).standard_normal((H, H)))
    results = []
    for shared in (False, True):
        (g,) = tg.grad(loss_of(W, xs, shared, step), W, create_graph=True)
        (hv,) = tg.grad((g * v).sum(), W)           # Hessian-vector product through it
        results.append((g.numpy(), hv.numpy()))
    for per_step, batched in zip(*results):
        numpy.testing.assert_allclose(batched, per_step, rtol=1e-12, atol=1e-13)


def test_the_per_step_terms_stay_available_and_sum_to_the_gradient():
    """What viz shows per time step: each use's exact term, computed only when asked."""
    W, xs = problem(4)
    with tg.Tape() as tape:
        loss = loss_of(W, xs, shared=True)
    by_record, totals = cotangents(loss, tape.records, [W])
    uses = [r for r in tape.records if r.op.name == "matmul"]
    terms = [input_cotangent(r, by_record[r], 1) for r in uses]
    assert len(terms) == T and all(t.shape == (H, H) for t in terms)
    numpy.testing.assert_allclose(sum(terms).T, totals[W], rtol=1e-13, atol=1e-14)
