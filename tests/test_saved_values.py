"""The tape keeps only the values a vjp reads (``@primitive(saves=...)``).

A primitive that declares it does not read an input (or its output) lets the
tape drop that array after the forward, replaced by a shape-only stand-in.
These tests pin that down from both sides: declared-lean primitives still get
exact gradients with everything dropped, arrays are really freed, and nothing
is dropped where it is read or inside ``with Tape()``.
"""
import gc
import importlib
import weakref

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import testing as s

primitive_module = importlib.import_module("tapegrad.primitive")

LEAN = sorted(name for name, prim in tapegrad.REGISTRY.items()
              if not {"inputs", "out"} <= set(prim.saves) and prim.sampler is not None)
#: Cases per lean primitive (half the CI profile's 40): whether a vjp reads a dropped value
#: depends on the code path its shapes and parameters take, not on the values, which the
#: registry's tests check with the full count from the same samplers.
LEAN_EXAMPLES = 20


@pytest.fixture
def drop_everything(monkeypatch):
    """Drop unsaved values of any size (normally only large arrays are dropped)."""
    monkeypatch.setattr(primitive_module, "DROP_MIN_SIZE", 0)


def test_the_lean_primitives_include_the_recurrent_hot_path():
    assert {"add", "sub", "tanh", "sigmoid", "split_sizes", "unbind", "stack",
            "addmm"} <= set(LEAN)
    assert tapegrad.REGISTRY["mul"].saves == ("inputs",)
    assert tapegrad.REGISTRY["tanh"].saves == ("out",)
    assert tapegrad.REGISTRY["addmm"].saves == (1, 2)     # not the added term


def test_input_positions_in_saves_keep_only_those_inputs(drop_everything):
    term = tapegrad.tensor(numpy.ones((3, 2)), requires_grad=True) * 2.0
    a = tapegrad.tensor(numpy.ones((3, 4)), requires_grad=True) * 2.0
    b = tapegrad.tensor(numpy.ones((4, 2)), requires_grad=True) * 2.0
    rec = tapegrad.addmm(term, a, b).grad_fn
    assert rec.inputs[0] is not term and rec.datas[0].strides == (0, 0)   # a stand-in
    assert rec.inputs[1] is a and rec.inputs[2] is b


@pytest.mark.parametrize("name", LEAN)
def test_a_lean_primitive_differentiates_with_its_unsaved_values_dropped(name, drop_everything):
    """Inputs are intermediates (so they can be dropped); gradients and second derivatives
    must still match finite differences, so the vjp really reads nothing it did not save.
    (Second derivatives along random directions, as in the registry's tests: a vjp that
    reads a dropped value fails either way.)"""
    prim = tapegrad.REGISTRY[name]

    @st.composite
    def cases(draw):
        return prim.sampler(draw, s, numpy.dtype(numpy.float64))

    @settings(max_examples=LEAN_EXAMPLES)
    @given(cases())
    def check(case):
        args, params = case
        positions = [i for i, a in enumerate(args)
                     if isinstance(a, numpy.ndarray) and a.dtype.kind == "f"]
        leaves = [tapegrad.tensor(args[i], requires_grad=True) for i in positions]

        def func(*tensors):
            full = list(args)
            for i, t in zip(positions, tensors):
                full[i] = t * 1.0          # an intermediate, which the op may drop
            out = prim.call(*full, **params)
            return list(out) if prim.multi else out

        tapegrad.gradcheck(func, tuple(leaves))
        if prim.twice:
            tapegrad.gradgradcheck(func, tuple(leaves), fast_mode=True)
    check()


def _intermediate(n=4096):
    x = tapegrad.tensor(numpy.random.default_rng(0).standard_normal(n), requires_grad=True)
    return x, x * 2.0


def _freed_after(op):
    """Whether the intermediate's array is freed once only ``op``'s record refers to it."""
    x, a = _intermediate()
    ref = weakref.ref(a._data)
    y = op(a)
    del a
    gc.collect()
    freed = ref() is None
    y.sum().backward()
    return freed, x.grad.numpy()


def test_add_does_not_keep_its_large_intermediate_input_alive():
    freed, grad = _freed_after(lambda a: a + 1.0)
    assert freed
    numpy.testing.assert_array_equal(grad, numpy.full(4096, 2.0))


def test_mul_keeps_the_input_its_vjp_reads():
    x, a = _intermediate()
    ref = weakref.ref(a._data)
    y = a * x
    del a
    gc.collect()
    assert ref() is not None
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 4.0 * x.numpy())


def test_tanh_keeps_its_output_but_not_its_input():
    x, a = _intermediate()
    in_ref = weakref.ref(a._data)
    y = tapegrad.tanh(a)
    out_ref = weakref.ref(y._record.out)
    del a
    gc.collect()
    assert in_ref() is None and out_ref() is not None
    y.sum().backward()
    t = numpy.tanh(2.0 * x.numpy())
    numpy.testing.assert_allclose(x.grad.numpy(), 2.0 * (1.0 - t * t))


def test_small_arrays_are_kept(monkeypatch):
    x, a = _intermediate(n=8)
    ref = weakref.ref(a._data)
    y = a + 1.0
    del a
    gc.collect()
    assert ref() is not None
    y.sum().backward()


def test_nothing_is_dropped_inside_an_explicit_tape():
    x, a = _intermediate()
    with tapegrad.Tape() as tape:
        y = a + 1.0
    rec = tape.records[0]
    assert rec.inputs[0] is a
    numpy.testing.assert_array_equal(rec.datas[0], a.numpy())
    y.sum().backward()


def test_a_dropped_input_keeps_its_shape_and_dtype_for_printing_and_drawing():
    x, a = _intermediate()
    y = a + 1.0
    stand_in = y._record.inputs[0]
    assert stand_in is not a
    assert stand_in.shape == a.shape and stand_in.dtype == a.dtype
    assert stand_in._record is a._record and stand_in.requires_grad
    assert stand_in._data.strides == (0,)        # no memory behind it


@pytest.mark.parametrize("saves", [("input",), (-1,), (1.0,)])
def test_saves_names_only_inputs_positions_and_out(saves):
    with pytest.raises(tapegrad.OpError, match="saves= names what the vjp reads"):
        tapegrad.primitive(lambda x: x, name="bogus_saves", saves=saves)
