"""``detect_anomaly``: stop at the first operation that produces NaN or Inf."""
from .state import MODES


class detect_anomaly:
    """Inside, every recorded forward and every vjp checks its result for NaN/Inf.

    The error names the operation and the source line where it was recorded.
    Slows every operation down (a full pass over each result): use it to debug.
    """

    def __init__(self, enabled=True):
        self.enabled = enabled

    def __enter__(self):
        self._prev = MODES.anomaly
        MODES.anomaly = self.enabled
        return self

    def __exit__(self, *exc):
        MODES.anomaly = self._prev
