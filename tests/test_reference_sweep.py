"""The engine's sweep against a micrograd-sized reference sweep over the same records.

The reference walks the records the loss depends on in reverse index order and
calls each primitive's vjp directly, summing broadcast cotangents with NumPy:
no ownership tricks, no fast path, no early stop.  Random programs with fan-out,
broadcasting, reused non-leaves and a multi-output primitive must give the same
leaf gradients.
"""
import numpy
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg


def reduce_to(c, shape):
    """``c`` summed over the axes along which ``shape`` was broadcast."""
    c = numpy.asarray(c)
    while c.ndim > len(shape):
        c = c.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and c.shape[i] != 1:
            c = c.sum(axis=i, keepdims=True)
    return c


def reference_grads(loss, leaves):
    """d loss / d leaf for each leaf, by a plain reverse walk over the records."""
    records, stack = set(), [loss.grad_fn]
    while stack:
        rec = stack.pop()
        if rec not in records:
            records.add(rec)
            stack.extend(a.grad_fn for a in rec.inputs if isinstance(a, tg.Tensor) and a.grad_fn)
    key = lambda t: (t.grad_fn, max(t._slot, 0)) if t.grad_fn else t   # noqa: E731
    cot = {key(loss): numpy.ones_like(loss.numpy())}
    for rec in sorted(records, key=lambda r: r.index, reverse=True):
        outs = rec.out if rec.multi else (rec.out,)
        gs = tuple(cot.pop((rec, s), numpy.zeros_like(o)) for s, o in enumerate(outs))
        params = dict(rec.params, needs=rec.needs) if rec.op.vjp_takes_needs else rec.params
        cots = rec.op.vjp(gs if rec.multi else gs[0], rec.out, *rec.datas, **params)
        cots = (cots,) if len(rec.inputs) == 1 else cots
        for a, c, need in zip(rec.inputs, cots, rec.needs):
            if need:
                cot[key(a)] = cot.get(key(a), 0) + reduce_to(c, a.shape)
    return [cot.get(x) for x in leaves]


STEPS = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 99), st.integers(0, 99)),
                 min_size=1, max_size=12)


def run_program(steps, weight, leaves):
    pool = list(leaves)
    for kind, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        if kind == 0:
            pool.append(a + b)
        elif kind == 1:
            pool.append(a * b)
        elif kind == 2:
            pool.append(tg.tanh(a))
        elif kind == 3:
            pool.append(tg.sigmoid(a) @ weight)                 # (.., 4) @ (4, 4)
        elif kind == 4:
            pool.append(a.sum(0, keepdim=True) * b if a.ndim == 2 else a - b)
        elif kind == 5:
            left, right = tg.split(a, 2, dim=-1)              # a multi-output primitive
            pool.append(tg.cat([right * 2.0, left], dim=-1))
        else:
            pool.append(tg.exp(a * 0.1) / (1.0 + b * b))
    return sum((t.sum() for t in pool[len(leaves):]), tg.tensor(0.0, dtype=tg.float64))


@settings(max_examples=40, deadline=None)
@given(STEPS, st.integers(0, 2 ** 31 - 1))
def test_the_sweep_matches_the_reference_sweep(steps, seed):
    rng = numpy.random.default_rng(seed)
    weight, *leaves = [tg.tensor(rng.standard_normal(shape), requires_grad=True)
                       for shape in [(4, 4), (3, 4), (4,), (1, 4)]]
    loss = run_program(steps, weight, leaves)
    leaves.append(weight)
    expected = reference_grads(loss, leaves)
    loss.backward()
    for x, e in zip(leaves, expected):
        if e is None:
            assert x.grad is None
        else:
            numpy.testing.assert_allclose(x.grad.numpy(), e, rtol=1e-12, atol=1e-12)
