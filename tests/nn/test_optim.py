"""Optimizers and schedulers: published update rules worked in NumPy, PyTorch parity in
float64, parameter groups, state dicts (through nn.save/nn.load) and every user error."""

import numpy
import pytest

import tapegrad.nn as nn
import tapegrad as tg
from tapegrad.nn.optim import SGD, Adagrad, Adam, AdamW, OptimizerError, RMSprop
from tapegrad.nn.optim.lr_scheduler import CosineAnnealingLR, StepLR

A = numpy.array([1.0, 2.0, 0.5])
B = numpy.array([0.3, -1.0, 2.0])
P0 = numpy.array([1.0, -0.5, 2.0])


def _grad(p):
    """Gradient of the test loss 0.5 * sum(A p^2) + sum(B p) + 0.1 * sum(p^4)."""
    return A * p + B + 0.4 * p ** 3


def _loss(p):
    return 0.5 * (tg.tensor(A) * p * p).sum() + (tg.tensor(B) * p).sum() + 0.1 * (p ** 4).sum()


def _run(make_opt, steps=3):
    """Parameter values after each of ``steps`` optimizer steps on the test loss."""
    p = tg.tensor(P0, requires_grad=True)
    opt = make_opt([p])
    history = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(p).backward()
        opt.step()
        history.append(numpy.array(p.data))
    return history


def _expected(rule, steps=3):
    """The same run with the update written out in NumPy: ``rule(p, g, t, state) -> p``."""
    p, state, history = P0.copy(), {}, []
    for t in range(1, steps + 1):
        p = rule(p, _grad(p), t, state)
        history.append(p)
    return history


def _assert_runs_equal(ours, expected):
    for k, (a, b) in enumerate(zip(ours, expected)):
        numpy.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14, err_msg=f"step {k + 1}")


# ------------------------------------------------------ worked examples (NumPy)
def test_sgd_momentum_worked_by_hand():
    """f = p^2 / 2, p0 = 1, lr 0.1, momentum 0.9: b = 1, 1.8, 2.34; p = 0.9, 0.72, 0.486."""
    p = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    values = []
    for _ in range(3):
        opt.zero_grad()
        (0.5 * p * p).sum().backward()
        opt.step()
        values.append(p.item())
    numpy.testing.assert_allclose(values, [0.9, 0.72, 0.486], rtol=1e-15)
    numpy.testing.assert_allclose(opt.state[p]["momentum_buffer"], [2.34], rtol=1e-15)


@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [
    (0.0, 0.0, False, 0.0), (0.9, 0.0, False, 0.0), (0.9, 0.3, False, 0.1),
    (0.9, 0.0, True, 0.0), (0.5, 0.0, True, 0.2)])
def test_sgd_update_rule(momentum, dampening, nesterov, wd):
    lr = 0.05

    def rule(p, g, t, s):
        g = g + wd * p
        if momentum:
            s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
            g = g + momentum * s["b"] if nesterov else s["b"]
        return p - lr * g

    ours = _run(lambda ps: SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                               weight_decay=wd, nesterov=nesterov))
    _assert_runs_equal(ours, _expected(rule))


def _adam_rule(lr, b1, b2, eps, wd, amsgrad, decoupled):
    """Kingma & Ba's Adam with bias-corrected moments (m_hat, v_hat), as in the paper."""
    def rule(p, g, t, s):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        v = s["v"]
        if amsgrad:
            v = s["vmax"] = numpy.maximum(s.get("vmax", 0.0), v)
        m_hat = s["m"] / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        return p - lr * m_hat / (numpy.sqrt(v_hat) + eps)
    return rule


@pytest.mark.parametrize("wd,amsgrad", [(0.0, False), (0.1, False), (0.0, True), (0.1, True)])
def test_adam_update_rule(wd, amsgrad):
    ours = _run(lambda ps: Adam(ps, lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=wd,
                                amsgrad=amsgrad))
    _assert_runs_equal(ours, _expected(_adam_rule(0.1, 0.8, 0.9, 1e-3, wd, amsgrad, False)))


def test_amsgrad_keeps_the_largest_second_moment():
    """A gradient that shrinks: AMSGrad's denominator must not shrink with it."""
    p = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    opt = Adam([p], lr=0.1, betas=(0.9, 0.5), amsgrad=True)
    seen = []
    for scale in (10.0, 1.0, 0.1):
        opt.zero_grad()
        (scale * p).sum().backward()
        opt.step()
        seen.append((opt.state[p]["exp_avg_sq"][0], opt.state[p]["max_exp_avg_sq"][0]))
    assert seen[2][0] < seen[0][0]
    assert seen[0][1] == seen[1][1] == seen[2][1] == seen[0][0]


@pytest.mark.parametrize("wd,amsgrad", [(0.01, False), (0.3, True)])
def test_adamw_update_rule_decouples_the_decay(wd, amsgrad):
    ours = _run(lambda ps: AdamW(ps, lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=wd,
                                 amsgrad=amsgrad))
    _assert_runs_equal(ours, _expected(_adam_rule(0.1, 0.8, 0.9, 1e-3, wd, amsgrad, True)))
    adam = _run(lambda ps: Adam(ps, lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=wd,
                                amsgrad=amsgrad))
    assert not numpy.allclose(ours[-1], adam[-1])


@pytest.mark.parametrize("lr_decay,wd,init", [(0.0, 0.0, 0.0), (0.1, 0.05, 0.2)])
def test_adagrad_update_rule(lr_decay, wd, init):
    lr, eps = 0.5, 1e-10

    def rule(p, g, t, s):
        g = g + wd * p
        s["sum"] = s.get("sum", init) + g * g
        return p - lr / (1 + (t - 1) * lr_decay) * g / (numpy.sqrt(s["sum"]) + eps)

    ours = _run(lambda ps: Adagrad(ps, lr=lr, lr_decay=lr_decay, weight_decay=wd,
                                   initial_accumulator_value=init, eps=eps))
    _assert_runs_equal(ours, _expected(rule))


@pytest.mark.parametrize("centered,momentum,wd", [
    (False, 0.0, 0.0), (True, 0.0, 0.0), (False, 0.9, 0.0), (True, 0.5, 0.1)])
def test_rmsprop_update_rule(centered, momentum, wd):
    lr, alpha, eps = 0.01, 0.9, 1e-8

    def rule(p, g, t, s):
        g = g + wd * p
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
        if centered:
            s["gbar"] = alpha * s.get("gbar", 0.0) + (1 - alpha) * g
            denom = numpy.sqrt(s["v"] - s["gbar"] ** 2) + eps
        else:
            denom = numpy.sqrt(s["v"]) + eps
        if momentum:
            s["b"] = momentum * s.get("b", 0.0) + g / denom
            return p - lr * s["b"]
        return p - lr * g / denom

    ours = _run(lambda ps: RMSprop(ps, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                                   momentum=momentum, centered=centered))
    _assert_runs_equal(ours, _expected(rule))


# ------------------------------------------------------------ PyTorch parity
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.3)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in
                                                      enumerate(CONFIGS)])
def test_matches_torch_step_by_step(name, kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; parity needs it")
    rng = numpy.random.default_rng(0)
    w0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    x, y = rng.standard_normal(4), rng.standard_normal(3)
    ours = [tg.tensor(w0, requires_grad=True), tg.tensor(b0, requires_grad=True)]
    theirs = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    opt_ours = getattr(nn.optim, name)(ours, **kwargs)
    opt_theirs = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(6):
        for (w, b), lib, opt, xs, ys in ((ours, tg, opt_ours, tg.tensor(x), tg.tensor(y)),
                                         (theirs, torch, opt_theirs, torch.tensor(x),
                                          torch.tensor(y))):
            opt.zero_grad()
            loss = ((lib.tanh(w @ xs + b) - ys) ** 2).sum() + 0.1 * (w ** 4).sum()
            loss.backward()
            opt.step()
        for a, t in zip(ours, theirs):
            numpy.testing.assert_allclose(a.data, t.detach().numpy(), rtol=1e-12, atol=1e-12,
                                          err_msg=f"{name} {kwargs} step {step + 1}")


@pytest.mark.parametrize("make,kwargs", [(StepLR, dict(step_size=3, gamma=0.5)),
                                         (CosineAnnealingLR, dict(T_max=7, eta_min=0.01))])
def test_schedulers_match_torch(make, kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; parity needs it")
    ours = SGD([tg.tensor([1.0], requires_grad=True)], lr=0.2)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    s_ours = make(ours, **kwargs)
    s_theirs = getattr(torch.optim.lr_scheduler, make.__name__)(theirs, **kwargs)
    for epoch in range(20):
        numpy.testing.assert_allclose(s_ours.get_last_lr(), s_theirs.get_last_lr(),
                                      rtol=1e-12, atol=1e-15, err_msg=f"epoch {epoch}")
        theirs.step()
        s_ours.step()
        s_theirs.step()


# ---------------------------------------------------------------- schedulers
def test_step_lr_values():
    opt = SGD([tg.tensor([1.0], requires_grad=True)], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.1)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    numpy.testing.assert_allclose(lrs, [1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-15)


def test_cosine_annealing_endpoints_and_midpoint():
    opt = SGD([tg.tensor([1.0], requires_grad=True)], lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(10):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[0] == 1.0
    assert lrs[5] == pytest.approx(0.55, abs=1e-15)
    assert lrs[10] == pytest.approx(0.1, abs=1e-15)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


def test_scheduler_state_dict_resumes_the_schedule(tmp_path):
    def make():
        opt = SGD([tg.tensor([1.0], requires_grad=True)], lr=0.3)
        return opt, CosineAnnealingLR(opt, T_max=9, eta_min=0.01)

    opt, sched = make()
    for _ in range(4):
        sched.step()
    nn.save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.npz")
    opt2, sched2 = make()
    loaded = nn.load(tmp_path / "s.npz")
    opt2.load_state_dict(loaded["optim"])
    sched2.load_state_dict(loaded["sched"])
    for _ in range(3):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_scheduler_resume_without_initial_lr_raises():
    opt = SGD([tg.tensor([1.0], requires_grad=True)], lr=0.3)
    with pytest.raises(OptimizerError, match="initial_lr"):
        StepLR(opt, step_size=2, last_epoch=5)


@pytest.mark.parametrize("make", [lambda o: StepLR(o, step_size=0),
                                  lambda o: StepLR(o, step_size=1.5),
                                  lambda o: CosineAnnealingLR(o, T_max=0)])
def test_scheduler_bad_arguments_raise(make):
    with pytest.raises(OptimizerError):
        make(SGD([tg.tensor([1.0], requires_grad=True)], lr=0.3))


# ------------------------------------------------------- groups and behaviour
def test_param_groups_use_their_own_hyperparameters():
    a = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    assert opt.param_groups[1]["momentum"] == 0


def test_parameters_without_grad_are_skipped_and_get_no_state():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([2.0], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    assert b.item() == 2.0 and b not in opt.state and a in opt.state


def test_sgd_default_learning_rate_is_pytorchs():
    a = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    (a * 2.0).sum().backward()
    opt = SGD([a])
    assert opt.defaults["lr"] == 1e-3                      # torch.optim.SGD's since 2.x
    opt.step()
    assert a.item() == 1.0 - 2e-3


def test_zero_grad_sets_none_or_zeros():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([a], lr=0.1)
    (a * a).sum().backward()
    opt.zero_grad(set_to_none=False)
    numpy.testing.assert_array_equal(a.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


def test_step_with_closure_returns_the_loss():
    a = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    opt = SGD([a], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    with tg.no_grad():                     # step re-enables grad for the closure
        loss = opt.step(closure)
    assert loss.item() == 1.0 and a.item() == pytest.approx(0.8)


def test_float32_parameters_stay_float32():
    a = tg.tensor([1.0, 2.0], dtype=tg.float32, requires_grad=True)
    for make in (lambda p: SGD(p, lr=0.1, momentum=0.9), Adam, Adagrad, RMSprop):
        opt = make([a])
        (a * a).sum().backward()
        opt.step()
        opt.zero_grad()
        assert a.dtype == numpy.float32
        assert all(v.dtype == numpy.float32 for v in opt.state[a].values()
                   if isinstance(v, numpy.ndarray))


ALL = [lambda ps: SGD(ps, lr=0.1, momentum=0.9), Adam, AdamW, Adagrad, RMSprop]
ALL_IDS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"]


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_step_updates_the_same_object_in_place_and_records_nothing(make):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    data, version = w.data, w.version
    opt = make([w])
    (w * w).sum().backward()
    with tg.Tape() as tape:
        opt.step()
    assert len(tape) == 0                                # under no_grad
    assert w.is_leaf and w.requires_grad and w.version > version
    assert not numpy.array_equal(w.data, data)


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_a_parameter_updated_between_forward_and_backward_makes_backward_raise(make):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = make([w])
    (w * w).sum().backward()
    loss = (tg.tanh(w) * w).sum()       # forward with the current w
    opt.step()                          # w changes in place (the previous gradient)
    with pytest.raises(tg.BackwardError, match="modified in place"):
        loss.backward()


def test_updating_parameters_outside_no_grad_raises():
    """What optimizers avoid: an in-place update of a leaf that requires grad while recording."""
    w = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(tg.InPlaceError):
        w -= 0.1


# ---------------------------------------------------------------- state dicts
def _model_and_data():
    rng = numpy.random.default_rng(3)
    params = [tg.tensor(rng.standard_normal((2, 3)), requires_grad=True),
              tg.tensor(rng.standard_normal(2), requires_grad=True)]
    x = tg.tensor(rng.standard_normal(3))
    return params, x


def _train(opt, params, x, steps):
    for _ in range(steps):
        opt.zero_grad()
        (tg.sin(params[0] @ x + params[1]) ** 2).sum().backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.01}], amsgrad=True),
    lambda ps: AdamW(ps, lr=0.1), lambda ps: Adagrad(ps, lr_decay=0.1),
    lambda ps: RMSprop(ps, centered=True, momentum=0.5)])
def test_state_dict_round_trips_through_save_and_load(make, tmp_path):
    params, x = _model_and_data()
    opt = make(params)
    _train(opt, params, x, 3)
    nn.save({"params": [p.data for p in params], "optim": opt.state_dict()}, tmp_path / "c.npz")
    _train(opt, params, x, 3)                      # the uninterrupted run

    fresh, _ = _model_and_data()
    loaded = nn.load(tmp_path / "c.npz")
    with tg.no_grad():
        for p, v in zip(fresh, loaded["params"]):
            p.copy_(v)
    opt2 = make(fresh)
    opt2.load_state_dict(loaded["optim"])
    assert opt2.param_groups[0].keys() == opt.param_groups[0].keys()
    _train(opt2, fresh, x, 3)
    for a, b in zip(params, fresh):
        numpy.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_copy_keyed_by_index():
    params, x = _model_and_data()
    opt = Adam(params)
    _train(opt, params, x, 1)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][0]["params"] == [0, 1]
    assert sd["state"][0]["step"] == 1
    sd["state"][0]["exp_avg"][...] = 99.0
    assert not (opt.state[params[0]]["exp_avg"] == 99.0).any()


def test_load_state_dict_mismatches_raise_and_change_nothing():
    params, x = _model_and_data()
    opt = Adam(params)
    _train(opt, params, x, 1)
    sd = opt.state_dict()
    other = Adam([params[0]])
    with pytest.raises(OptimizerError, match="2 parameters in the saved state, 1 here"):
        other.load_state_dict(sd)
    two_groups = Adam([{"params": params[:1]}, {"params": params[1:]}])
    with pytest.raises(OptimizerError, match=r"1 parameter group\(s\), this optimizer 2"):
        two_groups.load_state_dict(sd)
    swapped = Adam([params[1], params[0]], lr=0.5)
    with pytest.raises(OptimizerError, match=r"state 'exp_avg' has shape \(\d+, \d+\), its "
                                             r"parameter has shape .*Fix: .*same order"):
        swapped.load_state_dict(sd)
    assert swapped.state == {} and swapped.param_groups[0]["lr"] == 0.5
    with pytest.raises(OptimizerError, match=r"Adam\.load_state_dict: expected a dict with "
                                             r"'state' and 'param_groups'.*Fix"):
        swapped.load_state_dict({"weight": numpy.zeros(3)})      # a model's state dict


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("make,match", [
    (lambda ps: SGD(ps, lr=-0.1), "invalid lr"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "Nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-1), "momentum"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), "betas"),
    (lambda ps: Adam(ps, eps=-1), "eps"),
    (lambda ps: Adam(ps, weight_decay=-1), "weight_decay"),
    (lambda ps: Adagrad(ps, lr_decay=-1), "lr_decay"),
    (lambda ps: RMSprop(ps, alpha=-0.5), "alpha"),
    (lambda ps: SGD([{"params": ps, "momentun": 0.9}], lr=0.1), "unknown hyperparameter"),
    (lambda ps: SGD(ps + ps, lr=0.1), "appears twice"),
    (lambda ps: SGD([], lr=0.1), "empty"),
    (lambda ps: SGD(ps[0], lr=0.1), "single tensor"),
    (lambda ps: SGD([ps[0] * 2], lr=0.1), "non-leaf"),
    (lambda ps: SGD([tg.tensor([1, 2])], lr=0.1), "floating-point"),
    (lambda ps: SGD([1.0], lr=0.1), "tensors"),
    (lambda ps: SGD([[ps[0]]], lr=0.1), "tensors"),
])
def test_invalid_arguments_raise(make, match):
    params, _ = _model_and_data()
    with pytest.raises(OptimizerError, match=match):
        make(params)


def test_optimizer_error_is_a_value_error_and_a_tapegrad_error():
    assert issubclass(OptimizerError, ValueError) and issubclass(OptimizerError, tg.TapegradError)


def test_repr_lists_groups():
    params, _ = _model_and_data()
    text = repr(SGD(params, lr=0.1, momentum=0.9))
    assert "Parameter Group 0" in text and "momentum: 0.9" in text


# ------------------------------------------------------------ regularization
def test_penalties_values_and_gradients():
    a = tg.tensor([[1.0, -2.0]], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([-3.0], dtype=tg.float64, requires_grad=True)
    assert nn.l1_penalty([a, b]).item() == 6.0
    assert nn.l2_penalty([a, b]).item() == 14.0
    assert tg.gradcheck(lambda x, y: nn.l1_penalty([x, y]), (a, b))
    assert tg.gradcheck(lambda x, y: nn.l2_penalty([x, y]), (a, b))
    nn.l2_penalty(b).backward()
    numpy.testing.assert_array_equal(b.grad.data, [-6.0])


def test_penalties_take_a_module_and_reject_an_empty_list():
    model = nn.Linear(3, 2, dtype=tg.float64)
    expected = sum((numpy.asarray(p.data) ** 2).sum() for p in model.parameters())
    assert nn.l2_penalty(model).item() == pytest.approx(expected, rel=1e-15)
    with pytest.raises(tg.OpError, match="no parameters"):
        nn.l1_penalty([])


def test_sgd_weight_decay_equals_half_the_l2_penalty_in_the_loss():
    wd = 0.3
    runs = []
    for in_loss in (False, True):
        p = tg.tensor(P0, requires_grad=True)
        opt = SGD([p], lr=0.1, weight_decay=0.0 if in_loss else wd)
        for _ in range(3):
            opt.zero_grad()
            loss = _loss(p) + (wd / 2 * nn.l2_penalty([p]) if in_loss else 0.0)
            loss.backward()
            opt.step()
        runs.append(numpy.array(p.data))
    numpy.testing.assert_allclose(runs[0], runs[1], rtol=1e-14)
