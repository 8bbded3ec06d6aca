"""nn.save / nn.load: every supported type round-trips, no pickle, atomic writes,
clear errors for damaged files, and training resumed from a checkpoint is bit-identical."""
import collections
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.nn import serialization
from tapegrad.nn.serialization import CheckpointError

MANIFEST_NPY = "__manifest__.npy"


def _roundtrip(obj, tmp_path):
    nn.save(obj, tmp_path / "ck.npz")
    return nn.load(tmp_path / "ck.npz")


def _assert_same(a, b):
    """Equal values and equal types, all the way down."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type([kb for kb in b if kb == k][0])
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, numpy.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        numpy.testing.assert_array_equal(a, b)
    elif isinstance(a, numpy.generic):
        assert a.dtype == b.dtype and (a == b or (a != a and b != b))
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_nested_structures_round_trip_with_their_types(tmp_path):
    obj = {
        "model": collections.OrderedDict([("w", numpy.arange(6.0).reshape(2, 3)),
                                          ("b", numpy.zeros(3, numpy.float32))]),
        "state": {0: {"step": 3, "m": numpy.ones(2)}, 1: {}},
        "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "params": [0, 1]}],
        "epoch": 3, "loss": 0.25, "name": "run-1", "none": None,
        "specials": [float("nan"), float("inf"), -float("inf"), 2 ** 70, -0.0],
        "scalars": [numpy.float32(1.5), numpy.int64(-4), numpy.bool_(True)],
        "arrays": [numpy.array(["ab", "c"]), numpy.array([True, False]),
                   numpy.zeros((0, 3)), numpy.array(7, dtype=numpy.int16),
                   numpy.arange(4, dtype=numpy.complex128)],
        (1, "a"): "tuple key", 2.5: "float key", False: "bool key", None: "none key",
        "1": "string key next to int key 1", 1: "int key",
        "empty": {}, "empty_list": [], "empty_tuple": (),
    }
    _assert_same(obj, _roundtrip(obj, tmp_path))


def test_tensors_and_parameters_round_trip(tmp_path):
    t = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    p = nn.Parameter(numpy.ones((2, 2), numpy.float32))
    frozen = nn.Parameter(numpy.zeros(1), requires_grad=False)
    ints = tg.tensor([1, 2, 3])
    loaded = _roundtrip({"t": t, "p": p, "f": frozen, "i": ints}, tmp_path)
    assert type(loaded["t"]) is tg.Tensor and loaded["t"].requires_grad
    assert type(loaded["p"]) is nn.Parameter and loaded["p"].dtype == numpy.float32
    assert not loaded["f"].requires_grad and loaded["i"].dtype == ints.dtype
    numpy.testing.assert_array_equal(loaded["t"].data, t.data)


def test_the_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    sd = nn.Linear(3, 2).state_dict()
    nn.save({"model": sd, "epoch": 1}, tmp_path / "ck.npz")
    with numpy.load(tmp_path / "ck.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__manifest__", "model/bias", "model/weight"]
        manifest = json.loads(npz["__manifest__"].tobytes())
        numpy.testing.assert_array_equal(npz["model/weight"], sd["weight"])
    assert manifest["format"] == "tapegrad-checkpoint" and manifest["version"] == 1


def test_save_writes_exactly_the_given_name(tmp_path):
    nn.save({"a": 1}, tmp_path / "checkpoint.bin")
    assert os.listdir(tmp_path) == ["checkpoint.bin"]
    assert nn.load(str(tmp_path / "checkpoint.bin")) == {"a": 1}


def test_compressed_checkpoints_load_the_same(tmp_path):
    obj = {"zeros": numpy.zeros(10000)}
    nn.save(obj, tmp_path / "plain.npz")
    nn.save(obj, tmp_path / "small.npz", compress=True)
    assert os.path.getsize(tmp_path / "small.npz") < os.path.getsize(tmp_path / "plain.npz") / 10
    _assert_same(obj, nn.load(tmp_path / "small.npz"))


def test_array_names_that_collide_are_kept_apart(tmp_path):
    obj = {"a": {"b": numpy.ones(1)}, "a/b": numpy.zeros(1), "__manifest__": numpy.ones(2)}
    _assert_same(obj, _roundtrip(obj, tmp_path))


@pytest.mark.parametrize("value,match", [
    (object(), "cannot store object at 'x'"),
    (numpy.array([{}], dtype=object), "dtype object"),
    (nn.Linear(2, 2), "model.state_dict"),
    ({"k": {frozenset(): 1}}, "dict key"),
    (lambda: 0, "cannot store function"),
])
def test_unsupported_values_raise_naming_their_path(value, match, tmp_path):
    with pytest.raises(TypeError, match=match):
        nn.save({"x": value}, tmp_path / "ck.npz")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------- atomic writes
def test_a_failure_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    nn.save({"epoch": 1, "w": numpy.ones(3)}, path)
    calls = []
    real = serialization._write_entry

    def failing(zf, name, array):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        real(zf, name, array)

    monkeypatch.setattr(serialization, "_write_entry", failing)
    with pytest.raises(OSError, match="simulated"):
        nn.save({"epoch": 2, "w": numpy.zeros(3), "v": numpy.zeros(2)}, path)
    assert len(calls) == 2                              # it did fail mid-write
    loaded = nn.load(path)
    assert loaded["epoch"] == 1 and (loaded["w"] == 1).all()
    assert os.listdir(tmp_path) == ["ck.npz"]           # no temporary file left behind


def test_a_failure_at_the_rename_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    nn.save({"epoch": 1}, path)

    def crash(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert nn.load(path) == {"epoch": 1} and os.listdir(tmp_path) == ["ck.npz"]


def test_overwriting_keeps_the_file_permissions(tmp_path):
    path = tmp_path / "ck.npz"
    nn.save({"a": 1}, path)
    os.chmod(path, 0o640)
    nn.save({"a": 2}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640 and nn.load(path) == {"a": 2}


# ----------------------------------------------------------- damaged files
def _saved(tmp_path):
    path = tmp_path / "ck.npz"
    nn.save({"w": numpy.arange(1000.0), "epoch": 4}, path)
    return path, path.read_bytes()


@pytest.mark.parametrize("cut", [0, 10, 100, -30, -1])
def test_a_truncated_file_raises_a_clear_error_naming_it(cut, tmp_path):
    path, data = _saved(tmp_path)
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="ck.npz.*truncated or corrupted"):
        nn.load(path)


@pytest.mark.parametrize("where", ["array", "manifest"])
def test_corrupted_bytes_raise_a_clear_error(where, tmp_path):
    path, data = _saved(tmp_path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("w.npy" if where == "array" else "__manifest__.npy")
    start = info.header_offset + 30 + len(info.filename) + info.file_size // 2
    damaged = bytearray(data)
    damaged[start] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="ck.npz"):
        nn.load(path)


def test_errors_are_tapegrad_errors_and_value_errors():
    assert issubclass(CheckpointError, tg.TapegradError) and issubclass(CheckpointError, ValueError)


def test_other_files_are_refused(tmp_path):
    numpy.savez(tmp_path / "other.npz", a=numpy.ones(2))
    with pytest.raises(CheckpointError, match="not a tapegrad checkpoint"):
        nn.load(tmp_path / "other.npz")
    numpy.save(tmp_path / "single.npy", numpy.ones(2))
    with pytest.raises(CheckpointError, match="not a tapegrad checkpoint"):
        nn.load(tmp_path / "single.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match="text.npz"):
        nn.load(tmp_path / "text.npz")


def test_a_newer_format_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "VERSION", 99)
    nn.save({"a": 1}, tmp_path / "ck.npz")
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="version 99"):
        nn.load(tmp_path / "ck.npz")


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "nope.npz")


# ------------------------------------------------------------ random state
@pytest.mark.parametrize("kind", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_a_generator_round_trips_mid_stream(kind, tmp_path):
    rng = numpy.random.Generator(getattr(numpy.random, kind)(7))
    rng.standard_normal(5)
    loaded = _roundtrip({"rng": rng, "state": rng.bit_generator.state}, tmp_path)
    expected = rng.standard_normal(10)
    numpy.testing.assert_array_equal(loaded["rng"].standard_normal(10), expected)
    again = numpy.random.Generator(getattr(numpy.random, kind)())
    again.bit_generator.state = loaded["state"]
    numpy.testing.assert_array_equal(again.standard_normal(10), expected)


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 5, dtype=tg.float64)
        self.head = nn.Linear(5, 1, dtype=tg.float64)
        self.drop = nn.Dropout(0.3)

    def forward(self, x, generator):
        self.drop.generator = generator
        out, _ = self.lstm(x)
        return self.head(self.drop(out[-1]))


def _train(model, opt, sched, rng, data, targets, steps):
    for _ in range(steps):
        batch = rng.choice(data.shape[1], size=3, replace=False)   # data order from the generator
        opt.zero_grad()
        pred = model(tg.tensor(data[:, batch]), rng)            # dropout masks too
        loss = ((pred - tg.tensor(targets[batch])) ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()


def _fresh(seed):
    tg.manual_seed(seed)
    model = _Model()
    opt = nn.optim.Adam(model.parameters(), lr=0.01)
    return model, opt, nn.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)


def test_resuming_from_a_checkpoint_continues_bit_for_bit(tmp_path):
    data_rng = numpy.random.default_rng(0)
    data, targets = data_rng.standard_normal((6, 8, 2)), data_rng.standard_normal((8, 1))

    model, opt, sched = _fresh(1)
    rng = numpy.random.default_rng(42)
    _train(model, opt, sched, rng, data, targets, 7)
    straight = model.state_dict()

    model, opt, sched = _fresh(1)
    rng = numpy.random.default_rng(42)
    _train(model, opt, sched, rng, data, targets, 3)
    nn.save({"model": model.state_dict(), "optim": opt.state_dict(),
             "sched": sched.state_dict(), "rng": rng, "step": 3}, tmp_path / "ck.npz")
    del model, opt, sched, rng

    model, opt, sched = _fresh(2)                      # different initial weights
    ck = nn.load(tmp_path / "ck.npz")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    sched.load_state_dict(ck["sched"])
    _train(model, opt, sched, ck["rng"], data, targets, 7 - ck["step"])
    resumed = model.state_dict()
    for k in straight:
        assert straight[k].tobytes() == resumed[k].tobytes(), k


# ------------------------------------------------------------ nothing executed
class _Payload:
    """Unpickling this would create ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_entry_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    manifest = json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                           "root": {"__array__": "x"}}).encode()
    numpy.savez(tmp_path / "evil.npz", x=numpy.array([_Payload(marker)], dtype=object),
                __manifest__=numpy.frombuffer(manifest, numpy.uint8))
    with pytest.raises(CheckpointError, match=r"evil\.npz.*pickled object array in entry 'x'"):
        nn.load(tmp_path / "evil.npz")
    assert not marker.exists()


# ------------------------------------------------------------ a real crash
_CRASHING_SAVE = """
import os
import sys
import numpy
import tapegrad.nn as nn
from tapegrad.nn import serialization

written = []
real = serialization._write_entry

def dying(zf, name, array):
    written.append(name)
    if len(written) == 2:
        os._exit(3)                # the process dies: no exception, no cleanup, no rename
    real(zf, name, array)

serialization._write_entry = dying
nn.save({"epoch": 2, "w": numpy.zeros(100000), "v": numpy.zeros(5)}, sys.argv[1])
"""


def test_a_process_killed_mid_save_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "ck.npz"
    nn.save({"epoch": 1, "w": numpy.ones(3)}, path)
    before = path.read_bytes()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", _CRASHING_SAVE, str(path)], cwd=root,
                          env=dict(os.environ, PYTHONPATH=root), capture_output=True)
    assert done.returncode == 3, done.stderr.decode()
    assert path.read_bytes() == before
    loaded = nn.load(path)
    assert loaded["epoch"] == 1 and (loaded["w"] == 1).all()
    leftovers = [n for n in os.listdir(tmp_path) if n != "ck.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ck.npz.")   # the dead temp file


def test_the_next_save_removes_the_temporary_file_of_a_killed_save(tmp_path):
    path = tmp_path / "ck.npz"
    nn.save({"epoch": 1}, path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for _ in range(2):            # the second killed save already removes the first's file
        subprocess.run([sys.executable, "-c", _CRASHING_SAVE, str(path)], cwd=root,
                       env=dict(os.environ, PYTHONPATH=root), capture_output=True)
        assert len(os.listdir(tmp_path)) == 2                     # ck.npz and one dead temp file
    live = tmp_path / f".ck.npz.{os.getpid()}.abc123.tmp"          # a save in progress here
    other = tmp_path / ".other.npz.999999999.abc123.tmp"           # another checkpoint's
    live.write_bytes(b"")
    other.write_bytes(b"")
    nn.save({"epoch": 3}, path)
    assert sorted(os.listdir(tmp_path)) == sorted(["ck.npz", live.name, other.name])
    assert nn.load(path) == {"epoch": 3}


# ------------------------------------------------------------ file modes
def test_save_never_changes_the_umask_and_new_files_follow_it(tmp_path, monkeypatch):
    previous = os.umask(0o027)
    try:
        def no_umask(mask):
            raise AssertionError("nn.save changed the process umask")

        monkeypatch.setattr(os, "umask", no_umask)
        nn.save({"a": 1}, tmp_path / "ck.npz")
    finally:
        monkeypatch.undo()
        os.umask(previous)
    assert os.stat(tmp_path / "ck.npz").st_mode & 0o777 == 0o640


# ------------------------------------------------------------ hostile files
def _zip_bytes(entries, compression=zipfile.ZIP_STORED):
    """A zip of ``{name: array}`` written as .npy entries, bypassing nn.save's checks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, array in entries.items():
            with zf.open(name + ".npy", "w") as f:
                numpy.lib.format.write_array(f, numpy.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def _manifest_array(root, fmt="tapegrad-checkpoint", version=1):
    text = json.dumps({"format": fmt, "version": version, "root": root})
    return numpy.frombuffer(text.encode(), numpy.uint8)


def _npy_header(shape, descr="<f8"):
    """Just the .npy header declaring ``shape`` (no data)."""
    buffer = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _crafted(tmp_path, data):
    path = tmp_path / "crafted.npz"
    path.write_bytes(data)
    return path


def test_a_header_declaring_terabytes_is_refused_before_allocating(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("w.npy", _npy_header((2 ** 40,)))                    # 8 TiB of float64
        with zf.open(MANIFEST_NPY, "w") as f:
            numpy.lib.format.write_array(f, _manifest_array({"__array__": "w"}))
    path = _crafted(tmp_path, buffer.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"crafted\.npz.*'w'.*8796093022208 bytes"):
            nn.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def _directory_record(data, name):
    """Offset of the central-directory record of entry ``name`` in zip bytes ``data``."""
    pos = data.index(b"PK\x01\x02")
    while data[pos + 46:pos + 46 + len(name)] != name:
        pos = data.index(b"PK\x01\x02", pos + 4)
    return pos


def test_a_zip_entry_declaring_more_bytes_than_the_file_holds_is_refused(tmp_path):
    data = bytearray(_zip_bytes({"w": numpy.zeros(4), "__manifest__":
                                 _manifest_array({"__array__": "w"})}))
    struct.pack_into("<II", data, _directory_record(data, b"w.npy") + 20,
                     0x7FFFFFF0, 0x7FFFFFF0)          # compressed and uncompressed size
    with pytest.raises(CheckpointError, match=r"crafted\.npz.*'w\.npy' declares 2147483632"):
        nn.load(_crafted(tmp_path, bytes(data)))


def test_entries_overlapping_in_the_file_cannot_claim_more_than_it_holds(tmp_path):
    inner = _zip_bytes({"b": numpy.zeros(100)})
    inner_local = inner[:inner.index(b"PK\x01\x02")]
    inner_record = bytearray(inner[_directory_record(inner, b"b.npy"):inner.index(b"PK\x05\x06")])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.npy", inner_local)             # entry a's data is entry b, whole
        with zf.open(MANIFEST_NPY, "w") as f:
            numpy.lib.format.write_array(f, _manifest_array(1))
    data = buffer.getvalue()
    end = data.index(b"PK\x05\x06")
    struct.pack_into("<I", inner_record, 42, 30 + len("a.npy"))   # b's local header offset
    tail = bytearray(data[end:])
    struct.pack_into("<HHI", tail, 8, 3, 3, struct.unpack_from("<I", tail, 12)[0]
                     + len(inner_record))
    crafted = data[:end] + bytes(inner_record) + bytes(tail)
    with zipfile.ZipFile(io.BytesIO(crafted)) as zf:                # a valid zip, b inside a
        assert zf.read("b.npy") == zf.read("a.npy")[-len(zf.read("b.npy")):]
    with pytest.raises(CheckpointError, match=r"crafted\.npz.*'b\.npy' declares"):
        nn.load(_crafted(tmp_path, crafted))


def _deep(n):
    root = 1
    for _ in range(n):
        root = [root]
    return root


@pytest.mark.parametrize("manifest,problem", [
    (b"[" * 100000 + b"]" * 100000, "not readable JSON"),
    (json.dumps([1, 2]).encode(), "not a dict of format, version and root"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1, "root": _deep(500)}).encode(),
     "nests deeper than 100 levels"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__dict__": 5, "ordered": False}}).encode(), "pairs"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__dict__": [[[1], 2]], "ordered": False}}).encode(), "dict key"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__dict__": [], "ordered": 1}}).encode(), "flags true or false"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__array__": "nope"}}).encode(), "names an array 'nope'"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__array__": "__manifest__"}}).encode(), "names an array"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__scalar__": "w"}}).encode(), "0-d array"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__tensor__": "s", "requires_grad": True,
                          "parameter": False}}).encode(), "floating point"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__generator__": {"__dict__": [["bit_generator", "BitGenerator"]],
                                            "ordered": False}}}).encode(),
     "bit generators"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"__generator__": {"__dict__": [["bit_generator", "PCG64"],
                                                         ["state", 3]],
                                            "ordered": False}}}).encode(), "PCG64 state"),
    (json.dumps({"format": "tapegrad-checkpoint", "version": 1,
                 "root": {"surprise": 1}}).encode(), "one of the keys"),
    (b"\xff\xfe", "not readable JSON"),
])
def test_crafted_manifests_raise_checkpoint_errors_naming_the_problem(manifest, problem,
                                                                      tmp_path):
    data = _zip_bytes({"w": numpy.zeros(3), "s": numpy.array(["a"]),
                       "__manifest__": numpy.frombuffer(manifest, numpy.uint8)})
    with pytest.raises(CheckpointError, match=r"crafted\.npz.*" + problem):
        nn.load(_crafted(tmp_path, data))


def test_a_structure_too_deep_to_load_is_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="nests deeper than 100 levels"):
        nn.save({"x": _deep(200)}, tmp_path / "ck.npz")
    assert nn.load(_roundtrip_path(tmp_path, {"x": _deep(90)}))["x"] == _deep(90)


def _roundtrip_path(tmp_path, obj):
    nn.save(obj, tmp_path / "ok.npz")
    return tmp_path / "ok.npz"


@pytest.mark.parametrize("method,flags", [(zipfile.ZIP_BZIP2, 0), (99, 0), (0, 0x1), (0, 0x20)])
def test_zip_features_nn_save_never_writes_are_refused(method, flags, tmp_path):
    data = bytearray(_zip_bytes({"__manifest__": _manifest_array(1)}))
    directory = data.index(b"PK\x01\x02")
    struct.pack_into("<HH", data, directory + 8, flags, method)
    with pytest.raises(CheckpointError, match=r"crafted\.npz.*zip features"):
        nn.load(_crafted(tmp_path, bytes(data)))


# ------------------------------------------------------------ fuzzing
def _fuzz_original():
    return {"model": collections.OrderedDict([("w", numpy.arange(6.0).reshape(2, 3)),
                                              ("b", numpy.zeros(2, numpy.float32))]),
            "t": tg.tensor([1.0, 2.0], requires_grad=True), "p": nn.Parameter(numpy.ones(2)),
            "rng": numpy.random.default_rng(3), "step": numpy.int64(7),
            (1, "k"): ("a", None, 2.5, float("nan")), "f": numpy.asfortranarray(
                numpy.arange(6.0).reshape(2, 3))}


def _fuzz_files():
    """The bytes of the same checkpoint saved stored and deflated."""
    import tempfile
    files = []
    with tempfile.TemporaryDirectory() as directory:
        for compress in (False, True):
            path = os.path.join(directory, "ck.npz")
            nn.save(_fuzz_original(), path, compress=compress)
            with open(path, "rb") as f:
                files.append(f.read())
    return files


_FUZZ_FILES = _fuzz_files()

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2 ** 70) | st.floats() | st.text(max_size=4)
    | st.sampled_from(["w", "b", "__manifest__", "PCG64", "rng"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["__dict__", "ordered", "__tuple__", "__array__", "__scalar__",
                         "__tensor__", "requires_grad", "parameter", "__generator__",
                         "bit_generator", "state", "x"]), inner, max_size=3),
    max_leaves=12)


@st.composite
def _damaged(draw):
    """A damaged or crafted checkpoint, and whether loading it exactly would be correct."""
    data = bytearray(draw(st.sampled_from(_FUZZ_FILES)))
    how = draw(st.sampled_from(["truncate", "flip", "flips", "manifest", "array header"]))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))]), False
    if how in ("flip", "flips"):
        for _ in range(1 if how == "flip" else draw(st.integers(2, 8))):
            bit = draw(st.integers(0, 8 * len(data) - 1))
            data[bit // 8] ^= 1 << bit % 8
        return bytes(data), True
    entries = {"w": numpy.zeros(3), "b": numpy.ones(2, numpy.float32),
               "rng": numpy.array(5, numpy.uint64)}
    if how == "manifest":
        entries["__manifest__"] = _manifest_array(draw(_json))
        return _zip_bytes(entries), False
    shape = draw(st.lists(st.integers(0, 2 ** 62), max_size=4).map(tuple))
    descr = draw(st.sampled_from(["<f8", "|u1", "<U3", "|V0", "|S0", "O"]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("w.npy", _npy_header(shape, descr) + bytes(draw(st.integers(0, 64))))
        with zf.open(MANIFEST_NPY, "w") as f:
            numpy.lib.format.write_array(f, _manifest_array({"__array__": "w"}))
    return buffer.getvalue(), False


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_damaged())
def test_fuzzed_files_give_a_checkpoint_error_or_an_exact_load(tmp_path, case):
    """Truncations, bit flips and crafted manifests/headers: only CheckpointError or the truth."""
    data, exact_possible = case
    path = _crafted(tmp_path, data)
    try:
        loaded = nn.load(path)
    except CheckpointError as exc:
        assert "crafted.npz" in str(exc)
        return
    if exact_possible:                       # a flip the format does not depend on
        original = _fuzz_original()
        rng = loaded.pop("rng")
        numpy.testing.assert_array_equal(rng.random(3), original.pop("rng").random(3))
        for key in ("t", "p"):
            a, b = original.pop(key), loaded.pop(key)
            assert type(a) is type(b) and a.requires_grad == b.requires_grad
            numpy.testing.assert_array_equal(a.data, b.data)
        _assert_same(original, loaded)
