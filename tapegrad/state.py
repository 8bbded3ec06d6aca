"""The switches read on every operation, and the process-wide in-place counter.

``MODES`` holds grad mode, the scope path, the open ``Tape()`` blocks and
anomaly mode: what a ``with`` block switches for the code it runs.  They are
kept in one slotted object so the hot path pays one attribute read per switch,
and apart from the counter so that they can become per-thread state (a
``threading.local`` subclass of ``_Modes``) without touching their readers.
Today tapegrad is single-threaded: every thread sees the same switches.

``COUNTERS.mutations`` counts in-place changes across the process: a tensor's
version and a record's stamp are readings of it, comparable across threads.
"""


class _Modes:
    __slots__ = ("grad_enabled", "scope", "tapes", "anomaly")

    def __init__(self):
        self.grad_enabled = True
        self.scope = ()        # tuple of ScopeFrame, outermost first
        self.tapes = []        # explicit Tape contexts currently recording
        self.anomaly = False


class _Counters:
    __slots__ = ("mutations",)

    def __init__(self):
        self.mutations = 0     # global in-place counter; stamps versions


MODES = _Modes()
COUNTERS = _Counters()
