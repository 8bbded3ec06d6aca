"""Backward visits the records its root depends on, not every live record on the tape."""
import numpy

import tapegrad as tg
from tapegrad.tape import GLOBAL_TAPE


class CountingRefs(list):
    """The global tape's list of weak references, counting the positions the sweep reads."""

    reads = 0

    def __getitem__(self, i):
        CountingRefs.reads += 1
        return list.__getitem__(self, i)


def test_records_of_another_graph_in_between_are_skipped(monkeypatch):
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = tg.tanh(x * 2.0)                     # the graph's first records ...
    other = tg.tensor([0.5], requires_grad=True)
    kept = [other := other * 1.0 for _ in range(20_000)]     # ... a model kept alive ...
    loss = (a * a).sum()                     # ... and the root, 20,000 records later
    monkeypatch.setattr(GLOBAL_TAPE, "refs", CountingRefs(GLOBAL_TAPE.refs))
    CountingRefs.reads = 0
    loss.backward()
    assert CountingRefs.reads < 100, CountingRefs.reads
    expected = 4 * numpy.tanh(2 * x.numpy()) * (1 - numpy.tanh(2 * x.numpy()) ** 2)
    numpy.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)
    assert len(kept) == 20_000 and kept[-1].grad_fn is not None      # the other graph is intact
