"""Errors a user can hit name the operation, the shapes (and dtypes) and the user's line.

Each case is one line of user code (a lambda below); the error must name that
line of this file, say what went wrong in tapegrad's terms, and not drag a raw
NumPy traceback along (no chained exception).
"""
import os
import traceback

import numpy
import pytest

import tapegrad as tg

F32, F64 = numpy.float32, numpy.float64


def t(shape, dtype=F64, requires_grad=True):
    return tg.tensor(numpy.ones(shape, dtype=dtype), requires_grad=requires_grad)


@tg.primitive
def user_outer(x, y):
    return numpy.outer(x, y).reshape(x.shape[0], -1, 2)


CASES = {
    "split_sizes sizes": (lambda: tg.split_sizes(t((2, 5)), sizes=(2, 2), axis=1),
                    ["split_sizes", "add up to 4", "(2, 5)", "float64"]),
    "matmul inner dims": (lambda: t((3, 4)) @ t((5, 2)),
                          ["matmul", "(3, 4)", "(5, 2)", "float64", "transpose"]),
    "matmul batch dims": (lambda: t((2, 3, 4)) @ t((5, 4, 2)),
                          ["matmul", "(2, 3, 4)", "(5, 4, 2)", "batch"]),
    "matmul scalar": (lambda: tg.matmul(t(()), t((3,))), ["matmul", "()", "(3,)", "*"]),
    "addmm inner dims": (lambda: tg.addmm(t((2,)), t((3, 4)), t((5, 2))),
                         ["addmm", "(3, 4)", "(5, 2)", "transpose"]),
    "addmm term shape": (lambda: tg.addmm(t((4, 2)), t((3, 4)), t((4, 2))),
                         ["addmm", "(4, 2)", "(3, 2)", "broadcasts"]),
    "addmm vectors": (lambda: tg.addmm(t((2,)), t((4,)), t((4, 2))),
                      ["addmm", "(4,)", "two matrices", "matmul(a, b)"]),
    "add broadcast": (lambda: t((3, 4)) + t((5, 2)), ["add", "(3, 4)", "(5, 2)", "float64",
                                                      "broadcast"]),
    "mul broadcast mixed dtypes": (lambda: t((2, 3), F32) * t((3, 2)),
                                   ["mul", "(2, 3) float32", "(3, 2) float64"]),
    "where broadcast": (lambda: tg.where(t((3,)) > 0, t((3,)), t((4,))),
                        ["where", "(3,) bool", "(4,) float64"]),
    "reshape count": (lambda: t((3, 4)).reshape(5, 5), ["reshape", "(3, 4)", "(5, 5)", "12"]),
    "broadcast_to": (lambda: t((3, 4)).broadcast_to((2, 4)), ["broadcast_to", "(3, 4)",
                                                               "(2, 4)"]),
    "getitem out of range": (lambda: t((3, 4))[5], ["getitem", "index 5", "(3, 4)"]),
    "cat shapes": (lambda: tg.cat([t((3, 4)), t((5, 2))]), ["cat", "(3, 4)", "(5, 2)"]),
    "stack shapes": (lambda: tg.stack([t((3,)), t((4,))]), ["stack", "(3,)", "(4,)"]),
    "split sizes": (lambda: tg.split(t((3, 4)), [1, 1]), ["split", "[1, 1]", "(3, 4)"]),
    "repeated dim": (lambda: t((3, 4)).sum(dim=(0, 0)), ["sum", "(0, 0)", "repeats"]),
    "int requires_grad": (lambda: tg.tensor([1, 2], requires_grad=True),
                          ["requires_grad", "int64", "(2,)", "floating-point"]),
    "bool requires_grad": (lambda: t((2,), numpy.bool_, False).requires_grad_(),
                           ["requires_grad", "bool", "(2,)"]),
    "backward non-scalar": (lambda: (t((3,)) * 2.0).backward(),
                            ["backward", "(3,)", "gradient=", ".sum()"]),
    "backward gradient shape": (lambda: (t((3,)) * 2.0).backward(gradient=numpy.ones(2)),
                                ["backward", "(2,)", "(3,)"]),
    "backward without grad": (lambda: (t((3,), requires_grad=False) * 2.0).sum().backward(),
                              ["backward", "does not require grad", "requires_grad=True"]),
    "grad unused input": (lambda: tg.grad((t((2,)) * 2.0).sum(), [t((3,))]),
                          ["grad", "input 0", "(3,)", "allow_unused=True"]),
    "grad input without grad": (lambda: tg.grad(t((2,)).sum(), [t((2,), requires_grad=False)]),
                                ["grad", "input 0", "requires_grad=True"]),
    "item of many": (lambda: t((3, 4)).item(), ["item", "12 elements", "(3, 4)"]),
    "truth value": (lambda: bool(t((3, 4)) > 0), ["truth value", "12 elements", ".any()"]),
    "non-numeric data": (lambda: tg.tensor([object()]), ["tensor", "object"]),
    "string data": (lambda: tg.tensor(["a", "b"]), ["tensor", "<U1", "(2,)"]),
    "ragged data": (lambda: tg.tensor([[1.0, 2.0], [3.0]]), ["tensor", "inhomogeneous"]),
    "unknown dtype": (lambda: tg.tensor([1.0], dtype="nonsense"), ["tensor", "nonsense"]),
    "user primitive forward": (lambda: user_outer(t((3,)), t((5,))),
                               ["user_outer", "(3,) float64", "(5,) float64"]),
    "chunk count": (lambda: tg.chunk(t((4,)), 0), ["chunk", "positive", "got 0", "(4,)"]),
    "flatten dims order": (lambda: t((2, 3, 4)).flatten(2, 0),
                           ["flatten", "start_dim 2", "end_dim 0", "(2, 3, 4)"]),
    "argmax of nothing": (lambda: tg.argmax(t((0,))), ["argmax: ", "empty", "(0,) float64"]),
    "setitem out of range": (lambda: tg.zeros(3).__setitem__(5, 1.0),
                             ["__setitem__", "index 5", "(3,) float32"]),
    "grad_outputs shape": (lambda: tg.grad(t((2,)) * 2.0, [], [t((3,))], create_graph=True),
                           ["grad: gradient has shape (3,)", "output has shape (2,)"]),
}

BAD_AXIS = {
    "sum dim": (lambda: t((3, 4)).sum(dim=2), ["sum", "dim 2", "(3, 4)", "float64"]),
    "softmax dim": (lambda: t((3, 4)).softmax(dim=-3), ["softmax", "-3", "(3, 4)", "float64"]),
    "transpose dim": (lambda: t((3, 4)).transpose(0, 5), ["5", "(3, 4)", "float64"]),
}


def failing_line(exc):
    """``test_errors.py:N`` of the innermost frame of this file in the traceback."""
    here = os.path.abspath(__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) == here]
    return f"{os.path.basename(here)}:{frames[-1].lineno}"


def check(case, fragments):
    with pytest.raises(tg.TapegradError) as info:
        case()
    exc = info.value
    message = str(exc)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"
    assert failing_line(exc) in message, f"the user's line is missing from:\n{message}"
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), \
        "a raw NumPy exception is chained onto the error"
    return exc


@pytest.mark.parametrize("name", CASES)
def test_error_names_the_operation_shapes_and_the_users_line(name):
    check(*CASES[name])


@pytest.mark.parametrize("name", BAD_AXIS)
def test_bad_axis_names_the_operation_the_dim_and_the_valid_range(name):
    case, fragments = BAD_AXIS[name]
    exc = check(case, fragments[:2] if name != "transpose dim" else fragments[:1])
    assert "out of range" in str(exc) and "valid dims are -2..1" in str(exc)


@pytest.mark.parametrize("name", BAD_AXIS)
def test_bad_axis_names_the_shape_and_dtype(name):
    check(*BAD_AXIS[name])


def test_errors_are_value_errors_or_runtime_errors_users_can_catch():
    assert issubclass(tg.OpError, ValueError)
    assert issubclass(tg.BackwardError, RuntimeError)
    assert issubclass(tg.InPlaceError, RuntimeError)
    assert issubclass(tg.PrimitiveBugError, RuntimeError)
    for cls in (tg.OpError, tg.BackwardError, tg.InPlaceError, tg.PrimitiveBugError,
                tg.AnomalyError):
        assert issubclass(cls, tg.TapegradError)


def test_an_error_inside_a_user_function_names_the_line_in_that_function():
    def layer(x, w):
        return x @ w                                     # the line to be named

    with pytest.raises(tg.OpError) as info:
        layer(t((2, 3)), t((2, 3)))
    line = layer.__code__.co_firstlineno + 1
    assert f"test_errors.py:{line}" in str(info.value)


def test_a_numpy_ufunc_applied_to_a_tensor_says_which_tapegrad_function_to_use():
    check(lambda: numpy.exp(t((2,))), ["exp", "tapegrad.exp", "(2,)"])
    check(lambda: numpy.log1p(t((2,))), ["log1p", "tapegrad.log1p"])
    check(lambda: numpy.cbrt(t((2,))), ["cbrt", "tapegrad has no cbrt"])


@pytest.mark.parametrize("call, fix", [
    (lambda x: numpy.sum(x), "tapegrad.sum"),
    (lambda x: numpy.where(x > 0, x, 0.0), "tapegrad.where"),
    (lambda x: numpy.stack([x, x]), "tapegrad.stack"),
])
def test_a_numpy_function_applied_to_a_tensor_says_which_tapegrad_function_to_use(call, fix):
    check(lambda: call(t((2,))), [fix, "drop the tape"])


def test_an_array_on_the_left_of_an_operator_still_records_the_operation():
    x = t((2,))
    y = numpy.array([2.0, 3.0]) * x + numpy.array([1.0, 1.0])
    assert y.requires_grad
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])
