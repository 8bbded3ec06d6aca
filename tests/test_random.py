"""Random sampling: PyTorch's names, the Generator / manual_seed story, and argument errors."""
import numpy
import pytest

import tapegrad as tg


def test_manual_seed_restarts_the_default_generator_in_place():
    g = tg.default_generator()
    assert tg.manual_seed(7) is g                   # as torch.manual_seed returns it
    first = tg.normal(0.0, 1.0, (5,)).numpy().copy()
    tg.manual_seed(7)
    numpy.testing.assert_array_equal(tg.normal(0.0, 1.0, (5,)).numpy(), first)
    numpy.testing.assert_array_equal(                # the same stream as NumPy's default_rng
        first, numpy.random.default_rng(7).standard_normal(5).astype(numpy.float32))


def test_a_generator_gives_reproducible_independent_streams():
    g = tg.Generator().manual_seed(3)
    assert isinstance(g, numpy.random.Generator) and g.initial_seed() == 3
    a = tg.randperm(10, generator=g).numpy()
    state = g.get_state()
    b = tg.uniform(-1.0, 1.0, (4,), generator=g).numpy()
    g.set_state(state)
    numpy.testing.assert_array_equal(tg.uniform(-1.0, 1.0, (4,), generator=g).numpy(), b)
    g.manual_seed(3)
    numpy.testing.assert_array_equal(tg.randperm(10, generator=g).numpy(), a)
    assert sorted(a) == list(range(10))
    tg.rand(3, generator=tg.Generator(1))           # the existing constructors take one too


def test_samples_have_the_right_shapes_dtypes_and_moments():
    g = tg.Generator(0)
    x = tg.normal(tg.tensor([0.0, 10.0], dtype=tg.float64), 2.0, generator=g)
    assert x.shape == (2,) and x.dtype == numpy.float64 and not x.requires_grad
    big = tg.normal(1.0, 2.0, (20000,), generator=g).numpy()
    assert abs(big.mean() - 1.0) < 0.05 and abs(big.std() - 2.0) < 0.05
    u = tg.uniform(2.0, 3.0, (1000,), generator=g).numpy()
    assert u.dtype == numpy.float32 and 2.0 <= u.min() and u.max() < 3.0
    b = tg.bernoulli(tg.full((4000,), 0.25, dtype=tg.float64), generator=g)
    assert b.dtype == numpy.float64 and set(numpy.unique(b.numpy())) <= {0.0, 1.0}
    assert abs(b.numpy().mean() - 0.25) < 0.03
    assert tg.rand_like(x).dtype == numpy.float64 and tg.randn_like(x).shape == (2,)


def test_multinomial_draws_categories_by_weight():
    g = tg.Generator(0)
    draws = tg.multinomial(tg.tensor([0.0, 1.0, 3.0]), 4000, replacement=True, generator=g)
    counts = numpy.bincount(draws.numpy(), minlength=3)
    assert draws.dtype == numpy.int64 and counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    rows = tg.multinomial(tg.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]]), 2, generator=g)
    assert rows.shape == (2, 2)
    assert all(len(set(r)) == 2 for r in rows.numpy().tolist())       # without replacement
    assert 0 not in rows.numpy()[1]


@pytest.mark.parametrize("call, message", [
    (lambda: tg.normal(0.0, -1.0, (2,)), "normal: std must be non-negative"),
    (lambda: tg.uniform(1.0, 0.0, (2,)), "uniform: high must be >= low"),
    (lambda: tg.bernoulli(tg.tensor([1.5])), r"bernoulli: p must hold .* probabilities"),
    (lambda: tg.multinomial(tg.tensor([1.0, -1.0]), 1), "multinomial: input must be"),
    (lambda: tg.multinomial(tg.tensor([1.0, 0.0]), 2), r"without replacement.*replacement=True"),
])
def test_bad_arguments_name_the_function(call, message):
    with pytest.raises(tg.OpError, match=message):
        call()
