"""In-place changes: refused while recording, allowed under no_grad, detected by backward."""
import numpy
import pytest
from sites import next_line_site

import tapegrad as tg

F64 = numpy.float64

IN_PLACE = {
    "+=": lambda t: t.__iadd__(1.0),
    "-=": lambda t: t.__isub__(1.0),
    "*=": lambda t: t.__imul__(2.0),
    "/=": lambda t: t.__itruediv__(2.0),
    "add_": lambda t: t.add_(1.0),
    "sub_": lambda t: t.sub_(1.0),
    "mul_": lambda t: t.mul_(2.0),
    "div_": lambda t: t.div_(2.0),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(3.0),
    "copy_": lambda t: t.copy_(tg.tensor(numpy.full(3, 9.0))),
    "setitem": lambda t: t.__setitem__(0, 5.0),
}


def leaf(values):
    return tg.tensor(numpy.asarray(values, dtype=F64), requires_grad=True)


@pytest.mark.parametrize("change", IN_PLACE.values(), ids=IN_PLACE.keys())
@pytest.mark.parametrize("target", ["recorded intermediate", "leaf that requires grad"])
def test_in_place_on_a_tensor_the_tape_depends_on_raises_before_touching_memory(change, target):
    x = leaf([1.0, 2.0, 3.0])
    t = x * 2.0 if target == "recorded intermediate" else x
    before, version = t.numpy().copy(), t.version
    with pytest.raises(tg.InPlaceError) as info:
        change(t)
    numpy.testing.assert_array_equal(t.numpy(), before)
    assert t.version == version
    message = str(info.value)
    assert "h = h + x" in message and "no_grad" in message
    assert "test_inplace.py:" in message and "(3,)" in message


def test_the_message_names_the_op_that_made_the_tensor_and_the_line_of_the_change():
    x = leaf([1.0, 2.0])
    made = next_line_site()
    h = tg.tanh(x)
    with pytest.raises(tg.InPlaceError) as info:
        changed = next_line_site()
        h += x
    message = str(info.value)
    assert f"tanh at {made}" in message and f"at {changed}" in message


def test_an_augmented_assignment_that_fails_leaves_the_name_bound_to_the_old_tensor():
    x = leaf([1.0, 2.0])
    h = x * 1.0
    original = h
    with pytest.raises(tg.InPlaceError):
        h *= 2.0
    assert h is original
    h = h * 2.0                                      # the fix the message suggests
    h.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("change", IN_PLACE.values(), ids=IN_PLACE.keys())
def test_under_no_grad_in_place_updates_of_leaves_work_and_bump_the_version(change):
    p = leaf([1.0, 2.0, 3.0])
    expected = p.numpy().copy()
    with tg.no_grad():
        version = p.version
        result = change(p)
    assert result is p or result is None
    assert p.version > version
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert not numpy.array_equal(p.numpy(), expected)
    assert not p.numpy().flags.writeable


def test_an_optimizer_step_under_no_grad_updates_the_parameter():
    p = leaf([1.0, -2.0])
    (p * p).sum().backward()
    held = p.numpy()
    with tg.no_grad():
        p -= 0.25 * p.grad
        p.grad = None
    numpy.testing.assert_array_equal(p.numpy(), [0.5, -1.0])
    numpy.testing.assert_array_equal(held, [1.0, -2.0])   # arrays handed out stay valid
    (p * p).sum().backward()
    numpy.testing.assert_array_equal(p.grad.numpy(), [1.0, -2.0])


def test_versions_only_grow():
    p = leaf([1.0])
    seen = [p.version]
    with tg.no_grad():
        for _ in range(3):
            p.add_(1.0)
            seen.append(p.version)
    assert seen == sorted(set(seen))


def test_in_place_on_a_tensor_that_needs_no_grad_works_while_recording():
    c = tg.tensor(numpy.array([1.0, 2.0]))
    c += 1.0
    c[1] = 7.0
    numpy.testing.assert_array_equal(c.numpy(), [2.0, 7.0])


def test_in_place_keeps_dtype_and_shape():
    p = tg.tensor([1.0, 2.0], requires_grad=True)           # float32
    with tg.no_grad():
        p.add_(tg.tensor(numpy.array([0.5, 0.5])))           # float64 values, cast
    assert p.dtype == numpy.float32
    with pytest.raises(tg.OpError, match="shape"):
        with tg.no_grad():
            p.add_(tg.ones(3))


# --- backward detects a saved tensor changed after recording ---------------------------------
def test_backward_detects_a_parameter_updated_between_forward_and_backward():
    w = leaf([2.0, 3.0])
    site = next_line_site()
    loss = (w * w).sum()
    with tg.no_grad():
        w.mul_(0.5)
    with pytest.raises(tg.BackwardError) as info:
        loss.backward()
    message = str(info.value)
    assert "mul" in message and site in message
    assert "modified in place" in message and "(2,)" in message


def test_backward_detects_a_constant_input_changed_after_recording():
    w = leaf([2.0, 3.0])
    c = tg.tensor(numpy.array([1.0, 1.0]))
    site = next_line_site()
    y = tg.matmul(w, c)
    c.fill_(4.0)
    with pytest.raises(tg.BackwardError, match=f"matmul.*{site}"):
        y.backward()


def test_a_change_before_recording_is_fine():
    w = leaf([2.0, 3.0])
    with tg.no_grad():
        w.mul_(0.5)
    (w * w).sum().backward()
    numpy.testing.assert_array_equal(w.grad.numpy(), [2.0, 3.0])


# --- raw NumPy writes -------------------------------------------------------------------------
@pytest.mark.parametrize("view", [
    lambda t: t.data,
    lambda t: t.numpy(),
    lambda t: numpy.asarray(t),
    lambda t: (t * 2.0).numpy(),
    lambda t: t.detach().numpy(),
])
def test_arrays_handed_out_are_read_only(view):
    x = leaf([1.0, 2.0])
    array = view(x)
    with pytest.raises(ValueError, match="read-only"):
        array[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        array += 1.0


def test_a_saved_value_cannot_be_corrupted_through_numpy():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with pytest.raises(ValueError):
        x.numpy()[:] = 0.0
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_a_user_primitive_cannot_write_into_its_inputs():
    @tg.primitive
    def scribble(x):
        x[0] = 0.0
        return x * 1.0

    x = leaf([1.0, 2.0])
    with pytest.raises(tg.OpError, match="scribble.*read-only"):
        scribble(x)
    numpy.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


# --- NumPy constants: the tape keeps its own copy -------------------------------------------
def test_changing_a_numpy_constant_after_recording_does_not_change_the_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True, dtype=tg.float64)
    a = numpy.array([3.0, 4.0])
    y = (x * a).sum()
    a[0] = 9.0                                  # the caller's array stays writable ...
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])   # ... the tape saw the old one


def test_a_user_primitive_does_not_freeze_the_callers_constant():
    @tg.primitive
    def scaled(x, c):
        return x * c

    @scaled.defvjp
    def _(g, out, x, c):
        return g * c, None

    c = numpy.array([2.0, 2.0])
    x = tg.tensor([1.0, 1.0], requires_grad=True, dtype=tg.float64)
    scaled(x, c).sum().backward()
    assert c.flags.writeable
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_changing_a_numpy_index_after_recording_does_not_move_the_gradient():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=tg.float64)
    idx = numpy.array([0, 0, 2])
    y = x[idx].sum()
    idx[:] = 1
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])
    assert idx.flags.writeable
