"""nn.save / nn.load: every supported type round-trips, no pickle, atomic writes,
clear errors for damaged files, and training resumed from a checkpoint is bit-identical."""
import collections
import json
import os
import subprocess
import sys
import zipfile

import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.nn import serialization
from tapegrad.nn.serialization import CheckpointError


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
