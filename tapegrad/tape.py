"""The tape: records of operations in execution order (a Wengert list).

Every recorded operation becomes a `Record` and is appended to the
process-wide tape.  The tape holds records *weakly*: a record lives as long as
a tensor it produced (or a later record that consumed it) is alive, so a graph
that is never backpropagated is freed when its tensors go out of scope.
``backward`` walks the tape from the loss's record back to the start.

``with Tape() as tape:`` additionally keeps the records made inside the block
strongly, for inspection (``print(tape)``) and ``tape.gradient``.
"""
import threading
import weakref

from .errors import format_site, line_of
from .state import COUNTERS, MODES
from .tape_format import format_tape

_NEEDS = [[tuple(bool(m >> i & 1) for i in range(n)) for m in range(1 << n)] for n in range(5)]
_NEEDS_KW = [[{"needs": t} for t in row] for row in _NEEDS]


def needs_tuple(mask, n):
    """The tuple of booleans that bit ``mask`` encodes for ``n`` inputs."""
    if n < 5:
        return _NEEDS[n][mask]
    return tuple(bool(mask >> i & 1) for i in range(n))


def needs_kwargs(params, mask, n):
    """``params`` plus ``needs=``, for a vjp that takes it (shared dicts when params is empty)."""
    if not params and n < 5:
        return _NEEDS_KW[n][mask]
    return dict(params, needs=needs_tuple(mask, n))


class ScopeFrame(tuple):
    """One level of a scope path: a name and an optional time step."""

    __slots__ = ()

    def __new__(cls, name, step=None):
        return tuple.__new__(cls, (name, step))

    name = property(lambda self: self[0])
    step = property(lambda self: self[1])

    def __str__(self):
        return self[0] if self[1] is None else f"{self[0]}[t={self[1]}]"


class scope:
    """Stamp every record made inside with ``name`` (and time ``step``).

    Scopes nest into a path (``lstm.l0[t=3]``); the ``nn`` recurrent layers
    stamp module path and time step, and the graph renderer clusters by them.
    A small class rather than a generator-based context manager: recurrent
    layers enter one per time step, so its cost is on the hot path.
    """

    __slots__ = ("frame", "prev")

    def __init__(self, name, step=None):
        self.frame = ScopeFrame(str(name), step)

    def __enter__(self):
        self.prev = MODES.scope
        MODES.scope = self.prev + (self.frame,)
        return self

    def __exit__(self, *exc_info):
        MODES.scope = self.prev


def scope_path(frames):
    """``"lstm/l0[t=3]"`` for a tuple of scope frames."""
    return "/".join(str(f) for f in frames)


def innermost_step(frames):
    """The time step of the innermost scope frame that has one, or None."""
    for frame in reversed(frames):
        if frame.step is not None:
            return frame.step
    return None


class Record:
    """One operation on the tape: which primitive, on what, made where.

    ``index`` numbers records in execution order (``pos`` is the position in
    the global tape's list, renumbered when it compacts).  ``op`` is the
    `Primitive`, ``params`` its static parameters.
    ``inputs`` are the operands as passed (tensors and constants); ``datas``
    their arrays at record time (the saved values, a tuple); ``mask`` has bit i
    set when input i needs a gradient; ``out`` the output array (a tuple for
    multi-output primitives).  Outside ``with Tape()``, a large output or
    non-leaf input that the vjp does not read (the ``saves=`` option of
    ``@primitive``) is replaced by a zero-strided placeholder of the same
    shape and dtype.  A backward without ``retain_graph`` sets ``inputs``,
    ``datas`` and ``out`` to None (``released``).  ``stamp`` is the global
    in-place counter at record time: an input whose version is newer was
    modified after it was saved.  ``code``/``lasti`` locate the user's source
    line (the line number is worked out only when shown); ``scope`` is the
    tuple of scope frames.
    """

    __slots__ = ("index", "op", "inputs", "datas", "params", "mask", "out",
                 "stamp", "code", "lasti", "scope", "pos", "__weakref__")

    def __init__(self, op, inputs, datas, params, mask, out, code, lasti):
        """A record of ``op`` applied now: stamped with the in-place counter and the scope.

        ``index`` and ``pos`` are given by `_GlobalTape.append`.
        """
        self.op = op
        self.inputs = inputs
        self.datas = datas
        self.params = params
        self.mask = mask
        self.out = out
        self.code = code
        self.lasti = lasti
        self.stamp = COUNTERS.mutations
        self.scope = MODES.scope

    @property
    def needs(self):
        """Which inputs need a gradient (tuple of bools)."""
        return needs_tuple(self.mask, len(self.inputs))

    @property
    def released(self):
        """True once a backward without ``retain_graph`` has freed the saved values."""
        return self.inputs is None

    @property
    def site(self):
        """``file.py:12`` where the operation was called."""
        return format_site(self.code, self.lasti)

    @property
    def line(self):
        """The source line number where the operation was called (None if unknown)."""
        return line_of(self.code, self.lasti)

    @property
    def filename(self):
        """The file where the operation was called (None if unknown)."""
        return self.code.co_filename if self.code is not None else None

    @property
    def multi(self):
        """True if the primitive has several outputs (``out`` is then a tuple)."""
        return type(self.out) is tuple

    @property
    def scope_path(self):
        """The scope frames as text, e.g. ``"rnn/l0[t=3]"`` (empty outside any scope)."""
        return scope_path(self.scope)

    @property
    def step(self):
        """Innermost time step in the scope path, or None."""
        return innermost_step(self.scope)

    def __repr__(self):
        state = " released" if self.released else ""
        return f"<Record #{self.index} {self.op.name} at {self.site}{state}>"


class _GlobalTape:
    """All live records in execution order, held by weak reference.

    Dead entries are dropped in amortized O(1) by compacting when the list has
    doubled since the last compaction; each record knows its position.  The
    explicit ``Tape()`` blocks being recorded also get each appended record.
    """

    def __init__(self):
        self.refs = []
        self.counter = 0
        self.limit = 1 << 16
        # Numbering, appending and compacting happen under this lock: threads record
        # concurrently, and a record's position must be taken in the list it goes into.
        # Re-entrant: the cycle collector, run by an allocation while it is held, may call
        # a finalizer that records.  (append calls acquire/release directly: cheaper than
        # a with block per operation.)
        self.lock = threading.RLock()
        self._acquire = self.lock.acquire
        self._release = self.lock.release

    def append(self, rec):
        """Number ``rec``, hold it weakly in order, and hand it to the open ``Tape()`` blocks.

        Returns True when an explicit tape keeps the record (it then keeps all
        its saved values, for inspection).
        """
        ref = weakref.ref(rec)          # allocated before the position is taken
        self._acquire()
        try:
            refs = self.refs
            rec.index = self.counter
            self.counter += 1
            rec.pos = len(refs)
            refs.append(ref)
            if rec.pos >= self.limit:
                self.compact()
        finally:
            self._release()
        tapes = MODES.tapes
        if tapes:
            for t in tapes:
                t.records.append(rec)
            return True
        return False

    def compact(self):
        """Drop dead references and renumber the live records' positions (under ``lock``).

        Each reference is read once and the records held while renumbering:
        one may die in between (the cycle collector can run at any allocation).
        """
        live = [(r, rec) for r in self.refs if (rec := r()) is not None]
        for i, (_, rec) in enumerate(live):
            rec.pos = i
        self.refs = [r for r, _ in live]
        self.limit = max(2 * len(live), 1 << 16)


GLOBAL_TAPE = _GlobalTape()

#: id(record) -> (weak ref to the record, [(output slot, weak ref to a tensor that called
#: retain_grad)]).  A plain dict, truth-tested on every backward step; an entry leaves
#: when its record dies.
RETAINED = {}


def retain(rec, slot, tensor):
    """Note that ``tensor`` (output ``slot`` of ``rec``) wants its ``.grad`` kept."""
    key = id(rec)
    if key not in RETAINED:
        RETAINED[key] = (weakref.ref(rec, lambda _, key=key: RETAINED.pop(key, None)), [])
    RETAINED[key][1].append((slot, weakref.ref(tensor)))


def retained_for(rec):
    """The retain_grad entries of ``rec`` (empty if none)."""
    item = RETAINED.get(id(rec))
    return item[1] if item is not None and item[0]() is rec else ()


class Tape:
    """An explicit, inspectable tape: ``with Tape() as tape: ...``.

    Inside the block every recorded operation is also kept here, in order.
    ``tape.records`` is that list; ``print(tape)`` shows it as a Wengert list;
    ``tape.gradient(target, sources)`` (attached by `tapegrad.methods`)
    differentiates through the records on this tape only.
    """

    def __init__(self):
        self.records = []

    def __enter__(self):
        MODES.tapes.append(self)
        return self

    def __exit__(self, *exc):
        MODES.tapes.remove(self)

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def __str__(self):
        return format_tape(self.records)

    def __repr__(self):
        return f"<Tape with {len(self.records)} records>"
