"""``Generator``: PyTorch's seedable random-number generator, as a NumPy ``Generator``.

It is a ``numpy.random.Generator`` (PCG64), so it goes wherever tapegrad
takes ``generator=`` and NumPy's methods work on it, plus PyTorch's
``manual_seed``, ``seed`` and ``initial_seed``.  ``manual_seed(s)`` restarts
the stream in place: the same seed gives the same numbers as
``numpy.random.default_rng(s)``.
"""
import numpy


class Generator(numpy.random.Generator):
    """A seedable stream of random numbers (``tapegrad.Generator().manual_seed(0)``)."""

    def __init__(self, seed=None):
        seed = numpy.random.SeedSequence().entropy if seed is None else int(seed)
        super().__init__(numpy.random.PCG64(seed))
        self._initial_seed = seed

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns the generator (as PyTorch's does)."""
        self.bit_generator.state = numpy.random.PCG64(int(seed)).state
        self._initial_seed = int(seed)
        return self

    def seed(self):
        """Reseed from fresh entropy; returns the new seed."""
        seed = numpy.random.SeedSequence().entropy
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        """The seed the stream was last started from."""
        return self._initial_seed

    def get_state(self):
        """The generator's state (a dict); ``set_state`` restores it."""
        return self.bit_generator.state

    def set_state(self, state):
        """Restore a state from ``get_state``; returns the generator."""
        self.bit_generator.state = state
        return self
