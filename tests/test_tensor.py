"""The Tensor: construction, dtypes and promotion, attributes, operators and indexing."""
import operator

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg

F64 = numpy.float64


def leaf(values, dtype=F64):
    return tg.tensor(numpy.asarray(values, dtype=dtype), requires_grad=True)


# --- tapegrad.tensor ---------------------------------------------------------------------
def test_tensor_takes_data_requires_grad_and_dtype_positionally_and_by_name():
    a = tg.tensor([[1, 2], [3, 4]], True, F64)
    b = tg.tensor(data=[[1, 2], [3, 4]], requires_grad=True, dtype=F64)
    for t in (a, b):
        assert t.dtype == F64 and t.shape == (2, 2) and t.requires_grad and t.is_leaf
        numpy.testing.assert_array_equal(t.numpy(), [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("data, dtype", [
    (1.5, numpy.float32),                        # Python floats: the default dtype
    ([1.0, 2.0], numpy.float32),
    (3, numpy.int64),                            # Python ints: int64
    ([True, False], numpy.bool_),
    (numpy.zeros(2, numpy.float64), numpy.float64),   # arrays keep their dtype
    (numpy.zeros(2, numpy.int32), numpy.int32),
    (numpy.float64(2.0), numpy.float64),
])
def test_default_dtypes(data, dtype):
    assert tg.tensor(data).dtype == dtype


def test_tensor_copies_its_data():
    source = numpy.array([1.0, 2.0])
    t = tg.tensor(source)
    source[0] = 99.0
    assert t.numpy()[0] == 1.0
    u = tg.tensor(t)
    assert not numpy.shares_memory(u.numpy(), t.numpy())


def test_set_default_dtype_changes_python_floats_and_refuses_integers():
    try:
        tg.set_default_dtype(F64)
        assert tg.tensor(1.0).dtype == F64 and tg.zeros(2).dtype == F64
    finally:
        tg.set_default_dtype(numpy.float32)
    assert tg.tensor(1.0).dtype == numpy.float32
    with pytest.raises(tg.OpError, match="int64"):
        tg.set_default_dtype(numpy.int64)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_float_tensors_are_differentiable_and_keep_their_dtype(dtype):
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=dtype)
    y = (x * x * 3.0).sum()
    assert y.dtype == dtype
    y.backward()
    assert x.grad.dtype == dtype
    numpy.testing.assert_allclose(x.grad.numpy(), [3.0, -6.0, 12.0])


@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1, 2], requires_grad=True),
    lambda: tg.tensor([True, False], requires_grad=True),
    lambda: tg.tensor(numpy.arange(3, dtype=numpy.int32), requires_grad=True),
    lambda: tg.tensor([1, 2]).requires_grad_(),
    lambda: tg.zeros(3, dtype=numpy.int64, requires_grad=True),
    lambda: tg.arange(4, requires_grad=True),
])
def test_integer_and_bool_tensors_refuse_requires_grad_with_a_clear_error(make):
    with pytest.raises(tg.OpError) as info:
        make()
    message = str(info.value)
    assert "floating-point" in message
    assert any(name in message for name in ("int64", "int32", "bool"))
    assert "test_tensor.py:" in message                  # the user's line
    assert "dtype=" in message                           # how to fix it


def test_integer_and_bool_tensors_exist_for_indices_and_masks():
    x = leaf([10.0, 20.0, 30.0])
    idx = tg.tensor([2, 0])
    mask = tg.tensor([True, False, True])
    numpy.testing.assert_array_equal(x[idx].numpy(), [30.0, 10.0])
    numpy.testing.assert_array_equal(x[mask].numpy(), [10.0, 30.0])
    assert not idx.requires_grad and not mask.requires_grad


# --- constructors --------------------------------------------------------------------------
@pytest.mark.parametrize("make, expected", [
    (lambda: tg.zeros(2, 3), numpy.zeros((2, 3), numpy.float32)),
    (lambda: tg.zeros((2, 3), dtype=F64), numpy.zeros((2, 3))),
    (lambda: tg.ones(4), numpy.ones(4, numpy.float32)),
    (lambda: tg.ones((1, 2), dtype=F64), numpy.ones((1, 2))),
    (lambda: tg.full((2, 2), 1.5), numpy.full((2, 2), 1.5, numpy.float32)),
    (lambda: tg.full((3,), 7), numpy.full(3, 7, numpy.int64)),
    (lambda: tg.full((2,), True), numpy.full(2, True)),
    (lambda: tg.full(numpy.int64(3), 0.5), numpy.full(3, 0.5, numpy.float32)),
    (lambda: tg.arange(5), numpy.arange(5, dtype=numpy.int64)),
    (lambda: tg.arange(1, 7, 2), numpy.arange(1, 7, 2, dtype=numpy.int64)),
    (lambda: tg.arange(0.0, 1.0, 0.25), numpy.arange(0, 1, 0.25, dtype=numpy.float32)),
    (lambda: tg.arange(3, dtype=F64), numpy.arange(3.0)),
    (lambda: tg.eye(3), numpy.eye(3, dtype=numpy.float32)),
    (lambda: tg.eye(2, 3, dtype=F64), numpy.eye(2, 3)),
    (lambda: tg.zeros_like(tg.tensor(numpy.ones((2, 1)))), numpy.zeros((2, 1))),
    (lambda: tg.ones_like(tg.tensor([1, 2])), numpy.ones(2, numpy.int64)),
    (lambda: tg.ones_like(tg.tensor([1, 2]), dtype=F64), numpy.ones(2)),
])
def test_constructors_give_numpy_values_shapes_and_dtypes(make, expected):
    t = make()
    assert t.dtype == expected.dtype and t.shape == expected.shape
    numpy.testing.assert_array_equal(t.numpy(), expected)
    assert t.is_leaf and not t.requires_grad


@pytest.mark.parametrize("make", [
    lambda: tg.zeros(2, requires_grad=True),
    lambda: tg.ones(2, dtype=F64, requires_grad=True),
    lambda: tg.full((2,), 0.5, requires_grad=True),
    lambda: tg.arange(0.0, 2.0, requires_grad=True),
    lambda: tg.eye(2, requires_grad=True),
    lambda: tg.zeros_like(tg.ones(2), requires_grad=True),
    lambda: tg.ones_like(tg.ones(2), requires_grad=True),
    lambda: tg.rand(2, requires_grad=True),
    lambda: tg.randn(2, requires_grad=True),
])
def test_constructors_make_leaves_that_can_require_grad(make):
    t = make()
    assert t.requires_grad and t.is_leaf
    (t * t).sum().backward()
    numpy.testing.assert_allclose(t.grad.numpy(), 2 * t.numpy())


@pytest.mark.parametrize("sample", [tg.rand, tg.randn])
def test_manual_seed_makes_random_tensors_reproducible(sample):
    tg.manual_seed(1234)
    first = sample(3, 4).numpy()
    second = sample(3, 4).numpy()
    tg.manual_seed(1234)
    numpy.testing.assert_array_equal(sample(3, 4).numpy(), first)
    numpy.testing.assert_array_equal(sample(3, 4).numpy(), second)
    assert not numpy.array_equal(first, second)
    tg.manual_seed(1235)
    assert not numpy.array_equal(sample(3, 4).numpy(), first)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_an_explicit_generator_is_used_and_leaves_the_global_one_alone(dtype):
    tg.manual_seed(7)
    untouched = tg.randn(5).numpy()
    tg.manual_seed(7)
    u = tg.rand(2, 3, generator=numpy.random.default_rng(42), dtype=dtype)
    n = tg.randn((2, 3), generator=numpy.random.default_rng(42), dtype=dtype)
    numpy.testing.assert_array_equal(
        u.numpy(), numpy.random.default_rng(42).random((2, 3), dtype=dtype))
    numpy.testing.assert_array_equal(
        n.numpy(), numpy.random.default_rng(42).standard_normal((2, 3), dtype=dtype))
    assert u.dtype == dtype and n.dtype == dtype
    numpy.testing.assert_array_equal(tg.randn(5).numpy(), untouched)


def test_random_values_lie_where_they_should():
    tg.manual_seed(0)
    u = tg.rand(2000).numpy()
    n = tg.randn(2000).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1.0) < 0.1


# --- dtype promotion -------------------------------------------------------------------------
DTYPES = [numpy.bool_, numpy.int32, numpy.int64, numpy.float32, numpy.float64]
ARITHMETIC = [operator.add, operator.sub, operator.mul, operator.truediv]


@st.composite
def typed_array_pairs(draw):
    """Two small arrays of any dtypes and mutually broadcastable shapes, values 1..4."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    return tuple(
        draw(hnp.arrays(numpy.int64, shape, elements=st.integers(1, 4))).astype(draw(
            st.sampled_from(DTYPES)))
        for shape in shapes.input_shapes)


def numpy_result(op, a, b):
    """``op(a, b)`` in NumPy, or the exception class it raises."""
    try:
        return op(a, b)
    except TypeError:
        return TypeError


@given(pair=typed_array_pairs(), op=st.sampled_from(ARITHMETIC))
def test_tensor_tensor_promotion_follows_numpy(pair, op):
    a, b = pair
    expected = numpy_result(op, a, b)
    if expected is TypeError:                   # e.g. bool - bool
        with pytest.raises(tg.OpError, match=op.__name__.replace("true", "")):
            op(tg.tensor(a), tg.tensor(b))
        return
    got = op(tg.tensor(a), tg.tensor(b))
    assert got.dtype == expected.dtype
    numpy.testing.assert_array_equal(got.numpy(), expected)


@given(array=hnp.arrays(numpy.int64, hnp.array_shapes(max_dims=2, max_side=3),
                        elements=st.integers(1, 4)),
       dtype=st.sampled_from(DTYPES),
       scalar=st.one_of(st.integers(1, 5), st.floats(0.25, 4.0), st.booleans()),
       op=st.sampled_from(ARITHMETIC),
       reflected=st.booleans())
def test_python_scalars_follow_numpy_and_never_upcast(array, dtype, scalar, op, reflected):
    a = array.astype(dtype)
    if isinstance(scalar, bool) and op is operator.truediv and not reflected:
        scalar = True                           # no division by False
    args = (scalar, a) if reflected else (a, scalar)
    expected = numpy_result(op, *args)
    t = tg.tensor(a)
    targs = (scalar, t) if reflected else (t, scalar)
    if expected is TypeError:
        with pytest.raises(tg.OpError):
            op(*targs)
        return
    got = op(*targs)
    assert got.dtype == expected.dtype
    numpy.testing.assert_array_equal(got.numpy(), expected)
    if dtype is numpy.float32:
        assert got.dtype == numpy.float32       # the rule users rely on most


def test_promotion_examples_that_the_docs_promise():
    f32 = tg.tensor([1.0, 2.0])
    f64 = tg.tensor(numpy.array([1.0, 2.0]))
    i64 = tg.tensor([1, 2])
    assert (f32 * 2.0).dtype == numpy.float32
    assert (2 + f32).dtype == numpy.float32
    assert (0.5 * f32 ** 2 + 1.0 / f32).dtype == numpy.float32
    assert (f32 + f64).dtype == numpy.float64
    assert (f32 + i64).dtype == numpy.float64
    assert (i64 * 2).dtype == numpy.int64
    assert (i64 + 0.5).dtype == numpy.float64
    assert (i64 / i64).dtype == numpy.float64


def test_gradients_keep_each_inputs_dtype_when_dtypes_mix():
    a = tg.tensor([1.0, 2.0], requires_grad=True)               # float32
    b = tg.tensor(numpy.array([3.0, 4.0]), requires_grad=True)  # float64
    y = (a * b).sum()
    assert y.dtype == F64
    y.backward()
    assert a.grad.dtype == numpy.float32 and b.grad.dtype == F64
    numpy.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])
    numpy.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


# --- attributes and methods --------------------------------------------------------------
def test_shape_dtype_ndim_size_numel():
    t = tg.zeros(2, 3, 4, dtype=F64)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.dtype == F64
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and len(t) == 2


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_T_reverses_all_axes_and_is_differentiable(shape):
    x = leaf(numpy.arange(numpy.prod(shape), dtype=F64).reshape(shape))
    y = x.T
    assert y.shape == shape[::-1]
    numpy.testing.assert_array_equal(y.numpy(), x.numpy().T)
    weights = numpy.arange(y.numel(), dtype=F64).reshape(y.shape)
    (y * weights).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), weights.T)


@pytest.mark.parametrize("dims", [(-1, 0), (0, -1, 1), (-1, 0, 1)])
def test_permute_with_negative_dims_sends_the_gradient_back_through_the_same_permutation(dims):
    shape = (3, 3) if len(dims) == 2 else (2, 3, 4)
    x = leaf(numpy.arange(numpy.prod(shape), dtype=F64).reshape(shape))
    y = x.permute(*dims)
    numpy.testing.assert_array_equal(y.numpy(), x.numpy().transpose(dims))
    weights = numpy.arange(y.numel(), dtype=F64).reshape(y.shape)
    (y * weights).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), weights.transpose(numpy.argsort(
        [d % len(shape) for d in dims])))


def test_grad_requires_grad_and_is_leaf():
    x = leaf([1.0, 2.0])
    c = tg.tensor([3.0, 4.0])
    y = x * c
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.requires_grad and not c.requires_grad and y.requires_grad
    assert x.grad is None and y.grad_fn is not None and x.grad_fn is None
    y.sum().backward()
    assert isinstance(x.grad, tg.Tensor) and c.grad is None


def test_item_returns_a_python_number():
    assert tg.tensor(2.5).item() == 2.5 and isinstance(tg.tensor(2.5).item(), float)
    assert tg.tensor([[7]]).item() == 7 and isinstance(tg.tensor([[7]]).item(), int)
    assert float(tg.tensor([1.5])) == 1.5


def test_numpy_is_a_read_only_view_of_the_data():
    x = leaf([1.0, 2.0])
    a = x.numpy()
    assert isinstance(a, numpy.ndarray) and not a.flags.writeable
    assert numpy.shares_memory(a, x.data)
    copy = a.copy()
    copy[0] = 5.0
    assert x.numpy()[0] == 1.0


def test_detach_shares_data_and_cuts_the_tape():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 2.0
    d = h.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert numpy.shares_memory(d.numpy(), h.numpy())
    y = (x * x.detach()).sum()         # only the first factor carries gradient
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_requires_grad_underscore_returns_self_and_refuses_non_leaves():
    x = tg.tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    y = leaf([1.0]) * 2.0
    with pytest.raises(tg.OpError, match="detach"):
        y.requires_grad_(False)


def test_retain_grad_keeps_an_intermediates_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    assert h.retain_grad() is h and h.retains_grad
    (h * h).sum().backward()
    numpy.testing.assert_array_equal(h.grad.numpy(), [6.0, 12.0])
    numpy.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])


def test_repr_is_readable():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True)) == \
        "tensor([1., 2.], requires_grad=True)"
    assert repr(tg.tensor(numpy.array([0.5]))) == "tensor([0.5], dtype=float64)"
    assert repr(tg.tensor([1.0], requires_grad=True) * 2.0) == "tensor([2.], op=mul)"
    assert repr(tg.tensor([True])) == "tensor([ True])"
    big = repr(tg.zeros(1000))
    assert "..." in big and len(big) < 200


# --- operators ------------------------------------------------------------------------------
BINARY = [
    (operator.add, lambda x, y: (1.0, 1.0)),
    (operator.sub, lambda x, y: (1.0, -1.0)),
    (operator.mul, lambda x, y: (y, x)),
    (operator.truediv, lambda x, y: (1 / y, -x / y ** 2)),
    (operator.pow, lambda x, y: (y * x ** (y - 1), x ** y * numpy.log(x))),
]


@pytest.mark.parametrize("op, partials", BINARY, ids=lambda v: getattr(v, "__name__", ""))
def test_binary_operators_and_their_gradients(op, partials):
    xv, yv = numpy.array([0.5, 1.5, 2.0]), numpy.array([1.5, -0.5, 3.0])
    x, y = leaf(xv), leaf(yv)
    z = op(x, y)
    numpy.testing.assert_allclose(z.numpy(), op(xv, yv))
    z.sum().backward()
    dx, dy = partials(xv, yv)
    numpy.testing.assert_allclose(x.grad.numpy(), numpy.broadcast_to(dx, xv.shape))
    numpy.testing.assert_allclose(y.grad.numpy(), numpy.broadcast_to(dy, yv.shape))


REFLECTED = [(op, other) for op in (operator.add, operator.sub, operator.mul,
                                    operator.truediv, operator.pow, operator.matmul)
             for other in ("scalar", "array") if not (op is operator.matmul and other == "scalar")]


@pytest.mark.parametrize("op, other", REFLECTED)
def test_reflected_operators_with_numbers_and_arrays(op, other):
    xv = numpy.array([[0.5, 1.5], [2.0, 1.0]])
    cv = 2.0 if other == "scalar" else numpy.array([[1.0, 2.0], [3.0, 0.5]])
    x = leaf(xv)
    z = op(cv, x)
    assert isinstance(z, tg.Tensor) and z.requires_grad
    numpy.testing.assert_allclose(z.numpy(), op(cv, xv))
    eps = 1e-6
    z.sum().backward()
    numeric = numpy.zeros_like(xv)
    for i in numpy.ndindex(xv.shape):
        step = numpy.zeros_like(xv)
        step[i] = eps
        numeric[i] = (op(cv, xv + step).sum() - op(cv, xv - step).sum()) / (2 * eps)
    numpy.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("number", [2.0, 2])
@pytest.mark.parametrize("op, partial", [
    (operator.add, lambda c, x: numpy.ones_like(x)),
    (operator.sub, lambda c, x: -numpy.ones_like(x)),
    (operator.mul, lambda c, x: numpy.full_like(x, c)),
    (operator.truediv, lambda c, x: -c / x ** 2),
    (operator.pow, lambda c, x: c ** x * numpy.log(c)),
], ids=["add", "sub", "mul", "truediv", "pow"])
def test_a_python_number_on_the_left_keeps_a_float32_gradient_float32(op, partial, number):
    xv = numpy.array([0.5, 1.5, 2.0])
    x = leaf(xv, numpy.float32)
    op(number, x).sum().backward()
    assert x.grad.dtype == numpy.float32
    numpy.testing.assert_allclose(x.grad.numpy(), partial(float(number), xv), rtol=1e-6)


def test_matmul_operator_and_unary_minus():
    a = leaf([[1.0, 2.0], [3.0, 4.0]])
    v = leaf([1.0, -1.0])
    y = -(a @ v)
    numpy.testing.assert_array_equal(y.numpy(), [1.0, 1.0])
    y.sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), [[-1.0, 1.0], [-1.0, 1.0]])
    numpy.testing.assert_array_equal(v.grad.numpy(), [-4.0, -6.0])


@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge,
                                operator.eq, operator.ne])
def test_comparisons_give_bool_tensors_without_gradient(op):
    x = leaf([1.0, 2.0, 3.0])
    y = leaf([3.0, 2.0, 1.0])
    with tg.Tape() as tape:
        for result in (op(x, y), op(x, 2.0), op(2.0, x)):
            assert result.dtype == numpy.bool_
            assert not result.requires_grad and result.is_leaf
    assert len(tape) == 0
    numpy.testing.assert_array_equal(op(x, y).numpy(), op(x.numpy(), y.numpy()))


def test_a_mask_from_a_comparison_gates_the_gradient():
    x = leaf([-1.0, 2.0, -3.0, 4.0])
    y = tg.where(x > 0, x * x, x * 0.0).sum()
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [0.0, 4.0, 0.0, 8.0])


# --- indexing ---------------------------------------------------------------------------------
INDICES = [
    1,
    -1,
    slice(1, None),
    (slice(None), 2),
    (Ellipsis, slice(None, None, -1)),
    (None, 0),
    (slice(0, 3, 2), slice(1, 3)),
    numpy.array([2, 0]),
    (numpy.array([0, 2]), numpy.array([1, 3])),
    (slice(None), numpy.array([3, 0, 3])),
    numpy.array([[True, False, True, False],
                 [False, False, True, True],
                 [True, True, False, False]]),
    numpy.array([True, False, True]),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_indexing_basic_and_advanced_forward_and_gradient(index):
    xv = numpy.arange(12.0).reshape(3, 4)
    x = leaf(xv)
    y = x[index]
    numpy.testing.assert_array_equal(y.numpy(), xv[index])
    weights = numpy.arange(1.0, y.numel() + 1).reshape(y.shape)
    (y * weights).sum().backward()
    expected = numpy.zeros_like(xv)
    numpy.add.at(expected, index, weights)
    numpy.testing.assert_array_equal(x.grad.numpy(), expected)


def test_repeated_indices_accumulate_their_gradients():
    x = leaf([10.0, 20.0, 30.0])
    y = x[[0, 2, 0, 0, 1, 2]]
    (y * tg.tensor(numpy.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [1.0 + 3.0 + 4.0, 5.0, 2.0 + 6.0])


def test_an_index_tensor_works_like_its_array():
    x = leaf(numpy.arange(6.0))
    idx = tg.tensor([5, 5, 1])
    x[idx].sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 0.0, 0.0, 2.0])


def test_iterating_a_tensor_gives_differentiable_rows():
    x = leaf(numpy.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == 3 and rows[1].shape == (2,)
    (rows[0] * 2.0 + rows[2]).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


# --- PyTorch habits: clone, t, contiguous, cpu, to --------------------------------------------
def test_clone_is_a_copy_the_gradient_flows_through():
    x = leaf([1.0, -2.0, 3.0])
    y = x.clone()
    assert y is not x and not y.is_leaf and y.dtype == x.dtype
    numpy.testing.assert_array_equal(y.numpy(), x.numpy())
    assert not numpy.shares_memory(y.numpy(), x.numpy())
    (y * y).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_t_transposes_a_matrix_and_keeps_lower_ranks(shape):
    x = leaf(numpy.arange(numpy.prod(shape), dtype=F64).reshape(shape))
    y = x.t()
    numpy.testing.assert_array_equal(y.numpy(), x.numpy().T)
    (y * tg.tensor(numpy.arange(y.numpy().size, dtype=F64).reshape(y.shape))).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(),
                                     numpy.arange(x.numpy().size, dtype=F64).reshape(
                                         y.shape).T)


def test_t_of_three_dimensions_raises_and_names_the_fix():
    with pytest.raises(tg.OpError, match=r"t: .*\(2, 3, 4\).*transpose"):
        tg.zeros(2, 3, 4).t()


def test_cpu_and_contiguous_and_to_cpu_are_the_tensor_itself():
    x = leaf([1.0, 2.0])
    for y in (x.cpu(), x.contiguous(), x.to("cpu"), x.to(device="cpu"), x.to("cpu:0"),
              x.to(F64), x.to("cpu", F64), x.to(x)):
        assert y is x


def test_to_a_dtype_casts_and_the_gradient_comes_back_in_the_input_dtype():
    x = leaf([1.5, 2.5])
    for y in (x.to(numpy.float32), x.to("cpu", numpy.float32), x.to(dtype=numpy.float32),
              x.to(tg.zeros(1))):
        assert y.dtype == numpy.float32
        y.sum().backward()
    assert x.grad.dtype == F64
    numpy.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_to_another_device_raises_and_says_tapegrad_runs_on_the_cpu(device):
    with pytest.raises(tg.OpError, match=f"no device '{device}'.*cpu"):
        tg.zeros(2).to(device)
