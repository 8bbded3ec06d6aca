"""``index_add`` with integer-array indices (the gradient of an embedding lookup or of a
cross-entropy's picked logits) adds repeated positions up, as ``numpy.add.at`` does."""
import numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg

SHAPE = (5, 4, 3)


@st.composite
def integer_arrays(draw):
    """A tuple of 1 to 3 mutually broadcastable integer arrays (negatives and repeats too)."""
    k = draw(st.integers(1, 3))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=k, max_dims=2, min_side=1,
                                                     max_side=4)).input_shapes
    return tuple(draw(hnp.arrays(numpy.int64, sh, elements=st.integers(-n, n - 1)))
                 for sh, n in zip(shapes, SHAPE))


@given(integer_arrays(), st.sampled_from([numpy.float32, numpy.float64]))
def test_integer_array_picks_add_up_like_numpy_add_at(index, dtype):
    picked_shape = numpy.zeros(SHAPE)[index].shape
    g = numpy.random.default_rng(0).standard_normal(picked_shape).astype(dtype)
    expected = numpy.zeros(SHAPE, dtype)
    numpy.add.at(expected, index, g)
    got = tg.index_add(g, index=index if len(index) > 1 else index[0], shape=SHAPE)
    assert got.dtype == dtype
    numpy.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == numpy.float32 else 1e-13)


def test_an_embedding_gradient_sums_the_rows_of_repeated_ids():
    W = tg.tensor(numpy.zeros((4, 2)), requires_grad=True)
    ids = numpy.array([[1, 3, 1], [1, 0, -1]])
    (W[ids] * tg.tensor(numpy.arange(12.0).reshape(2, 3, 2))).sum().backward()
    numpy.testing.assert_array_equal(W.grad.numpy(), [[8, 9], [0 + 4 + 6, 1 + 5 + 7],
                                                       [0, 0], [2 + 10, 3 + 11]])
