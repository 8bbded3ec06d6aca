"""The switches read on every operation (per thread), and the process-wide in-place counter.

``MODES`` holds grad mode, the scope path, the open ``Tape()`` blocks and
anomaly mode: what a ``with`` block switches for the code it runs.  As in
PyTorch they belong to the thread that sets them: ``MODES`` is a
``threading.local``, so a ``no_grad()`` block or a backward pass in one thread
never stops another thread from recording, and every new thread starts with
grad mode on, no scope, no explicit tape and anomaly mode off.

``COUNTERS.mutations`` counts in-place changes across the process: a tensor's
version and a record's stamp are readings of it, comparable across threads.
"""
import threading


class _Modes(threading.local):
    """One thread's switches (initialised afresh in each thread that reads them)."""

    def __init__(self):
        self.grad_enabled = True
        self.scope = ()        # tuple of ScopeFrame, outermost first
        self.tapes = []        # explicit Tape contexts currently recording
        self.anomaly = False


class _Counters:
    __slots__ = ("mutations", "_lock")

    def __init__(self):
        self.mutations = 0     # global in-place counter; stamps versions
        self._lock = threading.Lock()

    def next_mutation(self):
        """Count one in-place change and return its number (unique across threads)."""
        with self._lock:
            self.mutations += 1
            return self.mutations


MODES = _Modes()
COUNTERS = _Counters()
