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
``os.replace``.  A crash mid-save leaves the previous checkpoint intact.
"""
import collections
import contextlib
import json
import os
import tempfile
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

    Raises `CheckpointError` (naming the file) when it is truncated,
    corrupted or not a checkpoint; FileNotFoundError when it does not exist.
    """
    path = os.fspath(path)
    try:
        npz = numpy.load(path, allow_pickle=False)
        if not isinstance(npz, numpy.lib.npyio.NpzFile) or MANIFEST not in npz.files:
            raise CheckpointError(f"nn.load: {path!r} is not a tapegrad checkpoint (no "
                                  f"{MANIFEST} entry); write checkpoints with nn.save.")
        with npz:
            manifest = json.loads(_entry(npz, MANIFEST, path).tobytes().decode("utf-8"))
            arrays = {k: _entry(npz, k, path) for k in npz.files if k != MANIFEST}
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise CheckpointError(f"nn.load: {path!r} has format {manifest.get('format')!r} "
                                  f"version {manifest.get('version')!r}; this tapegrad reads "
                                  f"{FORMAT!r} version {VERSION}.")
        return _decode(manifest["root"], arrays)
    except (CheckpointError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            TypeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"nn.load: {path!r} is truncated or corrupted ({type(exc).__name__}: {exc}). "
            f"Load an earlier checkpoint; nn.save never leaves a half-written file under "
            f"its final name, so this file was damaged after it was written.") from exc


def _entry(npz, name, path):
    """``npz[name]``; an entry that would need unpickling is refused with its own message."""
    try:
        return npz[name]
    except ValueError:
        if _is_object_array(npz, name):
            raise CheckpointError(
                f"nn.load: {path!r} holds a pickled object array in entry {name!r}; nn.load "
                f"never unpickles (that could run code). nn.save never writes one, so this "
                f"file was not written by nn.save; load only files you wrote.") from None
        raise


def _is_object_array(npz, name):
    """Whether entry ``name`` of ``npz`` declares an object dtype (read from its header only)."""
    try:
        with npz.zip.open(name + ".npy") as f:
            version = numpy.lib.format.read_magic(f)
            read = (numpy.lib.format.read_array_header_1_0 if version == (1, 0)
                    else numpy.lib.format.read_array_header_2_0)
            return read(f)[2].hasobject
    except (ValueError, KeyError, OSError, zipfile.BadZipFile):
        return False


# ------------------------------------------------------------------ encoding
def _encode(value, arrays, path):
    """The JSON form of ``value``; its arrays go into ``arrays`` under names made from ``path``."""
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
        pairs = [[_encode_key(k, path), _encode(v, arrays, _join(path, k))]
                 for k, v in value.items()]
        return {"__dict__": pairs, "ordered": isinstance(value, collections.OrderedDict)}
    if isinstance(value, list):
        return [_encode(v, arrays, _join(path, i)) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, _join(path, i)) for i, v in enumerate(value)]}
    if isinstance(value, numpy.random.Generator):
        return {"__generator__": _encode(value.bit_generator.state, arrays, path)}
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
def _decode(node, arrays):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__dict__" in node:
        kind = collections.OrderedDict if node["ordered"] else dict
        return kind((_decode_key(k), _decode(v, arrays)) for k, v in node["__dict__"])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__array__" in node:
        return arrays[node["__array__"]]
    if "__scalar__" in node:
        return arrays[node["__scalar__"]][()]
    if "__tensor__" in node:
        kind = Parameter if node["parameter"] else tapegrad.tensor
        return kind(arrays[node["__tensor__"]], requires_grad=node["requires_grad"])
    if "__generator__" in node:
        return _generator(_decode(node["__generator__"], arrays))
    raise KeyError(f"unknown manifest entry with keys {sorted(node)}")


def _decode_key(node):
    if isinstance(node, dict):
        return tuple(_decode_key(k) for k in node["__tuple__"])
    return node


def _generator(state):
    """A ``numpy.random.Generator`` whose bit generator is in ``state``."""
    kind = getattr(numpy.random, state["bit_generator"], None)
    if not (isinstance(kind, type) and issubclass(kind, numpy.random.BitGenerator)):
        raise ValueError(f"unknown bit generator {state['bit_generator']!r}")
    bits = kind()
    bits.state = state
    return numpy.random.Generator(bits)


# ------------------------------------------------------------------- writing
def _atomic_write(path, arrays, compress):
    """Write the arrays as an npz under a temporary name, fsync, then rename over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            with zipfile.ZipFile(f, mode="w", compression=compression, allowZip64=True) as zf:
                for name, array in arrays.items():
                    _write_entry(zf, name, array)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _write_entry(zf, name, array):
    with zf.open(name + ".npy", "w", force_zip64=True) as entry:
        numpy.lib.format.write_array(entry, numpy.asanyarray(array), allow_pickle=False)


def _file_mode(path):
    """The existing file's permissions, or those a new file would get under the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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
