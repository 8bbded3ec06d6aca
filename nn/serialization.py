"""``nn.save`` / ``nn.load``: checkpoints as ``.npz`` files -- nothing lost, nothing executed.

A checkpoint is any nesting of dicts, lists and tuples whose leaves are
arrays, tensors, NumPy scalars, Python numbers, strings, None and NumPy
random generators -- e.g. ``{"model": model.state_dict(), "optim":
opt.state_dict(), "epoch": 3, "rng": rng}``.  Each array becomes one entry
of an ordinary ``.npz`` (named by its path: ``model/lstm.weight_ih_l0``);
the structure is a JSON manifest stored in the entry ``__manifest__`` as
UTF-8 bytes.  No pickle is written or read (``allow_pickle=False``), so
loading a file cannot run code, and ``numpy.load`` can open it too.

Every type survives the round trip: dict key types and order (OrderedDict
stays OrderedDict), tuples vs lists, NumPy scalar dtypes, tensors (with
``requires_grad``) and a generator's exact state, so training resumed from
a checkpoint continues bit for bit.

Writes are atomic: the file is written under a temporary name in the same
directory, flushed and fsynced, then renamed over ``path`` with
``os.replace``.  A crash mid-save leaves the previous checkpoint intact, and
the next save to the same path removes the dead save's temporary file.

Loading treats the file as untrusted: declared sizes are checked against the
file's size before anything is allocated, and every malformed input raises
`CheckpointError` naming the file and the problem.
"""
import collections
import contextlib
import json
import math
import os
import re
import secrets
import zipfile
import zlib

import numpy
import numpy.lib.format

import tapegrad
from tapegrad.errors import TapegradError

from .module import Module
from .parameter import Parameter

FORMAT = "tapegrad-checkpoint"
VERSION = 1
MANIFEST = "__manifest__"


class CheckpointError(TapegradError, ValueError):
    """A checkpoint file is truncated, corrupted or not a tapegrad checkpoint."""


def save(obj, path, compress=False):
    """Write ``obj`` to ``path`` (exactly that name; ``.npz`` is not appended), atomically.

    ``compress=True`` deflates the arrays (smaller, slower).  Raises
    TypeError naming the path of the first value that cannot be stored.
    """
    arrays = {}
    root = _encode(obj, arrays, "")
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    arrays[MANIFEST] = numpy.frombuffer(manifest.encode("utf-8"), dtype=numpy.uint8)
    _atomic_write(os.fspath(path), arrays, compress)


def load(path):
    """Read a checkpoint written by `save`; returns the same structure.

    The file is treated as untrusted: every size it declares is checked
    against the file's own size before anything is allocated, and every
    malformed input -- truncated, bit-flipped, or crafted -- raises
    `CheckpointError` naming the file and the problem.  A missing file
    raises FileNotFoundError.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return _read(f, os.fstat(f.fileno()).st_size)
    except _Malformed as exc:
        raise CheckpointError(f"nn.load: {path!r} {exc}") from None


class _Malformed(Exception):
    """A problem with the file's contents; `load` reraises it as `CheckpointError`."""


_DAMAGED = ("Load an earlier checkpoint; nn.save never leaves a half-written file under its "
            "final name, so this file was damaged after it was written.")

#: Largest ratio of inflated to deflated size that DEFLATE can reach (a bound on what an
#: entry may declare, so a few bytes cannot claim terabytes).
_MAX_DEFLATE_RATIO = 1032

#: Deepest nesting of containers a checkpoint may hold (the decoder recurses).
MAX_DEPTH = 100

_ZIP_MAGIC = b"PK\x03\x04"
#: zip flag bits for encryption (0), patched data (5) and strong encryption (6).
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40
_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError)


def _read(f, size):
    """The structure stored in the open checkpoint file ``f`` of ``size`` bytes."""
    magic = f.read(len(_ZIP_MAGIC))
    f.seek(0)
    if magic != _ZIP_MAGIC:
        if len(magic) < len(_ZIP_MAGIC) and _ZIP_MAGIC.startswith(magic):
            raise _Malformed(f"is truncated or corrupted ({size} bytes, too short for a "
                             f"checkpoint). {_DAMAGED}")
        raise _Malformed(f"is not a tapegrad checkpoint (not a zip archive: it starts with "
                         f"{magic!r}); write checkpoints with nn.save.")
    try:
        archive = zipfile.ZipFile(f)
    except _ZIP_ERRORS as exc:
        raise _Malformed(f"is truncated or corrupted ({type(exc).__name__}: {exc}). "
                         f"{_DAMAGED}") from None
    with archive:
        entries = _entries(archive, size)
        if MANIFEST not in entries:
            raise _Malformed(f"is not a tapegrad checkpoint (no {MANIFEST} entry); write "
                             f"checkpoints with nn.save.")
        manifest = _manifest(_read_array(archive, entries[MANIFEST]))
        return _Decoder(archive, entries).node(manifest["root"], 0)


def _entries(archive, size):
    """{array name: ZipInfo}, each entry's declared sizes checked against the file's size."""
    entries = {}
    total = 0
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(".npy") or name[:-4] in entries:
            raise _Malformed(f"is corrupted: entry {name!r} is not a uniquely named .npy array. "
                             f"{_DAMAGED}")
        if info.flag_bits & _UNSUPPORTED_FLAGS or info.compress_type not in (
                zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Malformed(f"is corrupted: entry {name!r} uses zip features nn.save never "
                             f"writes (flags {info.flag_bits:#x}, compression method "
                             f"{info.compress_type}). {_DAMAGED}")
        total += info.compress_size
        limit = (info.compress_size if info.compress_type == zipfile.ZIP_STORED
                 else info.compress_size * _MAX_DEFLATE_RATIO)
        if total > size or info.file_size > limit:
            raise _Malformed(f"is truncated or corrupted: entry {name!r} declares {info.file_size} "
                             f"bytes stored in {info.compress_size}, but the file has {size} "
                             f"bytes in all. {_DAMAGED}")
        entries[name[:-4]] = info
    return entries


def _read_array(archive, info):
    """The array in entry ``info``; its header's shape and dtype must match the entry's size."""
    name = info.filename[:-4]
    try:
        with archive.open(info) as f:
            version = numpy.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = numpy.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = numpy.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"npy format version {version} (nn.save writes 1.0 and 2.0)")
            if dtype.hasobject:
                raise _Malformed(
                    f"holds a pickled object array in entry {name!r}; nn.load never unpickles "
                    f"(that could run code). nn.save never writes one, so this file was not "
                    f"written by nn.save; load only files you wrote.")
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if count and not dtype.itemsize:
                raise ValueError(f"its header declares {count} elements of the empty dtype "
                                 f"{dtype}, which nn.save never writes")
            if f.tell() + nbytes != info.file_size:
                raise ValueError(f"its header declares shape {shape} {dtype} ({nbytes} bytes) "
                                 f"but the entry holds {info.file_size - f.tell()} bytes")
            array = numpy.empty(count, dtype)
            if nbytes:
                _read_into(f, array.view(numpy.uint8))
            if f.read(1):
                raise ValueError("data continues past the declared size")
            return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    except _ZIP_ERRORS as exc:
        raise _Malformed(f"is truncated or corrupted: entry {name!r}: {type(exc).__name__}: "
                         f"{exc}. {_DAMAGED}") from None


def _read_into(f, buffer):
    """Fill ``buffer`` (a uint8 array) from ``f``; EOFError if the data ends early."""
    view = memoryview(buffer)
    filled = 0
    while filled < len(view):
        n = f.readinto(view[filled:])
        if not n:
            raise EOFError(f"the data ends after {filled} of {len(view)} bytes")
        filled += n


def _manifest(array):
    """The parsed manifest, checked to be this format and version."""
    if array.dtype != numpy.uint8 or array.ndim != 1:
        raise _Malformed(f"is corrupted: its {MANIFEST} entry is {array.dtype} of shape "
                         f"{array.shape}, not UTF-8 bytes. {_DAMAGED}")
    try:
        manifest = json.loads(array.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _Malformed(f"is truncated or corrupted: its manifest is not readable JSON "
                         f"({type(exc).__name__}: {str(exc)[:200]}). {_DAMAGED}") from None
    if not isinstance(manifest, dict) or set(manifest) != {"format", "version", "root"}:
        raise _Malformed("is not a tapegrad checkpoint (its manifest is not a dict of format, "
                         "version and root); write checkpoints with nn.save.")
    if manifest["format"] != FORMAT or manifest["version"] != VERSION:
        raise _Malformed(f"has format {manifest['format']!r:.60} version "
                         f"{manifest['version']!r:.60}; this tapegrad reads {FORMAT!r} version "
                         f"{VERSION}.")
    return manifest


# ------------------------------------------------------------------ encoding
def _encode(value, arrays, path, depth=0):
    """The JSON form of ``value``; its arrays go into ``arrays`` under names made from ``path``."""
    if depth > MAX_DEPTH:
        raise TypeError(f"nn.save: the structure at {path!r:.80} nests deeper than {MAX_DEPTH} "
                        f"levels, more than a checkpoint may hold; flatten it.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, numpy.generic):
        return {"__scalar__": _store(numpy.asarray(value), arrays, path)}
    if isinstance(value, numpy.ndarray):
        return {"__array__": _store(value, arrays, path)}
    if isinstance(value, tapegrad.Tensor):
        return {"__tensor__": _store(numpy.asarray(value.data), arrays, path),
                "requires_grad": value.requires_grad,
                "parameter": isinstance(value, Parameter)}
    if isinstance(value, dict):
        pairs = [[_encode_key(k, path), _encode(v, arrays, _join(path, k), depth + 1)]
                 for k, v in value.items()]
        return {"__dict__": pairs, "ordered": isinstance(value, collections.OrderedDict)}
    if isinstance(value, list):
        return [_encode(v, arrays, _join(path, i), depth + 1) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, _join(path, i), depth + 1)
                              for i, v in enumerate(value)]}
    if isinstance(value, numpy.random.Generator):
        return {"__generator__": _encode(value.bit_generator.state, arrays, path, depth + 1)}
    hint = ""
    if isinstance(value, Module):
        hint = " Save model.state_dict() and rebuild the model in code."
    elif hasattr(value, "state_dict"):
        hint = " Save its state_dict() instead."
    raise TypeError(f"nn.save: cannot store {type(value).__name__} at {path or 'the root'!r}; "
                    f"a checkpoint holds dicts, lists, tuples, arrays, tensors, numbers, strings, "
                    f"None and numpy Generators.{hint}")


def _encode_key(key, path):
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    if isinstance(key, tuple):
        return {"__tuple__": [_encode_key(k, path) for k in key]}
    raise TypeError(f"nn.save: dict key {key!r} ({type(key).__name__}) at {path or 'the root'!r} "
                    f"cannot be stored; keys must be str, int, float, bool, None or tuples of "
                    f"those.")


def _store(array, arrays, path):
    if array.dtype.hasobject:
        raise TypeError(f"nn.save: the array at {path or 'the root'!r} has dtype object, which "
                        f"cannot be stored without pickle; convert it to a numeric or string "
                        f"dtype.")
    name = path or "root"
    n = 1
    while name in arrays or name == MANIFEST:
        n += 1
        name = f"{path or 'root'}~{n}"
    arrays[name] = array
    return name


def _join(path, key):
    return f"{path}/{key}" if path else str(key)


# ------------------------------------------------------------------ decoding
class _Decoder:
    """Rebuilds the structure from the manifest, refusing anything nn.save does not write.

    Arrays are read from the archive when the manifest first names them.
    """

    def __init__(self, archive, entries):
        self.archive = archive
        self.entries = entries

    def node(self, node, depth):
        if depth > MAX_DEPTH:
            raise _Malformed(f"is not a valid checkpoint: its manifest nests deeper than "
                             f"{MAX_DEPTH} levels, which nn.save never writes.")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.node(v, depth + 1) for v in node]
        kind = self._kind(node)
        if kind == "__dict__":
            pairs = node["__dict__"]
            if not isinstance(pairs, list) or not all(
                    isinstance(p, list) and len(p) == 2 for p in pairs):
                raise self._bad(node, "a list of [key, value] pairs")
            result = (collections.OrderedDict if node["ordered"] else dict)(
                (self.key(k, depth + 1), self.node(v, depth + 1)) for k, v in pairs)
            if len(result) != len(pairs):
                raise self._bad(node, "distinct keys")
            return result
        if kind == "__tuple__":
            return tuple(self.node(v, depth + 1) for v in self._list(node, kind))
        if kind == "__array__":
            return self.array(node[kind])
        if kind == "__scalar__":
            array = self.array(node[kind])
            if array.ndim != 0:
                raise self._bad(node, "a 0-d array")
            return array[()]
        if kind == "__tensor__":
            array = self.array(node[kind])
            if array.dtype.kind not in "biufc" or (node["requires_grad"]
                                                   and array.dtype.kind != "f"):
                raise self._bad(node, "numbers (floating point if it requires grad)")
            cls = Parameter if node["parameter"] else tapegrad.tensor
            return cls(array, requires_grad=node["requires_grad"])
        return self.generator(self.node(node[kind], depth + 1), node)

    #: The keys of each kind of manifest node, and which of them must be bools.
    _KINDS = {"__dict__": ({"__dict__", "ordered"}, ("ordered",)),
              "__tuple__": ({"__tuple__"}, ()),
              "__array__": ({"__array__"}, ()),
              "__scalar__": ({"__scalar__"}, ()),
              "__tensor__": ({"__tensor__", "requires_grad", "parameter"},
                             ("requires_grad", "parameter")),
              "__generator__": ({"__generator__"}, ())}

    def _kind(self, node):
        """Which kind of node ``node`` (a JSON object) is; its keys must be exactly that kind's."""
        for kind, (keys, flags) in self._KINDS.items():
            if kind in node:
                if set(node) != keys or not all(type(node[k]) is bool for k in flags):
                    raise self._bad(node, f"the keys {sorted(keys)} (flags true or false)")
                return kind
        raise self._bad(node, "one of the keys " + ", ".join(self._KINDS))

    def _list(self, node, kind):
        if not isinstance(node[kind], list):
            raise self._bad(node, "a list")
        return node[kind]

    def key(self, node, depth):
        if depth > MAX_DEPTH:
            raise _Malformed(f"is not a valid checkpoint: its manifest nests deeper than "
                             f"{MAX_DEPTH} levels, which nn.save never writes.")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict) and set(node) == {"__tuple__"}:
            return tuple(self.key(k, depth + 1) for k in self._list(node, "__tuple__"))
        raise self._bad(node, "a dict key (a number, string, None or tuple of those)")

    def array(self, name):
        if not isinstance(name, str) or name == MANIFEST or name not in self.entries:
            raise _Malformed(f"is corrupted: its manifest names an array {name!r:.80} that the "
                             f"file does not hold. {_DAMAGED}")
        return _read_array(self.archive, self.entries[name])

    def generator(self, state, node):
        """A ``numpy.random.Generator`` whose bit generator is in ``state``."""
        kind = state.get("bit_generator") if isinstance(state, dict) else None
        if kind not in _GENERATORS:
            raise self._bad(node, f"the state of one of the bit generators {_GENERATORS}")
        bits = getattr(numpy.random, kind)()
        try:
            bits.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self._bad(node, f"a valid {kind} state ({type(exc).__name__}: {exc})") from None
        return numpy.random.Generator(bits)

    @staticmethod
    def _bad(node, expected):
        return _Malformed(f"is corrupted: a manifest entry {json.dumps(node)[:80]} should hold "
                          f"{expected}. {_DAMAGED}")


# ------------------------------------------------------------------- writing
def _atomic_write(path, arrays, compress):
    """Write the arrays as an npz under a temporary name, fsync, then rename over ``path``.

    The temporary file is created with mode 0o666 (the OS applies the umask, which is
    never changed) or, when ``path`` exists, given that file's mode.  Temporary files
    that an earlier save to ``path`` left behind when its process was killed are
    removed first.
    """
    directory = os.path.dirname(os.path.abspath(path))
    _remove_orphans(directory, os.path.basename(path))
    fd, tmp = _create_temporary(directory, os.path.basename(path))
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, os.stat(path).st_mode & 0o7777)
        with os.fdopen(fd, "wb") as f:
            compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            with zipfile.ZipFile(f, mode="w", compression=compression, allowZip64=True) as zf:
                for name, array in arrays.items():
                    _write_entry(zf, name, array)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _write_entry(zf, name, array):
    with zf.open(name + ".npy", "w", force_zip64=True) as entry:
        numpy.lib.format.write_array(entry, numpy.asanyarray(array), allow_pickle=False)


def _temporary_pattern(basename):
    """Temporary files for ``basename`` are ``.basename.<pid>.<random hex>.tmp``."""
    return re.compile(re.escape(f".{basename}.") + r"([0-9]+)\.[0-9a-f]+\.tmp")


def _create_temporary(directory, basename):
    """(fd, path) of a new, exclusively created temporary file named after the writer's pid."""
    while True:
        tmp = os.path.join(directory, f".{basename}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def _remove_orphans(directory, basename):
    """Delete temporary files of earlier saves to ``basename`` whose process has died.

    A file whose writer is alive (another thread or process saving right now) is
    kept.  Liveness is checked by pid on POSIX; elsewhere orphans are kept.
    """
    if os.name != "posix":
        return
    pattern = _temporary_pattern(basename)
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            match = pattern.fullmatch(name)
            if match and not _alive(int(match[1])):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


def _alive(pid):
    """Whether process ``pid`` exists (POSIX: signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:          # it exists, owned by another user
        pass
    return True


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
