"""The recurrent-network demos in quick mode: each runs, writes its outputs and measures what it
claims (the clipped descent ends lower, the adding models beat the 0.167 line, ...)."""
import importlib
import json
import shutil
import sys

import pytest

from demos import common
from demos.common import GRAPH_HINT, PLOT_HINT

DEMOS = ["vanishing", "cliff", "timer", "adding", "sentence_order", "graphs"]
HAS_DOT = shutil.which("dot") is not None


def run_quick(name, out):
    """Run ``python -m demos.NAME --quick`` in this process; returns its metrics (or None)."""
    importlib.import_module(f"demos.{name}").main(["--quick", "--out", str(out), "--seed", "1"])
    metrics = out / "metrics.json"
    return json.loads(metrics.read_text()) if metrics.exists() else None


@pytest.mark.parametrize("name", DEMOS)
def test_help_names_the_common_options(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"demos.{name}").main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert f"python -m demos.{name}" in text
    assert all(option in text for option in ("--seed", "--quick", "--out"))


def test_vanishing(tmp_path, capsys):
    m = run_quick("vanishing", tmp_path)
    assert m["univariate"]["1.1"] == pytest.approx(1.1 ** 50, rel=1e-12)
    assert m["univariate"]["0.9"] == pytest.approx(0.9 ** 50, rel=1e-12)
    f = m["decay_factor"]
    tanh = [f[f"tanh RNN, {init}"] for init in ("default init", "orthogonal x1.0",
                                                "orthogonal x1.5")]
    assert tanh == sorted(tanh)
    assert f["LSTM, forget bias 0"] < f["LSTM, forget bias 1"] < f["LSTM, forget bias 3"]
    assert all(0 < value < 2 for value in f.values())
    norms = m["grad_norms"]["tanh RNN, default init"]
    assert len(norms) == m["config"]["length"] and norms[0] < 1e-3 * norms[-1]
    assert (tmp_path / "vanishing.png").exists()
    assert (tmp_path / "rolled_tanh_rnn.svg").exists() == HAS_DOT
    assert str(tmp_path / "metrics.json") in capsys.readouterr().out


def test_cliff_clipping_keeps_the_descent_on_the_right_side(tmp_path):
    m = run_quick("cliff", tmp_path)
    assert m["final_error_clipped"] < m["final_error_unclipped"]
    lr, clip = m["config"]["lr"], m["config"]["clip"]
    assert m["max_grad_norm_unclipped"] > 5 * clip                      # it met the cliff
    assert m["largest_step_clipped"] <= lr * clip * (1 + 1e-6)
    assert m["largest_step_unclipped"] > 5 * lr * clip                  # and was thrown off
    assert (tmp_path / "cliff.png").exists()


def test_timer(tmp_path):
    m = run_quick("timer", tmp_path)
    assert set(m["test_mse"]) == {"tanh RNN", "LSTM", "ESN (ridge read-out)"}
    assert m["test_mse"]["ESN (ridge read-out)"] < 0.5 * m["mean_baseline_mse"]
    assert all(0 <= v < 1 for v in m["test_mse"].values())
    assert (tmp_path / "timer.png").exists() and (tmp_path / "timer_training.png").exists()


def test_adding_beats_the_baseline(tmp_path):
    m = run_quick("adding", tmp_path)
    assert m["baseline_mse"] == pytest.approx(1 / 6)
    assert len(m["test_mse"]) == 4
    assert min(m["test_mse"].values()) < 0.5 * m["baseline_mse"]
    assert all(steps == m["config"]["steps"] for steps in m["steps"].values())
    assert (tmp_path / "adding.png").exists()


def test_sentence_order_only_the_rnn_sees_word_order(tmp_path):
    m = run_quick("sentence_order", tmp_path)
    accuracy = m["accuracy"]
    assert accuracy["bag of words + MLP"]["held_out"] == 0.5     # each pair: same input, one right
    assert accuracy["many-to-one RNN"]["held_out"] > 0.9
    assert (tmp_path / "sentence_order.png").exists()


def test_graphs_draws_both_views_of_four_networks(tmp_path):
    run_quick("graphs", tmp_path)
    suffix = "svg" if HAS_DOT else "dot"
    names = {p.name for p in tmp_path.iterdir()}
    for kind in ("elman", "jordan", "lstm", "gru"):
        assert {f"unrolled_{kind}_T2.{suffix}", f"rolled_{kind}_T20.{suffix}"} <= names
    if HAS_DOT:
        assert "<svg" in (tmp_path / "rolled_lstm_T20.svg").read_text()


def test_without_matplotlib_a_demo_prints_its_numbers_and_the_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)        # import matplotlib fails
    m = run_quick("sentence_order", tmp_path)
    out = capsys.readouterr().out
    assert PLOT_HINT in out and "held-out" in out
    assert m["accuracy"]["many-to-one RNN"]["held_out"] > 0.9
    assert not list(tmp_path.glob("*.png"))


def test_without_graphviz_graphs_writes_the_dot_sources_and_the_hint(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    run_quick("graphs", tmp_path)
    assert GRAPH_HINT in capsys.readouterr().out
    assert len(list(tmp_path.glob("*.dot"))) == 8 and not list(tmp_path.glob("*.svg"))
