"""A user-defined primitive, written exactly as the docs show, is a first-class citizen."""
import numpy
import pytest
from sites import next_line_site

import tapegrad
import tapegrad as tg

F64 = numpy.float64


@tapegrad.primitive
def cube(x):                 # forward: arrays in, array out
    return x ** 3


@cube.defvjp
def _(g, out, x):            # one cotangent per input (a tuple when there are several)
    return g * 3 * x ** 2


@tapegrad.primitive
def fused_multiply_add(a, b, c):
    return a * b + c


@fused_multiply_add.defvjp
def _(g, out, a, b, c):
    return g * b, g * a, g


def leaf(values, dtype=F64):
    return tg.tensor(numpy.asarray(values, dtype=dtype), requires_grad=True)


def test_forward_and_gradient():
    x = leaf([0.5, -1.5, 2.0])
    y = cube(x)
    numpy.testing.assert_array_equal(y.numpy(), x.numpy() ** 3)
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), 3 * x.numpy() ** 2)


def test_plain_arrays_in_give_a_plain_array_out():
    out = cube(numpy.array([2.0, 3.0]))
    assert type(out) is numpy.ndarray
    numpy.testing.assert_array_equal(out, [8.0, 27.0])


def test_a_new_primitive_is_registered_under_its_name():
    named = make_primitive("registered_by_test_user_primitive", lambda g, out, x: g)
    assert tg.REGISTRY["registered_by_test_user_primitive"] is named.primitive
    assert "cube" in tg.REGISTRY and cube.primitive.name == "cube"


def test_it_is_recorded_on_the_tape_with_its_name_and_site():
    x = leaf([1.0, 2.0])
    with tg.Tape() as tape:
        with tg.scope("model"):
            site = next_line_site()
            y = cube(x)
    (rec,) = tape
    assert rec.op.name == "cube" and rec.op is cube.primitive and y.grad_fn is rec
    assert rec.site == site and rec.scope_path == "model"
    assert "= cube(v0)" in str(tape) and site in str(tape)
    assert repr(y).endswith("op=cube)")


def test_it_is_twice_differentiable_through_its_tapegrad_vjp():
    x = leaf([0.5, -1.5, 2.0])
    (d1,) = tg.grad(cube(x).sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    (d3,) = tg.grad(d2.sum(), x)
    numpy.testing.assert_allclose(d1.numpy(), 3 * x.numpy() ** 2, rtol=1e-15)
    numpy.testing.assert_allclose(d2.numpy(), 6 * x.numpy(), rtol=1e-15)
    numpy.testing.assert_allclose(d3.numpy(), numpy.full(3, 6.0), rtol=1e-15)


def test_gradcheck_and_gradgradcheck_accept_it():
    x = leaf([0.3, -0.8])
    assert tg.gradcheck(lambda t: cube(t) * 2.0, [x])
    assert tg.gradgradcheck(lambda t: cube(t) * 2.0, [x])


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_gradients_keep_the_input_dtype(dtype):
    x = leaf([1.0, 2.0], dtype=dtype)
    cube(x).sum().backward()
    assert x.grad.dtype == dtype


# --- several inputs -------------------------------------------------------------------------
def test_several_inputs_take_a_tuple_of_cotangents():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    y = fused_multiply_add(a, b, c)
    numpy.testing.assert_array_equal(y.numpy(), [8.0, 14.0])
    y.sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), b.numpy())
    numpy.testing.assert_array_equal(b.grad.numpy(), a.numpy())
    numpy.testing.assert_array_equal(c.grad.numpy(), [1.0, 1.0])


def test_the_engine_reduces_the_gradients_of_broadcast_inputs():
    a = leaf(numpy.arange(6.0).reshape(2, 3))
    b = leaf([1.0, 2.0, 3.0])                        # (3,) broadcast over rows
    c = leaf([[0.5]])                                # (1, 1) broadcast everywhere
    fused_multiply_add(a, b, c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (1, 1)
    numpy.testing.assert_array_equal(b.grad.numpy(), a.numpy().sum(axis=0))
    numpy.testing.assert_array_equal(c.grad.numpy(), [[6.0]])
    numpy.testing.assert_array_equal(a.grad.numpy(), numpy.broadcast_to(b.numpy(), (2, 3)))


def test_constant_inputs_get_no_gradient():
    a = leaf([1.0, 2.0])
    fused_multiply_add(a, numpy.array([3.0, 4.0]), 1.0).sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])


def test_a_vjp_can_skip_inputs_that_need_no_gradient():
    calls = []

    @tg.primitive
    def scaled(x, w):
        return x * w

    @scaled.defvjp
    def _(g, out, x, w, needs):
        calls.append(needs)
        return (g * w if needs[0] else None), (g * x if needs[1] else None)

    x = leaf([1.0, 2.0])
    scaled(x, tg.tensor(numpy.array([3.0, 4.0]))).sum().backward()
    assert calls == [(True, False)]
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_static_parameters_reach_forward_and_vjp():
    @tg.primitive
    def scale(x, factor=2.0):
        return x * factor

    @scale.defvjp
    def _(g, out, x, factor=2.0):
        return g * factor

    x = leaf([1.0, 2.0])
    (by_name,) = tg.grad(scale(x, factor=5.0).sum(), x)
    (by_position,) = tg.grad(scale(x, 5.0).sum(), x)
    numpy.testing.assert_array_equal(by_name.numpy(), [5.0, 5.0])
    numpy.testing.assert_array_equal(by_position.numpy(), [5.0, 5.0])


def test_positional_only_parameters_of_the_forward_are_inputs():
    @tg.primitive
    def weighted(x, w, /, power=1):
        return x * w ** power

    @weighted.defvjp
    def _(g, out, x, w, power=1):
        return g * w ** power, g * power * x * w ** (power - 1)

    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gw = tg.grad(weighted(x, w, 2).sum(), [x, w])
    numpy.testing.assert_array_equal(gx.numpy(), [9.0, 16.0])
    numpy.testing.assert_array_equal(gw.numpy(), [6.0, 16.0])


def test_a_numpy_ufunc_can_be_the_forward():
    np_sin = tg.primitive(numpy.sin, name="np_sin_of_test_user_primitive")
    np_sin.defvjp(lambda g, out, x: g * tg.cos(x))
    x = leaf([0.5, 1.0])
    (gx,) = tg.grad(np_sin(x).sum(), x)
    numpy.testing.assert_allclose(gx.numpy(), numpy.cos([0.5, 1.0]), rtol=1e-15)


# --- a wrong vjp is reported as a bug in that primitive ---------------------------------------
def make_primitive(name, vjp):
    """A primitive called ``name``: the product of its inputs, with the given vjp."""
    def forward(*xs):
        out = xs[0] * 1.0
        for x in xs[1:]:
            out = out * x
        return out

    prim = tg.primitive(forward, name=name)
    prim.defvjp(vjp)
    return prim


def test_a_vjp_returning_the_wrong_shape_raises_primitive_bug_error_naming_it():
    truncated = make_primitive("truncated", lambda g, out, x: g[:1])
    x = leaf([1.0, 2.0, 3.0])
    site = next_line_site()
    y = truncated(x).sum()
    with pytest.raises(tg.PrimitiveBugError) as info:
        y.backward()
    message = str(info.value)
    assert "'truncated'" in message and "(1,)" in message and "(3,)" in message
    assert site in message


def test_a_vjp_returning_the_wrong_number_of_cotangents_is_named():
    one_short = make_primitive("one_short", lambda g, out, x, y: g * y)
    x = leaf([1.0, 2.0])
    with pytest.raises(tg.PrimitiveBugError, match="'one_short' must return 2 cotangents"):
        one_short(x, x).sum().backward()


@pytest.mark.parametrize("trusted", [False, True], ids=["user", "built-in path"])
def test_a_vjp_returning_a_list_of_cotangents_counts_each_once(trusted):
    as_list = make_primitive(f"as_list_{trusted}", lambda g, out, x, y: [g * y, g * x])
    as_list.primitive.trusted = trusted       # built-in primitives take the sweep's fast path
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    as_list(x, y).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    numpy.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0])


def test_a_vjp_returning_none_for_a_needed_input_is_named():
    lazy = make_primitive("lazy", lambda g, out, x: None)
    with pytest.raises(tg.PrimitiveBugError, match="'lazy' returned None for input 0"):
        lazy(leaf([1.0])).sum().backward()


def test_a_vjp_returning_another_float_dtype_is_named():
    upcast = make_primitive("upcast", lambda g, out, x: numpy.asarray(g, dtype=F64) * 1.0)
    x = leaf([1.0, 2.0], dtype=numpy.float32)
    with pytest.raises(tg.PrimitiveBugError, match="'upcast'.*float64.*float32"):
        upcast(x).sum().backward()


def test_a_one_input_vjp_returning_a_tuple_is_named():
    doubled = make_primitive("tuple_for_one", lambda g, out, x: (g * 1.0, g * 1.0))
    x = leaf([1.0, 2.0])
    try:
        doubled(x).sum().backward()
    except tg.PrimitiveBugError as exc:
        assert "tuple_for_one" in str(exc)
    else:
        raise AssertionError(f"the tuple was accepted: x.grad = {x.grad}")


def test_a_primitive_without_a_vjp_says_so_in_backward():
    @tg.primitive
    def forgot_vjp(x):
        return x * 2.0

    with pytest.raises(tg.TapegradError, match="forgot_vjp.*defvjp"):
        forgot_vjp(leaf([1.0])).sum().backward()


def test_a_user_primitive_named_like_a_built_in_warns_and_leaves_the_built_in_alone():
    builtin = tg.REGISTRY["sin"]
    try:
        with pytest.warns(UserWarning, match="takes the name of tapegrad's built-in 'sin'"):
            @tg.primitive
            def sin(x):
                return x * 0.0
        assert tg.sin(tg.tensor([0.5])).numpy()[0] == pytest.approx(numpy.sin(0.5))
    finally:
        tg.REGISTRY["sin"] = builtin
