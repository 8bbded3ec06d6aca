"""Module, Parameter, Sequential, ModuleList: registration, names, modes, state dicts, scopes."""
import pathlib

import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg


class Tagger(nn.Module):
    """Embedding -> LSTM -> Linear: a small model with nested parameter names."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 3)
        self.lstm = nn.LSTM(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, ids):
        out, _ = self.lstm(self.embed(ids))
        return self.head(out)


def test_parameter_is_a_leaf_that_requires_grad():
    p = nn.Parameter(numpy.ones((2, 3)))
    assert p.is_leaf and p.requires_grad and p.dtype == numpy.float64
    assert isinstance(p, tg.Tensor)
    y = (p * 2.0).sum()
    assert not isinstance(y, nn.Parameter)
    y.backward()
    numpy.testing.assert_array_equal(p.grad.numpy(), numpy.full((2, 3), 2.0))
    assert repr(p).startswith("Parameter containing:")


def test_named_parameters_follow_attribute_paths_and_set_names():
    m = Tagger()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["embed.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0",
                     "lstm.bias_ih_l0", "lstm.bias_hh_l0", "head.weight", "head.bias"]
    assert [p.name for p in m.parameters()] == names
    assert m.lstm.weight_ih_l0.name == "lstm.weight_ih_l0"


def test_names_are_full_paths_without_calling_named_parameters():
    outer = nn.Sequential(Tagger())
    assert outer[0].lstm.weight_hh_l0.name == "0.lstm.weight_hh_l0"
    # asking a submodule for its parameters does not shorten the names
    list(outer[0].lstm.named_parameters())
    assert outer[0].lstm.weight_hh_l0.name == "0.lstm.weight_hh_l0"


def test_shared_parameter_is_listed_once():
    a = nn.Linear(2, 2)
    b = nn.Linear(2, 2)
    b.weight = a.weight
    model = nn.Sequential(a, b)
    assert len(list(model.parameters())) == 3


def test_children_modules_and_sequential_order():
    m = Tagger()
    assert [n for n, _ in m.named_children()] == ["embed", "lstm", "head"]
    assert list(m.children()) == [m.embed, m.lstm, m.head]
    assert list(m.lstm.children()) == []
    assert [type(x).__name__ for x in m.modules()] == ["Tagger", "Embedding", "LSTM", "Linear"]
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.Tanh)
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2
    assert [n for n, _ in tail.named_parameters()] == ["2.weight", "2.bias"]
    assert seq[2].weight.name == "2.weight"
    x = tg.randn(4, 2)
    expected = seq[2](tg.tanh(seq[0](x)))
    numpy.testing.assert_array_equal(seq(x).numpy(), expected.numpy())


def test_module_list_registers_and_keeps_order():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4
    assert [n for n, _ in layers.named_parameters()][-2:] == ["3.weight", "3.bias"]
    replacement = nn.Linear(2, 2)
    layers[1] = replacement
    assert layers[1] is replacement and list(layers._modules) == ["0", "1", "2", "3"]


def test_slices_leave_the_names_and_scopes_of_the_original_alone():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
            self.seq = nn.Sequential(nn.Linear(2, 2), nn.Tanh())

    net = Net()
    tail, head = net.blocks[1:], net.seq[:1]
    assert [n for n, _ in tail.named_parameters()] == ["0.weight", "0.bias"]   # PyTorch's keys
    assert [n for n, _ in head.named_parameters()] == ["0.weight", "0.bias"]
    assert net.blocks[1].weight.name == "blocks.1.weight"
    assert net.seq[0].weight.name == "seq.0.weight"
    with tg.Tape() as tape:
        net.blocks[1](tg.randn(1, 2))
    assert {r.scope_path for r in tape} == {"1"}
    assert tail[0] is net.blocks[1] and list(tail) == [net.blocks[1]]


def test_train_eval_propagate():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert m.training and m[1].training
    assert m.eval() is m
    assert not m.training and not m[1].training
    m.train()
    assert m[1].training


def test_zero_grad_sets_none_or_zeros_like_pytorch():
    m = nn.Linear(3, 2)
    m(tg.randn(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_state_dict_is_a_copy():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]
    sd["weight"][:] = 0.0
    assert not numpy.all(m.weight.numpy() == 0.0)


def test_load_state_dict_round_trip_keeps_parameter_objects():
    a, b = Tagger(), Tagger()
    w = b.lstm.weight_ih_l0
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.lstm.weight_ih_l0 is w
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        numpy.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_reports_every_problem_by_name_and_loads_nothing():
    m = Tagger()
    before = m.state_dict()
    sd = m.state_dict()
    del sd["head.bias"]
    sd["head.extra"] = numpy.zeros(3)
    sd["lstm.weight_hh_l0"] = numpy.zeros((4, 4), dtype=numpy.float32)
    sd["embed.weight"] = sd["embed.weight"].astype(numpy.float64)
    sd["lstm.bias_ih_l0"] = numpy.zeros(16, dtype=numpy.float32)  # fine: would be loaded
    with pytest.raises(nn.StateDictError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    for fragment in ("Tagger", "nothing was loaded", "missing keys", "'head.bias'",
                     "unexpected keys", "'head.extra'", "shape mismatch for 'lstm.weight_hh_l0'",
                     "(4, 4)", "(16, 4)", "dtype mismatch for 'embed.weight'", "float64",
                     "float32"):
        assert fragment in msg
    for name, value in m.state_dict().items():
        numpy.testing.assert_array_equal(value, before[name])


def test_load_state_dict_not_strict_skips_missing_and_unexpected():
    m = nn.Linear(2, 2)
    bias = m.bias.numpy().copy()
    result = m.load_state_dict({"weight": numpy.zeros((2, 2), numpy.float32),
                                "other": numpy.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert numpy.all(m.weight.numpy() == 0) and numpy.all(m.bias.numpy() == bias)


def test_load_state_dict_not_strict_still_refuses_shape_and_dtype_mismatches():
    m = nn.Linear(2, 2)
    before = m.state_dict()
    for bad, match in [(numpy.zeros((3, 2), numpy.float32), r"shape mismatch for 'weight'"),
                       (numpy.zeros((2, 2), numpy.float64), r"dtype mismatch for 'weight'")]:
        with pytest.raises(nn.StateDictError, match=match):
            m.load_state_dict({"weight": bad, "bias": numpy.ones(2, numpy.float32)},
                              strict=False)
        numpy.testing.assert_array_equal(m.bias.numpy(), before["bias"])


def test_load_state_dict_accepts_tensors_and_leaves_no_graph():
    m = nn.Linear(2, 2)
    src = tg.tensor(numpy.ones((2, 2), numpy.float32), requires_grad=True)
    m.load_state_dict({"weight": src, "bias": tg.zeros(2)})
    assert m.weight.is_leaf and m.weight.requires_grad
    assert numpy.all(m.weight.numpy() == 1.0)


def test_to_double_and_float_keep_objects_names_and_grads():
    m = Tagger()
    p = m.head.weight
    m(tg.tensor([[1, 2]])).sum().backward()
    assert m.double() is m
    assert p is m.head.weight and p.dtype == numpy.float64 and p.name == "head.weight"
    assert p.grad.dtype == numpy.float64
    assert all(q.dtype == numpy.float64 for q in m.parameters())
    m.float()
    assert all(q.dtype == numpy.float32 for q in m.parameters())
    with pytest.raises(tg.OpError, match="floating point"):
        m.to(numpy.int64)


def test_repr_is_nested_like_pytorch():
    text = repr(Tagger())
    assert text == ("Tagger(\n"
                    "  (embed): Embedding(7, 3)\n"
                    "  (lstm): LSTM(3, 4)\n"
                    "  (head): Linear(in_features=4, out_features=2, bias=True)\n"
                    ")")
    assert repr(nn.Sequential(nn.Sequential(nn.ReLU()))) == (
        "Sequential(\n  (0): Sequential(\n    (0): ReLU()\n  )\n)")


def test_records_carry_the_module_path():
    m = Tagger()
    with tg.Tape() as tape:
        m(tg.tensor([[1], [2]]))
    paths = {r.scope_path for r in tape.records}
    assert "tagger/embed" in paths
    assert "tagger/head" in paths
    assert "tagger/lstm/l0[t=2]" in paths
    steps = {r.step for r in tape.records if r.scope_path.startswith("tagger/lstm/l0[")}
    assert steps == {1, 2}


def test_assigning_a_plain_tensor_over_a_parameter_is_refused():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="nn.Parameter"):
        m.weight = tg.zeros(2, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]


def test_forgetting_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(numpy.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_missing_forward_is_explained():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_requires_grad_false_freezes():
    m = nn.Linear(2, 2).requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_visits_children_then_parent():
    seen = []
    nn.Sequential(nn.Linear(1, 1), nn.Tanh()).apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Tanh", "Sequential"]


def test_tapegrad_nn_alias_is_the_same_package():
    import tapegrad.nn as tnn
    import tapegrad.nn.functional as tF
    assert tnn is nn and tnn.LSTM is nn.LSTM and tF is nn.functional


def test_nn_has_no_hand_written_backward():
    """BPTT must come from the tape: no module under nn/ defines a primitive or a vjp, except
    gradient checkpointing, whose vjp re-runs the forward and calls tapegrad.grad."""
    root = pathlib.Path(nn.__file__).parent
    allowed = {root / "utils" / "checkpoint.py"}
    offenders = [str(f.relative_to(root)) for f in sorted(root.rglob("*.py"))
                 if f not in allowed and any(word in f.read_text()
                                             for word in ("defvjp", "primitive(", "vjp"))]
    assert offenders == []


def test_sequential_gradcheck_through_nested_names(check_module):
    model = nn.Sequential(nn.Linear(3, 4, dtype=tg.float64), nn.Tanh(),
                          nn.Sequential(nn.LayerNorm(4, dtype=tg.float64),
                                        nn.Linear(4, 2, dtype=tg.float64)))
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.0.weight", "2.0.bias", "2.1.weight", "2.1.bias"]
    x = tg.tensor(numpy.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    check_module(model, model, x)
