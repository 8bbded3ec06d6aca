"""Gradients for the drawing, computed without touching anyone's ``.grad``.

One ``tapegrad.grad`` call (``retain_graph=True``) gives the cotangent of every
drawn operation's output and the total gradient of every parameter.  The
contribution of one *use* of a parameter is then the cotangent that the using
operation's vjp sends to that input -- the same term the engine's ledger logs
during ``backward`` -- recomputed here so that uses through a parameter view
(``W.T`` taken once before the time loop) are still split per time step.
"""
import numpy

from ..backward import grad
from ..grad_mode import no_grad
from ..routing import input_cotangents, output_tensors


def output_proxies(records):
    """One tensor per output of each record, standing for that output in ``grad``."""
    proxies = []
    for rec in records:
        out = output_tensors(rec)
        if rec.multi:
            proxies.extend(out)
        else:
            proxies.append(out)
    return proxies


def cotangents(root, records, params):
    """(record -> cotangent of its output(s), param -> total gradient).

    A multi-output record gets a tuple with None for outputs that got no
    gradient; a record or parameter the root does not reach gets None.
    """
    proxies = output_proxies(records)
    grads = grad(root, proxies + list(params), retain_graph=True, allow_unused=True)
    arrays = iter(None if g is None else g.data for g in grads[:len(proxies)])
    by_record = {}
    for rec in records:
        if rec.multi:
            by_record[rec] = tuple(next(arrays) for _ in rec.out)
        else:
            by_record[rec] = next(arrays)
    totals = {p: None if g is None else g.data for p, g in zip(params, grads[len(proxies):])}
    return by_record, totals


def input_cotangent(rec, g, i):
    """The cotangent ``rec``'s vjp sends to its input ``i``, given its output cotangent ``g``.

    Broadcast reduction and dtype as the engine's sweep applies them.  Zeros
    when no gradient reached ``rec``.
    """
    data = rec.datas[i]
    if g is None or (rec.multi and all(x is None for x in g)):
        return numpy.zeros(numpy.shape(data), dtype=data.dtype)
    if rec.multi:
        g = tuple(numpy.zeros_like(o) if x is None else x for x, o in zip(g, rec.out))
    with no_grad():
        return numpy.asarray(input_cotangents(rec, g)[i])


def norm(a):
    """Frobenius norm as a float (NaN/Inf propagate)."""
    a = numpy.asarray(a, dtype=numpy.float64).reshape(-1)
    return float(numpy.sqrt(numpy.dot(a, a)))


def norm_of(g):
    """Norm of a cotangent, a tuple of them (None entries skipped), or None."""
    if g is None:
        return None
    if isinstance(g, tuple):
        parts = [norm(x) for x in g if x is not None]
        return float(numpy.sqrt(sum(p * p for p in parts))) if parts else None
    return norm(g)


def signed_share(c, total):
    """``<c, G> / <G, G>``: the signed fraction of ``G`` that the term ``c`` makes up.

    Shares of terms that sum to ``G`` sum to 1; a term can exceed 1 or be
    negative when terms cancel.  NaN when ``G`` is zero.
    """
    c = numpy.asarray(c, dtype=numpy.float64).reshape(-1)
    t = numpy.asarray(total, dtype=numpy.float64).reshape(-1)
    gg = numpy.dot(t, t)
    if gg == 0 or not numpy.isfinite(gg):
        return float("nan")
    return float(numpy.dot(c, t) / gg)
