"""Backward: fan-out, ownership of vjp results, deep chains, accumulation, release and grad mode."""
import numpy
import pytest
from sites import next_line_site

import tapegrad as tg
from tapegrad.ledger import _entries

F64 = numpy.float64


def leaf(values):
    return tg.tensor(numpy.asarray(values, dtype=F64), requires_grad=True)


# --- fan-out ----------------------------------------------------------------------------
def test_a_shared_weight_gets_the_sum_of_its_uses_at_every_step():
    rng = numpy.random.default_rng(0)
    w_value, xs = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((6, 3))
    W = leaf(w_value)
    total = 0.0
    for x in xs:
        total = total + (W @ tg.tensor(x)).sum()
    total.backward()
    expected = numpy.ones((3, 1)) * xs.sum(axis=0)     # d/dW of sum(W x_t) is 1 x_t^T
    numpy.testing.assert_allclose(W.grad.numpy(), expected, rtol=1e-14)
    uses = tg.contributions(W)
    assert len(uses) == 6 and all(c.op == "matmul" for c in uses)


@pytest.mark.parametrize("size", [3, 200])      # normed when read / during backward
def test_each_contributions_norm_is_the_norm_of_its_term(size):
    rng = numpy.random.default_rng(1)
    W = leaf(rng.standard_normal(size))
    xs = rng.standard_normal((4, size))
    (sum((W * tg.tensor(x)).sum() * (k + 1) for k, x in enumerate(xs))).backward()
    norms = [c.norm for c in tg.contributions(W)]
    expected = [numpy.linalg.norm(x * (k + 1)) for k, x in enumerate(xs)]
    numpy.testing.assert_allclose(norms, expected, rtol=1e-14)


def test_a_small_contribution_kept_for_its_norm_is_its_own_array_not_a_view():
    """A view would keep its base -- maybe a large cotangent -- alive in the ledger."""
    W = leaf([1.0, 2.0, 3.0])
    (W.reshape(1, 3) * tg.tensor(numpy.ones((1000, 3)))).sum().backward()
    (kept,) = [entry[5] for entry in _entries(W)]   # reshape's vjp returns a view
    assert kept.base is None
    assert tg.contributions(W)[0].norm == pytest.approx(1000 * 3 ** 0.5, rel=1e-14)


def test_a_reused_non_leaf_sums_its_contributions():
    a = leaf([1.0, 2.0])
    b = a + a
    c = b + b
    d = c * b
    d.sum().backward()                  # d = 4a * 2a = 8a^2
    numpy.testing.assert_array_equal(a.grad.numpy(), [16.0, 32.0])


def test_an_input_used_twice_by_one_operation():
    x = leaf([3.0, -2.0])
    (x * x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [6.0, -4.0])
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    (y @ y).sum().backward()
    ones = numpy.ones((2, 2))
    numpy.testing.assert_array_equal(y.grad.numpy(), ones @ y.numpy().T + y.numpy().T @ ones)


def test_a_broadcast_bias_gets_its_gradient_summed_to_its_shape():
    b = leaf([[0.5, -1.0, 2.0]])                                # (1, 3) onto (2, 3)
    x = leaf(numpy.arange(6.0).reshape(2, 3))
    scale = leaf([2.0])                                         # (1,) onto (2, 3)
    ((x + b) * scale).sum().backward()
    numpy.testing.assert_array_equal(b.grad.numpy(), [[4.0, 4.0, 4.0]])
    assert b.grad.shape == (1, 3) and scale.grad.shape == (1,)
    numpy.testing.assert_allclose(scale.grad.numpy(), [(x.numpy() + b.numpy()).sum()])


def test_a_0d_leaf_gets_a_0d_grad_from_backward():
    scalar = leaf(2.0)
    x = tg.tensor(numpy.ones((2, 3)))
    (x * scalar).sum().backward()
    assert scalar.grad.shape == () and scalar.grad.item() == 6.0


def test_a_0d_leaf_gets_a_0d_gradient_from_grad():
    scalar = leaf(2.0)
    (g,) = tg.grad(scalar * scalar, scalar)
    assert g.shape == () and g.item() == 4.0


# --- ownership: never write into an array a vjp returned ----------------------------------
HELD = numpy.full(3, 7.0)


@tg.primitive
def held_gradient(x):
    """Identity forward whose vjp returns the same module-level array every time."""
    return x * 1.0


@held_gradient.defvjp
def _(g, out, x):
    return HELD


@pytest.mark.parametrize("through", ["leaf", "intermediate"])
@pytest.mark.parametrize("uses", [1, 2, 3, 5])
def test_accumulation_never_writes_into_an_array_a_vjp_returned(through, uses):
    x = leaf(numpy.ones(3))
    for call in (1, 2):                         # the second call adds onto an existing .grad
        source = x if through == "leaf" else x * 1.0
        total = held_gradient(source)
        for _ in range(uses - 1):
            total = total + held_gradient(source)
        total.sum().backward()
        numpy.testing.assert_array_equal(HELD, [7.0, 7.0, 7.0])
        numpy.testing.assert_array_equal(x.grad.numpy(), numpy.full(3, 7.0 * uses * call))


def test_a_vjps_returned_array_is_not_frozen_or_aliased_by_grad():
    held = numpy.full(3, 2.0)

    @tg.primitive
    def held_once(x):
        return x * 1.0

    @held_once.defvjp
    def _(g, out, x):
        return held

    x = leaf(numpy.ones(3))
    held_once(x).sum().backward()
    assert held.flags.writeable
    assert not numpy.shares_memory(x.grad.numpy(), held)


def test_the_seed_gradient_passed_by_the_user_is_not_written_to():
    x = leaf([1.0, 2.0])
    seed = numpy.array([1.0, 1.0])
    y = x + x                                       # add's vjp hands g on by reference, twice
    y.backward(gradient=seed)
    numpy.testing.assert_array_equal(seed, [1.0, 1.0])
    assert seed.flags.writeable
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


# --- deep chains -------------------------------------------------------------------------
def test_a_chain_of_100000_operations_backpropagates_without_recursion():
    x = leaf([0.5])
    h = x
    for _ in range(100_000):
        h = h * 1.0
    h.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [1.0])


def test_a_deep_chain_that_is_never_backpropagated_is_freed_without_recursion():
    x = leaf([0.5])
    h = x
    for _ in range(100_000):
        h = h + 1.0
    del h                                          # must not overflow the C stack


# --- .grad --------------------------------------------------------------------------------
def test_leaf_grad_accumulates_across_backward_calls_and_resets_with_none():
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    first = x.grad
    (x * 3.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
    numpy.testing.assert_array_equal(first.numpy(), [2.0, 2.0])   # the old .grad is intact
    x.grad = None
    (x * 4.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


def test_intermediates_get_grad_only_with_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    kept = x * 2.0
    kept.retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None
    numpy.testing.assert_array_equal(kept.grad.numpy(), h.numpy())
    assert kept.grad.grad_fn is None and not kept.grad.requires_grad


def test_retained_intermediate_grad_accumulates_like_a_leafs():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    numpy.testing.assert_array_equal(h.grad.numpy(), 4 * h.numpy())


def test_a_retained_0d_grad_accumulates_too():
    x = leaf([1.0, 2.0])
    y = (x * 3.0).sum()
    y.retain_grad()
    (y * 2.0).backward(retain_graph=True)
    (y * 2.0).backward()
    assert y.grad.shape == () and y.grad.item() == 4.0
    assert not y.grad.numpy().flags.writeable


def test_grad_is_a_read_only_leaf_tensor():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    assert isinstance(x.grad, tg.Tensor) and x.grad.is_leaf and not x.grad.requires_grad
    with pytest.raises(ValueError, match="read-only"):
        x.grad.numpy()[0] = 0.0


# --- release and retain_graph ---------------------------------------------------------------
def test_a_second_backward_through_a_released_graph_names_the_op_and_the_fix():
    x = leaf([1.0, 2.0])
    site = next_line_site()
    y = tg.exp(x).sum()
    y.backward()
    with pytest.raises(tg.BackwardError) as info:
        y.backward()
    message = str(info.value)
    assert "reduce_sum" in message and site in message
    assert "retain_graph=True" in message


def test_a_released_graph_is_reported_even_when_only_part_of_it_was_released():
    x = leaf([1.0, 2.0])
    site = next_line_site()
    h = tg.sin(x)
    h.sum().backward()
    with pytest.raises(tg.BackwardError, match=f"sin.*{site}.*retain_graph=True"):
        (h * 2.0).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (tg.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 2 * first)
    assert y.grad_fn.released


def test_saved_values_are_freed_as_the_sweep_passes():
    x = leaf([1.0, 2.0])
    with tg.Tape() as tape:
        y = (tg.tanh(x) * 2.0).sum()
    y.backward()
    assert all(r.released and r.out is None and r.datas is None for r in tape)


# --- seeds ----------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_without_gradient_errors():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    with pytest.raises(tg.BackwardError, match=r"shape \(3,\).*gradient="):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape_errors():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    with pytest.raises(tg.BackwardError, match=r"\(2,\).*\(3,\)"):
        y.backward(gradient=numpy.ones(2))


def test_backward_with_a_gradient_computes_a_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(gradient=tg.tensor(numpy.array([1.0, 0.0, -1.0])))
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, -6.0])


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_a_single_element_output_of_any_shape_seeds_with_one(shape):
    x = leaf(numpy.full((1,), 3.0))
    y = (x * x).reshape(shape)
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [6.0])


def test_backward_on_a_tensor_that_does_not_require_grad_errors():
    x = tg.tensor(numpy.ones(2))
    with pytest.raises(tg.BackwardError, match="does not require grad"):
        (x * 2.0).sum().backward()


# --- no_grad / enable_grad / detach ---------------------------------------------------------
def test_no_grad_records_nothing_and_enable_grad_turns_it_back_on():
    x = leaf([1.0, 2.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2.0
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf


def test_no_grad_as_a_decorator_and_restored_after_an_exception():
    x = leaf([1.0])

    @tg.no_grad()
    def evaluate(t):
        return t * 2.0

    assert not evaluate(x).requires_grad and tg.is_grad_enabled()
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError("boom")
    assert tg.is_grad_enabled()


def test_detach_blocks_the_gradient_of_its_branch():
    x = leaf([2.0, 3.0])
    y = (x * x).detach() * x + x * x
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), x.numpy() ** 2 + 2 * x.numpy())


# --- multi-output primitives --------------------------------------------------------------
def test_split_with_only_some_outputs_used():
    x = leaf(numpy.arange(6.0))
    p, q, r = tg.split(x, 2)
    (q * q).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 4.0, 6.0, 0.0, 0.0])


def test_split_outputs_used_in_different_places_sum_into_one_gradient():
    x = leaf(numpy.arange(1.0, 7.0).reshape(3, 2))
    a, b = tg.split(x, [2, 1], dim=0)
    (a.sum() * 2.0 + (b * b).sum() + a[0].sum()).backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [[3.0, 3.0], [2.0, 2.0], [10.0, 12.0]])


def test_unbind_with_one_output_used():
    x = leaf(numpy.arange(6.0).reshape(2, 3))
    cols = x.unbind(1)
    assert len(cols) == 3 and cols[0].shape == (2,)
    (cols[2] * 3.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 3.0], [0.0, 0.0, 3.0]])


def test_multi_output_partial_use_under_create_graph():
    x = leaf(numpy.arange(1.0, 7.0))
    a, b, c = tg.split(x * x, 2)
    (g,) = tg.grad((b * b).sum(), x, create_graph=True)        # d/dx x^4 on the middle pair
    numpy.testing.assert_allclose(g.numpy(), [0.0, 0.0, 108.0, 256.0, 0.0, 0.0])
    (h,) = tg.grad(g.sum(), x)
    numpy.testing.assert_allclose(h.numpy(), [0.0, 0.0, 108.0, 192.0, 0.0, 0.0])


# --- documented subgradients at kinks --------------------------------------------------------
KINKS = {
    "relu at 0 (left derivative)": (tg.relu, 0.0, 0.0),
    "leaky_relu at 0 (left derivative)": (lambda x: tg.leaky_relu(x, 0.2), 0.0, 0.2),
    "elu at 0 (left derivative)": (lambda x: tg.elu(x, 0.5), 0.0, 0.5),
    "abs at 0": (tg.abs, 0.0, 0.0),
    "clip at the lower bound": (lambda x: tg.clip(x, 0.0, 1.0), 0.0, 1.0),
    "clip at the upper bound": (lambda x: tg.clip(x, 0.0, 1.0), 1.0, 1.0),
    "maximum tie": (lambda x: tg.maximum(x, tg.tensor(numpy.array([2.0]))), 2.0, 0.5),
    "minimum tie": (lambda x: tg.minimum(tg.tensor(numpy.array([2.0])), x), 2.0, 0.5),
}


@pytest.mark.parametrize("name", KINKS)
def test_subgradients_at_kinks_are_the_documented_choices(name):
    f, at, expected = KINKS[name]
    x = leaf([at])
    f(x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [expected])


def test_a_max_with_ties_shares_the_gradient_equally():
    x = leaf([[3.0, 1.0, 3.0], [0.0, 2.0, 2.0]])
    tg.amax(x, dim=1).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
