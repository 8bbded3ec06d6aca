"""Helpers for the nn tests: gradient checks of a module's parameters and inputs."""
import numpy
import pytest

import tapegrad as tg


def _check_module(module, forward, *inputs, fast_mode=False):
    """``tapegrad.gradcheck`` of ``forward(*inputs)`` w.r.t. every parameter of ``module``
    and every input that requires grad.

    gradcheck differentiates with respect to its own copies of the tensors it
    is given, so for each evaluation the module's parameters are swapped for
    those copies (by name), then put back.
    """
    named = list(module.named_parameters())
    owners = dict(module.named_modules())
    slots = []
    for name, _ in named:
        path, _, attr = name.rpartition(".")
        slots.append((owners[path], attr))

    def func(*args):
        saved = [m._parameters[a] for m, a in slots]
        for (m, a), t in zip(slots, args[:len(slots)]):
            m._parameters[a] = t
        try:
            return forward(*args[len(slots):])
        finally:
            for (m, a), p in zip(slots, saved):
                m._parameters[a] = p

    return tg.gradcheck(func, tuple(p for _, p in named) + tuple(inputs), fast_mode=fast_mode)


@pytest.fixture
def check_module():
    """The function ``check_module(module, forward, *inputs, fast_mode=False)``."""
    return _check_module


@pytest.fixture
def rng():
    return numpy.random.default_rng(1234)


@pytest.fixture
def randn(rng):
    """``randn(*shape, requires_grad=False)``: float64 standard normal tensors from ``rng``."""
    def make(*shape, requires_grad=False):
        return tg.tensor(rng.standard_normal(shape), dtype=tg.float64,
                         requires_grad=requires_grad)
    return make
