"""The tape: an ordered Wengert list of records, printed, differentiated and scoped."""
import re

import numpy
import pytest
from sites import next_line_site

import tapegrad as tg


def leaf(shape, seed=0):
    return tg.tensor(numpy.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_records_are_kept_in_execution_order_with_consecutive_indices():
    x, w = leaf((4, 3)), leaf((4, 3), seed=1)
    with tg.Tape() as tape:
        a = x * w
        b = tg.tanh(a)
        c = b + x
        loss = c.sum()
    assert [r.op.name for r in tape] == ["mul", "tanh", "add", "reduce_sum"]
    indices = [r.index for r in tape]
    assert indices == list(range(indices[0], indices[0] + 4))
    assert len(tape) == 4 and tape[1] is b.grad_fn and list(tape)[-1] is loss.grad_fn


def test_each_record_refers_to_earlier_records_only():
    x = leaf((3,))
    with tg.Tape() as tape:
        h = x
        for _ in range(5):
            h = tg.sin(h) * h + x
    position = {id(r): i for i, r in enumerate(tape)}
    for i, rec in enumerate(tape):
        for a in rec.inputs:
            if isinstance(a, tg.Tensor) and a.grad_fn is not None:
                assert position[id(a.grad_fn)] < i


def test_a_record_holds_op_inputs_outputs_params_and_site():
    x, w = leaf((4, 3)), leaf((3, 2), seed=1)
    with tg.Tape() as tape:
        site_mm = next_line_site()
        y = x @ w
        site_sum = next_line_site()
        s = y.sum(dim=1, keepdim=True)
    mm, red = tape
    assert mm.op.name == "matmul" and mm.inputs[0] is x and mm.inputs[1] is w
    assert [i.shape for i in mm.inputs] == [(4, 3), (3, 2)] and mm.out.shape == (4, 2)
    assert mm.site == site_mm and mm.filename == __file__
    assert mm.line == int(site_mm.rsplit(":", 1)[1])
    assert red.op.name == "reduce_sum" and red.inputs[0] is y
    assert red.params == {"axis": (1,), "keepdims": True} and red.out.shape == (4, 1)
    assert red.site == site_sum and red.scope_path == "" and red.step is None
    assert s.grad_fn is red and not red.released


def test_records_made_inside_tapegrad_functions_point_at_the_users_line():
    x = leaf((2, 3))
    with tg.Tape() as tape:
        site = next_line_site()
        y = tg.log_softmax(x, dim=1).mean()
    assert len(tape) > 2 and tape[-1] is y.grad_fn  # composites record several primitives
    assert {r.site for r in tape} == {site}


def test_only_operations_that_need_a_gradient_are_recorded():
    x = leaf((3,))
    c = tg.tensor(numpy.ones(3))
    with tg.Tape() as tape:
        c2 = c * 2.0                            # no input requires grad
        with tg.no_grad():
            x * 2.0                             # recording is off
        x > 0.0                                 # bool result: no gradient
        y = x * c2
    assert [r.op.name for r in tape] == ["mul"] and tape[0] is y.grad_fn


def test_records_made_outside_the_block_are_not_on_the_tape():
    x = leaf((2,))
    before = x * 2.0
    with tg.Tape() as tape:
        inside = before + 1.0
    after = inside * 3.0
    assert list(tape) == [inside.grad_fn]
    assert after.grad_fn not in list(tape)


def test_nested_tapes_both_record():
    x = leaf((2,))
    with tg.Tape() as outer:
        a = x * 2.0
        with tg.Tape() as inner:
            b = a + 1.0
        c = b * b
    assert list(outer) == [a.grad_fn, b.grad_fn, c.grad_fn]
    assert list(inner) == [b.grad_fn]


# --- scopes ------------------------------------------------------------------------------
def test_scopes_nest_and_stamp_the_records_made_inside():
    x = leaf((3,))
    with tg.Tape() as tape:
        y = x * 1.0
        with tg.scope("rnn"):
            z = y + 1.0
            for t in range(2):
                with tg.scope("cell", step=t):
                    z = tg.tanh(z)
            w = z * 2.0
        v = w.sum()
    paths = [r.scope_path for r in tape]
    assert paths == ["", "rnn", "rnn/cell[t=0]", "rnn/cell[t=1]", "rnn", ""]
    assert [r.step for r in tape] == [None, None, 0, 1, None, None]
    frames = tape[3].scope
    assert [(f.name, f.step) for f in frames] == [("rnn", None), ("cell", 1)]
    assert v.grad_fn.scope == ()


def test_scope_is_restored_after_an_exception():
    x = leaf((2,))
    with pytest.raises(RuntimeError):
        with tg.scope("broken", step=3):
            raise RuntimeError("inside")
    with tg.Tape() as tape:
        x * 2.0
    assert tape[0].scope_path == ""


# --- print(tape) ---------------------------------------------------------------------------
LINE = re.compile(r"^(?P<lhs>v\d+(, v\d+)*) = (?P<op>\w+)\((?P<args>.*?)\)\s+"
                  r"(?P<shape>\(.*?\)|\d+ outputs)\s+(?P<dtype>\w+)\s+(?P<site>\S+\.py:\d+)"
                  r"(\s+(?P<scope>\S+))?$")


def parse(text):
    """The Wengert list as (lhs names, op, argument names, shape, dtype, site, scope)."""
    header, body = [], []
    for line in text.splitlines():
        if " = input " in line:
            header.append(line)
            continue
        m = LINE.match(line)
        assert m, f"unreadable tape line: {line!r}"
        body.append(m.groupdict())
    return header, body


def test_print_shows_a_wengert_list_with_shapes_dtypes_sites_and_scopes():
    x = tg.tensor(numpy.ones((4, 3)), requires_grad=True)
    w = tg.tensor(numpy.ones((4, 3)), requires_grad=True)
    with tg.Tape() as tape:
        with tg.scope("layer", step=2):
            site_mul = next_line_site()
            y = x * w
        site_add = next_line_site()
        z = y + x
    header, body = parse(str(tape))
    assert header == ["v0 = input (4, 3) float64 requires_grad",
                      "v1 = input (4, 3) float64 requires_grad"]
    mul, add = body
    assert (mul["lhs"], mul["op"], mul["args"]) == ("v2", "mul", "v0, v1")
    assert (mul["shape"], mul["dtype"], mul["site"]) == ("(4, 3)", "float64", site_mul)
    assert mul["scope"] == "layer[t=2]"
    assert (add["lhs"], add["op"], add["args"]) == ("v3", "add", "v2, v0")
    assert (add["site"], add["scope"]) == (site_add, None)
    assert z.shape == (4, 3)


def test_print_names_reused_values_consistently_and_shows_constants_and_params():
    x = tg.tensor(numpy.ones(3), requires_grad=True)
    x.name = "x"
    with tg.Tape() as tape:
        a = x * 2.0
        b = a * a
        c = b.sum(dim=0)
    header, body = parse(str(tape))
    assert header == ["v0 = input (3,) float64 requires_grad  (x)"]
    assert [(r["lhs"], r["op"]) for r in body] == [("v1", "mul"), ("v2", "mul"),
                                                  ("v3", "reduce_sum")]
    assert body[0]["args"] == "v0, 2.0"
    assert body[1]["args"] == "v1, v1"
    assert body[2]["args"] == "v2, axis=(0,), keepdims=False" and body[2]["shape"] == "()"
    assert c.shape == ()


def test_print_shows_multi_output_records_and_their_later_uses():
    x = tg.tensor(numpy.arange(6.0), requires_grad=True)
    with tg.Tape() as tape:
        p, q, r = tg.split(x, 2)
        y = r * q
    _, body = parse(str(tape))
    assert (body[0]["lhs"], body[0]["op"], body[0]["shape"]) == ("v1, v2, v3", "split_sizes",
                                                                 "3 outputs")
    assert (body[1]["op"], body[1]["args"]) == ("mul", "v3, v2")
    assert p.shape == y.shape


def test_print_marks_records_released_by_backward():
    x = tg.tensor(numpy.ones(2), requires_grad=True)
    with tg.Tape() as tape:
        site = next_line_site()
        loss = (x * 3.0).sum()
    loss.backward()
    lines = str(tape).splitlines()
    assert all("released by backward" in line and site in line for line in lines)
    assert lines[0].startswith(f"#{tape[0].index} mul")
    assert tape[0].released and tape[1].released


def test_print_defines_every_name_even_after_a_partial_release():
    x = tg.tensor(numpy.ones(2), requires_grad=True)
    with tg.Tape() as tape:
        h = tg.sin(x)
        s = h.sum()
        y = h * 2.0
    s.backward()                                    # releases sin and reduce_sum, not mul
    text = str(tape)
    header = [line for line in text.splitlines() if " = input " in line]
    assert header == [f"v0 = input (2,) float64 requires_grad  (made by released "
                      f"#{h.grad_fn.index} sin)"]
    assert re.search(r"^v1 = mul\(v0, 2\.0\)", text, re.M) and y.shape == (2,)


# --- tape.gradient -------------------------------------------------------------------------
def test_tape_gradient_matches_backward_and_leaves_grad_alone():
    x, w = leaf((3,)), leaf((2, 3), seed=1)
    with tg.Tape() as tape:
        loss = (tg.tanh(w @ x) ** 2).sum()
    gx, gw = tape.gradient(loss, [x, w])
    assert x.grad is None and w.grad is None
    single = tape.gradient(loss, w)
    assert isinstance(single, tg.Tensor)
    loss.backward()
    numpy.testing.assert_allclose(gx.numpy(), x.grad.numpy(), rtol=1e-14)
    numpy.testing.assert_allclose(gw.numpy(), w.grad.numpy(), rtol=1e-14)
    numpy.testing.assert_array_equal(single.numpy(), gw.numpy())


def test_tape_gradient_gives_none_for_an_unused_source_and_takes_a_tuple():
    x, unused = leaf((3,)), leaf((2,), seed=1)
    with tg.Tape() as tape:
        y = (x * x).sum()
    gx, gu = tape.gradient(y, (x, unused))
    numpy.testing.assert_allclose(gx.numpy(), 2 * x.numpy())
    assert gu is None


def test_tape_gradient_takes_an_output_gradient_for_a_non_scalar_target():
    x = leaf((3,))
    with tg.Tape() as tape:
        y = x * x
    v = numpy.array([1.0, -2.0, 0.5])
    g = tape.gradient(y, x, output_gradient=v)
    numpy.testing.assert_allclose(g.numpy(), 2 * x.numpy() * v)


def test_tape_gradient_with_respect_to_an_intermediate():
    x = leaf((3,))
    with tg.Tape() as tape:
        h = x * 2.0
        y = (h * h).sum()
    numpy.testing.assert_allclose(tape.gradient(y, h).numpy(), 2 * h.numpy())


def test_tape_gradient_rejects_a_target_computed_outside_the_tape():
    x = leaf((3,))
    with tg.Tape() as tape:
        h = x * 2.0
    outside = h.sum()
    with pytest.raises(tg.OpError, match="reduce_sum.*not on this tape"):
        tape.gradient(outside, x)
