"""Memory: unused graphs are freed by reference counting alone; ``.grad`` never holds a graph.

Nothing here is timing-based: the checks count live records through weak
references with the cyclic garbage collector switched off, and bound the
memory that ``tracemalloc`` sees grow.
"""
import contextlib
import gc
import tracemalloc
import weakref

import numpy
import pytest

import tapegrad as tg

F64 = numpy.float64


@contextlib.contextmanager
def no_cycle_collector():
    """Run the block with the cyclic GC off, so only reference counting frees objects."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def leaf(shape, seed=0):
    return tg.tensor(numpy.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# --- forward-only loops --------------------------------------------------------------------
def test_a_forward_only_loop_without_no_grad_stays_flat_over_10000_iterations():
    W = leaf((16, 16))
    X = tg.tensor(numpy.random.default_rng(1).standard_normal((16, 16)))
    graph_bytes = 3 * X.numpy().nbytes              # what one kept iteration would cost, at least
    limit = 8 * 2 ** 20                             # what 250 kept iterations would cost

    def evaluate():
        return (tg.tanh(W @ X) * 0.5).sum()         # recorded: W requires grad

    records = []
    with no_cycle_collector():
        for _ in range(100):
            evaluate()                               # warm caches before measuring
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            for i in range(10_000):
                loss = evaluate()
                records.append(weakref.ref(loss.grad_fn))
                if i % 500 == 499:
                    grown = tracemalloc.get_traced_memory()[0] - baseline
                    assert grown < limit, (
                        f"memory grew by {grown / 2 ** 20:.1f} MiB after {i + 1} iterations")
        finally:
            tracemalloc.stop()
        alive = sum(r() is not None for r in records)
    assert alive == 1                                # only the last loss's record
    assert limit < 2000 * graph_bytes               # a leak of every graph would exceed it


def test_an_unrolled_recurrence_is_freed_when_its_last_state_goes_out_of_scope():
    W = leaf((4, 4))
    with no_cycle_collector():
        h = tg.ones(4, dtype=F64)
        with tg.Tape() as tape:
            for _ in range(50):
                h = tg.tanh(W @ h)
        refs = [weakref.ref(r) for r in tape]
        del tape
        assert all(r() is not None for r in refs)   # h keeps the whole chain alive
        del h
        assert all(r() is None for r in refs)


def test_dropping_one_branch_frees_only_that_branch():
    x = leaf((3,))
    with no_cycle_collector():
        kept = tg.sin(x)
        dropped = tg.cos(x) * 2.0
        kept_record, dropped_record = weakref.ref(kept.grad_fn), weakref.ref(dropped.grad_fn)
        del dropped
        assert dropped_record() is None and kept_record() is not None


# --- no reference cycles --------------------------------------------------------------------
def graph_refs(build):
    """Weak references to every record and tensor that ``build()`` makes on a Tape."""
    with tg.Tape() as tape:
        tensors = build()
    refs = [weakref.ref(r) for r in tape] + [weakref.ref(t) for t in tensors]
    return refs


@pytest.mark.parametrize("how", ["never backpropagated", "backward", "retain_graph",
                                 "tape.gradient", "create_graph"])
def test_graphs_are_freed_by_reference_counting_alone(how):
    x = leaf((3,))

    def build():
        y = tg.tanh(x @ tg.tensor(numpy.ones((3, 3)))) * x
        loss = (y * y).sum()
        if how == "backward":
            loss.backward()
        elif how == "retain_graph":
            loss.backward(retain_graph=True)
        elif how == "create_graph":
            (g,) = tg.grad(loss, x, create_graph=True)
            (g * g).sum().backward()
            return [y, loss, g]
        return [y, loss]

    with no_cycle_collector():
        if how == "tape.gradient":
            with tg.Tape() as tape:
                loss = (tg.exp(x) * x).sum()
            tape.gradient(loss, x)
            refs = [weakref.ref(r) for r in tape] + [weakref.ref(loss)]
            del tape, loss
        else:
            refs = graph_refs(build)
        alive = [r() for r in refs if r() is not None]
    assert alive == []


def test_the_gradient_machinery_leaves_nothing_for_the_cycle_collector():
    x = leaf((4,))
    gc.collect()
    with no_cycle_collector():
        for _ in range(5):
            loss = (tg.sigmoid(x) * x).sum()
            (g,) = tg.grad(loss, x, create_graph=True)
            (g ** 2).sum().backward()
            x.grad = None
        del loss, g
        assert gc.collect() == 0


# --- .grad never holds a graph ----------------------------------------------------------------
def test_grad_never_holds_a_graph_after_create_graph():
    x = leaf((3,))
    (g,) = tg.grad((x ** 3).sum(), x, create_graph=True)
    assert x.grad is None                           # grad() does not write .grad
    (g * g).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad and x.grad.is_leaf
    numpy.testing.assert_allclose(x.grad.numpy(), 36 * x.numpy() ** 3, rtol=1e-14)


def test_grad_does_not_keep_the_higher_order_graph_alive():
    x = leaf((3,))
    with no_cycle_collector():
        with tg.Tape() as tape:
            (g,) = tg.grad(tg.sin(x).sum(), x, create_graph=True)
            loss = (g * g).sum()
        loss.backward()
        refs = [weakref.ref(r) for r in tape]
        del tape, g, loss
        assert all(r() is None for r in refs)
    assert x.grad is not None


def test_retained_grad_of_an_intermediate_holds_no_graph():
    x = leaf((3,))
    with no_cycle_collector():
        h = x * 2.0
        h.retain_grad()
        (h * h).sum().backward()
        record = weakref.ref(h.grad_fn)
        grad = h.grad
        del h
        assert record() is None and grad.grad_fn is None


def test_compacting_the_tape_looks_at_each_record_once():
    """A record can die while the tape compacts (the cycle collector may run at any
    allocation): each weak reference is read once, so a record is kept or dropped whole."""
    from tapegrad.tape import _GlobalTape

    class Record:
        pos = None

    class DiesAfterOneLook:
        def __init__(self):
            self.record = Record()

        def __call__(self):
            record, self.record = self.record, None
            return record

    survivor = Record()
    tape = _GlobalTape()
    tape.refs = [weakref.ref(Record()), DiesAfterOneLook(), weakref.ref(survivor)]
    tape.compact()
    assert len(tape.refs) == 2 and tape.refs[1]() is survivor and survivor.pos == 1
