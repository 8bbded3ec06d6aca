"""Process-wide switches read on every operation: grad mode, scope, anomaly mode.

Kept in one slotted object so the hot path pays one attribute read per switch.
tapegrad is single-threaded: these switches are shared by all threads.
"""


class _State:
    __slots__ = ("grad_enabled", "scope", "tapes", "anomaly", "mutations")

    def __init__(self):
        self.grad_enabled = True
        self.scope = ()        # tuple of ScopeFrame, outermost first
        self.tapes = []        # explicit Tape contexts currently recording
        self.anomaly = False
        self.mutations = 0     # global in-place counter; stamps versions


STATE = _State()
