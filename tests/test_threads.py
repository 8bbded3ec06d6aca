"""Threads: grad mode, scopes, anomaly mode and explicit tapes are per thread, as in PyTorch;
recording from many threads, concurrent backward passes and accumulation into shared leaves
lose nothing.  Interleavings are forced with events and a tiny switch interval."""
import sys
import threading
import time

import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.tape import GLOBAL_TAPE

TIMEOUT = 10


def _run(*targets):
    """Run each target in its own thread; re-raise the first failure."""
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:       # noqa: BLE001 -- reported below
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def _waits(event):
    assert event.wait(TIMEOUT), "the other thread never got there"


def _inside(context, entered, release):
    """A target that enters ``context``, signals ``entered`` and waits for ``release``."""
    def run():
        with context:
            entered.set()
            _waits(release)
    return run


def _record_and_check(ready, done):
    """A target that, once ``ready``, records w*x + w*3 and checks w.grad = x + 3."""
    def run():
        _waits(ready)
        w = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
        try:
            y = (w * tg.tensor([2.0, 4.0], dtype=tg.float64) + w * 3.0).sum()
        finally:
            done.set()
        y.backward()
        numpy.testing.assert_array_equal(w.grad.data, [5.0, 7.0])
    return run


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    entered, done = threading.Event(), threading.Event()
    _run(_inside(tg.no_grad(), entered, done), _record_and_check(entered, done))
    assert tg.is_grad_enabled()


def test_a_backward_in_one_thread_leaves_recording_on_in_another():
    inside_vjp, done = threading.Event(), threading.Event()

    @tg.primitive
    def slow_identity(x):
        return x

    @slow_identity.defvjp
    def _(g, out, x):
        inside_vjp.set()                # the backward sweep is running here
        _waits(done)
        return g

    def backward():
        x = tg.tensor([1.0], requires_grad=True)
        slow_identity(x).sum().backward()

    _run(backward, _record_and_check(inside_vjp, done))


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with tg.no_grad():
            a_in.set()
            _waits(b_in)
        seen.append(tg.is_grad_enabled())
        a_out.set()

    def second():
        _waits(a_in)
        with tg.no_grad():
            b_in.set()
            _waits(a_out)
        seen.append(tg.is_grad_enabled())

    _run(first, second)
    assert seen == [True, True] and tg.is_grad_enabled()


def test_a_new_thread_starts_with_grad_mode_on_whatever_its_parent_does():
    seen = []
    with tg.no_grad():
        _run(lambda: seen.append(tg.is_grad_enabled()))
    assert seen == [True]


def test_scopes_do_not_leak_between_threads():
    entered, done = threading.Event(), threading.Event()
    paths = []

    def record():
        _waits(entered)
        x = tg.tensor([1.0], requires_grad=True)
        try:
            paths.append((x * 2.0).grad_fn.scope_path)
        finally:
            done.set()

    _run(_inside(tg.scope("other_thread", step=3), entered, done), record)
    assert paths == [""]


def test_anomaly_mode_is_per_thread():
    entered, done = threading.Event(), threading.Event()

    def nan_allowed_here():
        _waits(entered)
        x = tg.tensor([-1.0], requires_grad=True)
        try:
            with numpy.errstate(invalid="ignore"):
                assert numpy.isnan(tg.log(x).item())
        finally:
            done.set()

    _run(_inside(tg.detect_anomaly(), entered, done), nan_allowed_here)


def test_an_explicit_tape_records_only_its_own_thread():
    entered, done = threading.Event(), threading.Event()
    tape = tg.Tape()
    x = tg.tensor([1.0], requires_grad=True)

    def own():
        with tape:
            x * 2.0
            entered.set()
            _waits(done)

    def other():
        _waits(entered)
        try:
            x + 1.0
        finally:
            done.set()

    _run(own, other)
    assert [r.op.name for r in tape] == ["mul"]


# ------------------------------------------------------------ the stress test
def _train_steps(model, head, data, steps):
    """Gradients of every parameter after each of ``steps`` SGD steps (copies)."""
    opt = nn.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=0.1)
    seen = []
    for t in range(steps):
        opt.zero_grad()
        out, _ = model(data[t])
        loss = (head(out[-1]) ** 2).mean()
        loss.backward()
        seen.append([p.grad.numpy().copy() for p in opt.param_groups[0]["params"]])
        opt.step()
    return seen


def _models(n):
    tg.manual_seed(0)
    return [(nn.RNN(3, 6, dtype=tg.float64), nn.Linear(6, 1, dtype=tg.float64))
            for _ in range(n)]


class _SwitchingList(list):
    """The tape's list of records, handing the processor to another thread at each append.

    A record's position is taken just before it is appended: another thread's
    append or compaction in between is what would lose records.
    """

    def append(self, item):
        time.sleep(0)
        super().append(item)


@pytest.fixture
def switch_often(monkeypatch):
    """Threads switch every microsecond and at each append; the tape compacts every few records."""
    compact = GLOBAL_TAPE.compact

    def compact_soon_again():
        compact()
        GLOBAL_TAPE.refs = _SwitchingList(GLOBAL_TAPE.refs)
        GLOBAL_TAPE.limit = len(GLOBAL_TAPE.refs) + 4

    monkeypatch.setattr(GLOBAL_TAPE, "compact", compact_soon_again)
    monkeypatch.setattr(GLOBAL_TAPE, "limit", len(GLOBAL_TAPE.refs) + 4)
    GLOBAL_TAPE.refs = _SwitchingList(GLOBAL_TAPE.refs)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)
    GLOBAL_TAPE.refs = list(GLOBAL_TAPE.refs)      # the same records, in the same positions


def test_threads_training_their_own_models_get_single_threaded_gradients(switch_often):
    n, steps = 6, 6
    rng = numpy.random.default_rng(1)
    data = [tg.tensor(rng.standard_normal((steps, 4, 2, 3))) for _ in range(n)]
    expected = [_train_steps(model, head, d, steps) for (model, head), d in zip(_models(n), data)]
    got = [None] * n
    start = threading.Barrier(n)

    def worker(i, model, head):
        def run():
            start.wait(TIMEOUT)
            got[i] = _train_steps(model, head, data[i], steps)
        return run

    _run(*(worker(i, m, h) for i, (m, h) in enumerate(_models(n))))
    for i in range(n):
        for t in range(steps):
            for a, b in zip(got[i][t], expected[i][t]):
                numpy.testing.assert_array_equal(a, b)


class _SwitchingLeaf(tg.Tensor):
    """A leaf that hands the processor to another thread each time its ``.grad`` is read.

    Accumulating reads ``.grad`` and then writes the sum: a switch in between is
    where a concurrent backward into the same leaf would lose its update.
    """

    @property
    def grad(self):
        value = tg.Tensor.grad.fget(self)
        time.sleep(1e-4)
        return value

    @grad.setter
    def grad(self, value):
        tg.Tensor.grad.fset(self, value)


def test_concurrent_backward_passes_into_shared_leaves_lose_no_update(switch_often):
    n, rounds = 6, 20
    shared = _SwitchingLeaf(numpy.linspace(-1, 1, 4), requires_grad=True)
    own = [tg.tensor(numpy.full(4, 0.1 * (i + 1)), requires_grad=True) for i in range(n)]

    def loss(i, r):
        return (tg.tanh(shared * own[i] + float(r)) * shared).sum()

    expected_own = []
    for i in range(n):
        for r in range(rounds):
            loss(i, r).backward()
        expected_own.append(own[i].grad.numpy().copy())
        own[i].grad = None
    expected_shared = shared.grad.numpy().copy()
    shared.grad = None
    start = threading.Barrier(n)

    def worker(i):
        def run():
            start.wait(TIMEOUT)
            for r in range(rounds):
                loss(i, r).backward()
        return run

    _run(*(worker(i) for i in range(n)))
    for i in range(n):
        numpy.testing.assert_array_equal(own[i].grad.data, expected_own[i])
    # the same terms summed in another order: equal to float64 rounding
    numpy.testing.assert_allclose(shared.grad.data, expected_shared, rtol=1e-12)
