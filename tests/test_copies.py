"""Copies, pickles, ``.grad`` assignment and saved values: refused or correct, never silently
wrong.  Arrays reachable from a tensor or a record are read-only all the way down."""
import copy
import pickle

import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad import ledger


def _leaf():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.name = "x"
    return x


# ------------------------------------------------------------ copies and pickles
@pytest.mark.parametrize("how", [copy.deepcopy, copy.copy, pickle.dumps])
def test_copying_a_tensor_made_by_an_operation_is_refused_naming_detach(how):
    y = _leaf() * 2.0
    with pytest.raises(tg.OpError, match=r"made by mul \(recorded at test_copies\.py:\d+.*"
                                         r"detach\(\)"):
        how(y)


@pytest.mark.parametrize("how", [copy.deepcopy, copy.copy,
                                 lambda t: pickle.loads(pickle.dumps(t))])
def test_a_copied_leaf_keeps_value_flags_and_grad_and_is_read_only(how):
    x = _leaf()
    (x * x).sum().backward()
    c = how(x)
    assert c is not x and type(c) is tg.Tensor and c.requires_grad and c.name == "x"
    numpy.testing.assert_array_equal(c.data, x.data)
    numpy.testing.assert_array_equal(c.grad.data, [2.0, 4.0, 6.0])
    assert not c.numpy().flags.writeable and not c.grad.numpy().flags.writeable
    (c * 3.0).sum().backward()                      # the copy is a leaf of its own
    numpy.testing.assert_array_equal(c.grad.data, [5.0, 7.0, 9.0])
    numpy.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])


def test_detached_outputs_pickle_and_a_deep_copied_model_trains_on_its_own():
    model = nn.Linear(3, 2)
    out = model(tg.ones((4, 3)))
    assert pickle.loads(pickle.dumps(out.detach())).shape == (4, 2)
    twin = copy.deepcopy(model)
    assert type(twin.weight) is nn.Parameter and twin.weight is not model.weight
    twin(tg.ones((1, 3))).sum().backward()
    assert twin.weight.grad is not None and model.weight.grad is None
    restored = pickle.loads(pickle.dumps(model.weight))
    assert type(restored) is nn.Parameter and restored.requires_grad


# ------------------------------------------------------------ .grad assignment
@pytest.mark.parametrize("value,error,match", [
    (numpy.zeros(3), TypeError, "expected a tapegrad Tensor or None, got ndarray"),
    (tg.zeros(1), tg.OpError, r"Tensor\(1,\) float32 but the tensor is Tensor\(3,\) float32"),
    (tg.zeros((3,), dtype=tg.float64), tg.OpError, "float64 but the tensor is.*float32"),
    ([0.0, 0.0, 0.0], TypeError, "got list"),
])
def test_assigning_a_wrong_grad_is_refused_naming_both(value, error, match):
    x = _leaf()
    x.grad = tg.ones(3)
    with pytest.raises(error, match=match + ".*test_copies.py"):
        x.grad = value
    numpy.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])   # unchanged


def test_a_valid_grad_assignment_is_accumulated_into():
    x = _leaf()
    x.grad = tg.tensor([10.0, 10.0, 10.0])
    (x * 2.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [12.0, 12.0, 12.0])
    x.grad = None
    assert x.grad is None


def test_sgd_never_sees_a_misshapen_grad():
    p = nn.Parameter(numpy.zeros((2, 3), numpy.float32))
    with pytest.raises(tg.OpError, match=r"Tensor\(3,\)"):
        p.grad = tg.ones(3)
    assert p.grad is None


# ------------------------------------------------------------ read-only all the way down
def _arrays_reachable(tensors):
    """Every ndarray reachable from the tensors: data, bases, grads, records' arrays."""
    seen, found, todo = set(), [], list(tensors)
    while todo:
        item = todo.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, numpy.ndarray):
            found.append(item)
            todo.append(item.base)
        elif isinstance(item, tg.Tensor):
            todo += [item.numpy(), item.grad, item.grad_fn]
        elif isinstance(item, tg.Record):
            todo += list(item.out if item.multi else (item.out,)) + list(item.datas)
            todo += [a for a in item.inputs if isinstance(a, (tg.Tensor, numpy.ndarray))]
        elif isinstance(item, (tuple, list)):
            todo += list(item)
    return found


def _graph():
    x = tg.tensor(numpy.arange(12.0).reshape(3, 4), requires_grad=True)
    constant = numpy.arange(4.0)
    view_of_writable = constant[::-1]
    view_of_writable.flags.writeable = False            # read-only, but its base is not
    a = (x * 2.0).reshape(4, 3).T                       # views of an engine array
    b = a * view_of_writable
    c, d = tg.split(b, 2, dim=0)
    loss = (c.sum() + d[0].sum()) * tg.tensor(numpy.ones(2))[0]
    return x, constant, [loss, a, b, c, d]


def test_every_array_reachable_from_tensors_and_records_is_read_only():
    _, constant, outs = _graph()
    arrays = _arrays_reachable(outs)
    assert len(arrays) > 10
    writable = [a for a in arrays if a.flags.writeable]
    assert not writable, [a.shape for a in writable]
    assert constant.flags.writeable                     # the caller's array stays theirs


def test_writing_through_numpy_base_or_grad_fn_out_cannot_change_a_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3.0).reshape(2, 1)
    for target in (h.numpy().base, h.grad_fn.out, h.grad_fn.inputs[0].grad_fn.out):
        with pytest.raises(ValueError, match="read-only"):
            target[0] = 100.0
    (h * h).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [18.0, 36.0])


def test_records_on_an_explicit_tape_are_read_only():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.Tape() as tape:
        y = (x * 2.0).reshape(1, 2)
    for rec in tape:
        assert not any(a.flags.writeable for a in _arrays_reachable([rec]))
    assert y.shape == (1, 2)


def test_from_numpy_keeps_sharing_with_the_owner():
    owner = numpy.zeros(3)
    t = tg.from_numpy(owner)
    assert not t.numpy().flags.writeable
    owner[0] = 5.0                                       # documented: the owner may write
    assert t.numpy()[0] == 5.0 and owner.flags.writeable


# ------------------------------------------------------------ the per-use ledger
def test_the_ledger_stays_bounded_over_many_accumulating_backward_passes(monkeypatch):
    monkeypatch.setattr(ledger, "MAX_ENTRIES", 10)
    w = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True)
    lengths = []
    for k in range(30):
        loss = (w * w).sum() + (w * float(k)).sum()     # three uses of w per pass
        loss.backward(keep_contributions=True)
        lengths.append(len(tg.contributions(w)))
    assert max(lengths) <= 10 + 3 and lengths[:3] == [3, 6, 9]
    terms = tg.contributions(w)
    assert terms[0].op == "earlier backward passes"
    numpy.testing.assert_allclose(sum(t.value for t in terms), w.grad.data, rtol=1e-12)
    earlier = w.grad.data - sum(t.value for t in terms[1:])
    assert terms[0].norm == pytest.approx(float(numpy.linalg.norm(earlier)), rel=1e-12)


def test_a_fresh_grad_restarts_the_bounded_ledger():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (w * 2.0).sum().backward()
    w.grad = None
    (w * 2.0).sum().backward()
    assert [t.op for t in tg.contributions(w)] == ["mul"]
