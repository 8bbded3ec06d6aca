"""nn.optim.HessianFree: truncated CG, the quadratic, a small RNN, damping, backtracking, errors."""
import json
import math

import numpy
import pytest

import tapegrad as tg
from demos import hessian_free as demo
from tapegrad.nn.optim import HessianFree, OptimizerError
from tapegrad.nn.optim.hessian_free import _truncated_cg

RNG = numpy.random.default_rng(3)


def _least_squares(rows=20, cols=5):
    A, y = RNG.standard_normal((rows, cols)), RNG.standard_normal(rows)
    x = tg.tensor(numpy.zeros(cols), requires_grad=True)

    def closure():
        z = tg.tensor(A) @ x
        return ((z - tg.tensor(y)) ** 2).mean(), z
    return A, y, x, closure


def test_truncated_cg_solves_a_small_positive_definite_system():
    M = RNG.standard_normal((6, 6))
    A = M @ M.T + 6 * numpy.eye(6)
    b = RNG.standard_normal(6)
    kept, final, steps = _truncated_cg(lambda v: A @ v, b, numpy.zeros(6), 250, 0.0, 1.3)
    numpy.testing.assert_allclose(final, numpy.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    iterations = [k[0] for k in kept]
    assert iterations[:5] == [1, 2, 3, 4, 5] and iterations[-1] == steps
    for i, x, xax in kept:
        numpy.testing.assert_allclose(xax, x @ A @ x, rtol=1e-8)


def test_truncated_cg_keeps_iterates_at_powers_of_the_ratio_and_stops_at_the_limit():
    A = numpy.diag(numpy.linspace(1.0, 1e3, 200))
    kept, _, steps = _truncated_cg(lambda v: A @ v, numpy.ones(200), numpy.zeros(200), 40, 0.0,
                                   1.3)
    assert steps == 40
    expected = sorted({math.ceil(1.3 ** j) for j in range(20) if math.ceil(1.3 ** j) <= 40})
    assert [k[0] for k in kept] == expected + ([40] if expected[-1] != 40 else [])


def test_truncated_cg_warm_start_from_the_solution_needs_no_iteration():
    A = numpy.diag([1.0, 2.0, 3.0])
    b = numpy.array([1.0, 1.0, 1.0])
    _, final, steps = _truncated_cg(lambda v: A @ v, b, b / numpy.diag(A), 250, 5e-4, 1.3)
    assert steps == 0 and numpy.allclose(final, b / numpy.diag(A))


def test_hf_decreases_a_least_squares_loss_to_its_minimum():
    A, y, x, closure = _least_squares()
    opt = HessianFree([x])
    losses = [float(opt.step(closure)) for _ in range(12)]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    solution = numpy.linalg.lstsq(A, y, rcond=None)[0]
    best = float(((A @ solution - y) ** 2).mean())
    assert losses[0] > best + 0.1 and float(closure()[0]) < best * (1 + 1e-6)
    assert opt.param_groups[0]["damping"] < 0.1          # lambda shrank: the model is exact


def test_hf_trains_a_small_rnn_with_structural_damping():
    rng = numpy.random.default_rng(0)
    tg.manual_seed(0)
    model = demo.AdditionRNN(6)
    x, y = demo.addition_batch(rng, 6, 64)

    def closure():
        prediction, hidden = model(x)
        return demo.mse(prediction, y), prediction, hidden
    opt = HessianFree(model.parameters(), structural_damping=1 / 30)
    first = float(closure()[0])
    for _ in range(4):
        opt.step(closure)
        assert opt.step_info["cg_iterations"] >= 1
    assert float(closure()[0]) < 0.5 * first
    assert set(opt.state[next(model.parameters())]) == {"cg_start"}


def test_a_step_that_does_not_decrease_the_loss_is_not_taken_and_damping_grows():
    _, _, x, closure = _least_squares()
    opt = HessianFree([x], lr=50.0)            # overshoots a quadratic by far
    opt.step(closure)
    info = opt.step_info
    assert not info["accepted"] and info["rho"] < 0.25
    numpy.testing.assert_array_equal(x.numpy(), numpy.zeros(5))
    assert opt.param_groups[0]["damping"] == pytest.approx(1.5)


def test_the_warm_start_survives_a_state_dict_round_trip():
    _, _, x, closure = _least_squares()
    opt = HessianFree([x])
    opt.step(closure)
    saved = opt.state_dict()
    other = HessianFree([tg.tensor(x.numpy(), requires_grad=True)])
    other.load_state_dict(saved)
    numpy.testing.assert_array_equal(next(iter(other.state.values()))["cg_start"],
                                     opt.state[x]["cg_start"])
    assert other.param_groups[0]["damping"] == opt.param_groups[0]["damping"]


def test_errors_name_the_problem_and_the_fix():
    x = tg.tensor(numpy.zeros(2), requires_grad=True)
    with pytest.raises(OptimizerError, match=r"closure must return \(loss, outputs\)"):
        HessianFree([x]).step(lambda: (x * x).sum())
    with pytest.raises(OptimizerError, match="loss must be a one-element tensor"):
        HessianFree([x]).step(lambda: (x * x, x))
    with pytest.raises(OptimizerError, match="2 parameter groups"):
        HessianFree([{"params": [x]}, {"params": [tg.tensor([1.0], requires_grad=True)]}])
    for bad in (dict(max_cg_iterations=0), dict(cg_decay=1.5), dict(backtrack_ratio=1.0),
                dict(damping_factors=(1.5, 2 / 3)), dict(damping=-1.0)):
        with pytest.raises(OptimizerError, match="HessianFree: "):
            HessianFree([x], **bad)


def test_the_demo_runs_in_quick_mode(tmp_path):
    metrics = demo.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["results"].keys() == {"adam", "hessian_free"}
    assert saved["results"]["hessian_free"]["steps"] >= 1 and saved == json.loads(
        json.dumps(metrics))
    assert (tmp_path / "hessian_free.png").stat().st_size > 10_000
    x, y = demo.addition_batch(numpy.random.default_rng(0), 20, 1000)
    markers = x.numpy()[:, :, 1]
    assert (markers.sum(0) == 2).all() and (markers[:2].sum(0) == 1).all()
    assert abs(float(((y.numpy() - 1.0) ** 2).mean()) - demo.BASELINE_MSE) < 0.02


def test_a_curvature_closure_on_a_subset_supplies_the_gauss_newton_products():
    A, y = RNG.standard_normal((40, 5)), RNG.standard_normal(40)

    def closure_on(x, rows):
        def closure():
            z = tg.tensor(A[rows]) @ x
            return ((z - tg.tensor(y[rows])) ** 2).mean(), z
        return closure
    x_sub, x_full = (tg.tensor(numpy.zeros(5), requires_grad=True) for _ in range(2))
    everything, subset = slice(None), slice(0, 20)
    HessianFree([x_full], max_cg_iterations=3).step(closure_on(x_full, everything))
    HessianFree([x_sub], max_cg_iterations=3).step(closure_on(x_sub, everything),
                                                   closure_on(x_sub, subset))
    first = float(closure_on(tg.tensor(numpy.zeros(5)), everything)()[0])
    assert float(closure_on(x_sub, everything)()[0]) < first
    assert not numpy.allclose(x_sub.numpy(), x_full.numpy())    # another curvature, another step
