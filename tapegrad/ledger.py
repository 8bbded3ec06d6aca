"""Per-use gradient contributions of leaves: where each part of ``W.grad`` came from.

Each time a consuming operation adds into a leaf's gradient during backward,
the ledger notes the operation (tape index, name, scope path, time step, source
line) and the contribution's norm (a tiny contribution's norm is worked out when
read) -- and the array itself when asked.  The
entries of a leaf sum to its ``.grad``: this is what the graph renderer's
gradient rail draws for a weight shared across time steps.

Entries accumulate across backward passes as ``.grad`` does, up to
``MAX_ENTRIES`` per leaf; past that, the entries of the earlier passes are
folded into one entry holding what they summed to (the ``.grad`` before the
current pass), so many accumulating passes cost the same per pass.
"""
import math
import weakref

from .backend import ndarray, xp
from .errors import format_site
from .tape import innermost_step, scope_path


class Contribution:
    """One term of a leaf's gradient sum (formatting is done lazily, when read)."""

    __slots__ = ("index", "op", "_scope", "_code", "_lasti", "norm", "value")

    def __init__(self, index, op, scope, code, lasti, norm, value):
        self.index = index              # tape index of the consuming operation
        self.op = op.name               # its primitive's name
        self._scope = scope
        self._code = code
        self._lasti = lasti
        if type(norm) is ndarray:       # a small contribution, kept to be normed when read
            norm = _norm(norm)
        self.norm = norm                # Frobenius norm of the contribution
        self.value = value              # the contribution array, when kept (else None)

    @property
    def scope(self):
        """Scope path of the consuming operation, e.g. ``"rnn/l0[t=3]"``."""
        return scope_path(self._scope)

    @property
    def step(self):
        """Innermost time step of the scope path, or None."""
        return innermost_step(self._scope)

    @property
    def site(self):
        """``file.py:12`` where the consuming operation was called."""
        return format_site(self._code, self._lasti)

    def __repr__(self):
        step = "" if self.step is None else f" t={self.step}"
        return f"<Contribution {self.op}#{self.index}{step} norm={self.norm:.4g}>"


_LEDGERS = {}   # id(leaf) -> (weak reference to the leaf, entries in tape order)
# An entry is the tuple of Contribution's constructor arguments: the sweep only
# appends tuples (cheap); Contribution objects are made when someone reads them.

#: Most entries kept per leaf before the earlier passes' entries are folded into one.
MAX_ENTRIES = 4096

#: A contribution of at most this many elements is kept (at most ``MAX_ENTRIES`` of them per
#: leaf: about 2 MiB) and normed only when read: for tiny arrays the norm would cost more
#: than the operation that made them.  Larger ones are normed during backward.
NORM_WHEN_READ = 32


def _norm(a):
    return math.sqrt(xp.vdot(a, a))


class _Earlier:
    """Stands in for the operation of a folded entry: the earlier backward passes."""

    name = "earlier backward passes"


_EARLIER = _Earlier()


def _entries(leaf):
    item = _LEDGERS.get(id(leaf))
    return item[1] if item is not None and item[0]() is leaf else None


def contributions(leaf):
    """The contributions to ``leaf.grad``, in tape order (empty before any backward).

    Entries accumulate across backward calls exactly as ``.grad`` does and
    start afresh when a backward finds ``leaf.grad`` is None.
    """
    entries = _entries(leaf)
    return [Contribution(*e) for e in entries] if entries else []


class ContributionLog:
    """Collects contributions during one backward; ``publish`` attaches them to leaves."""

    __slots__ = ("keep", "entries")

    def __init__(self, keep):
        self.keep = keep
        self.entries = {}

    def add(self, leaf, rec, c):
        if c.size > NORM_WHEN_READ:
            norm = _norm(c)
        else:                                   # a view would keep its (maybe large) base
            norm = c if c.base is None else c.copy()
        value = None
        if self.keep:
            value = xp.array(c, copy=True)
            value.flags.writeable = False
        entries = self.entries.get(leaf)
        if entries is None:
            entries = self.entries[leaf] = []
        entries.append((rec.index, rec.op, rec.scope, rec.code, rec.lasti, norm, value))

    def publish(self, leaf, fresh):
        """Attach this sweep's entries for ``leaf`` (before its .grad is updated).

        ``fresh`` if its .grad was None: the ledger starts afresh.  Otherwise the
        entries are appended in place (no copy of the earlier ones), and once
        there are more than ``MAX_ENTRIES`` the earlier ones become one entry.
        """
        entries = self.entries.get(leaf)
        if entries is None:
            return
        entries.reverse()                       # the sweep added them in reverse tape order
        prev = None if fresh else _entries(leaf)
        if prev is None:
            key = id(leaf)
            ref = weakref.ref(leaf, lambda _, key=key: _LEDGERS.pop(key, None))
            _LEDGERS[key] = (ref, entries)
        elif len(prev) + len(entries) <= MAX_ENTRIES:
            prev.extend(entries)
        else:
            earlier = leaf.grad._data
            prev[:] = [(-1, _EARLIER, (), None, 0, _norm(earlier),
                        earlier if self.keep else None)]
            prev.extend(entries)
