"""``tapegrad-draw``: the command-line entry point."""
import subprocess
import sys

import pytest

from tapegrad.viz.cli import main


def test_writes_dot_text_without_graphviz(tmp_path, capsys):
    out = tmp_path / "lstm.dot"
    assert main(["--model", "lstm", "--steps", "4", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph tapegrad_unrolled")
    assert "rail_rnn_weight_hh_l0_sum" in text
    assert capsys.readouterr().out.strip() == str(out)


@pytest.mark.parametrize("model", ["elman", "jordan", "lstm", "gru"])
@pytest.mark.parametrize("view", ["unrolled", "rolled", "tape"])
def test_every_model_in_every_view(tmp_path, model, view):
    out = tmp_path / "g.dot"
    assert main(["--model", model, "--steps", "3", "--view", view, "--hidden", "2", "--seed",
                 "5", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"digraph tapegrad_{view}")
    assert "T=3, H=2" in text


def test_forget_bias_sets_the_lstm_forget_gate_and_only_the_lstm(tmp_path, capsys):
    from tapegrad.viz.models import build
    _, model = build("lstm", 2, hidden=3, forget_bias=2.0)
    forget = slice(3, 6)                    # gate order i, f, g, o
    total = model.rnn.bias_ih_l0.data[forget] + model.rnn.bias_hh_l0.data[forget]
    assert total.tolist() == [2.0, 2.0, 2.0]
    assert main(["--model", "gru", "--forget-bias", "1", "--out", str(tmp_path / "g.dot")]) == 1
    assert "forget_bias is an LSTM option" in capsys.readouterr().err


def test_collapse_and_focus(tmp_path):
    out = tmp_path / "g.dot"
    assert main(["--model", "elman", "--steps", "3", "--collapse", "step", "--focus",
                 "weight_ih_l0", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "group_net_rnn_l0_t_1" in text and "rail_rnn_weight_ih_l0_sum" in text


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["--model", "elman", "--out", str(tmp_path / "g.txt")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert main(["--model", "elman", "--focus", "nope", "--out", str(tmp_path / "g.dot")]) == 1
    assert "no parameter named 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", "transformer", "--out", "x.svg"])


@pytest.mark.parametrize("option, value", [("--collapse", "foo"), ("--draw-steps", "many")])
def test_a_bad_option_value_is_a_usage_error_naming_the_option(option, value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "elman", option, value, "--out", "g.dot"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and f"{value!r}: give" in err


@pytest.mark.needs_dot
def test_module_entry_point_renders_png(tmp_path):
    out = tmp_path / "e.png"
    done = subprocess.run([sys.executable, "-m", "tapegrad.viz.cli", "--model", "elman",
                           "--steps", "3", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


def test_focus_takes_several_names_and_max_nodes_is_an_option(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert main(["--model", "elman", "--focus", "weight_ih_l0", "bias_ih_l0", "--out",
                 str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "rail_rnn_weight_ih_l0_sum" in text and "rail_rnn_bias_ih_l0_sum" in text
    assert "rail_rnn_weight_hh_l0_sum" not in text
    assert main(["--model", "lstm", "--steps", "20", "--max-nodes", "20", "--out",
                 str(out)]) == 1
    err = capsys.readouterr().err
    assert "more than --max-nodes 20" in err and "--collapse step" in err
    assert "--draw-steps 6" in err and "--view rolled" in err and "raise --max-nodes" in err
    assert "max_nodes" not in err and "collapse=" not in err


def test_help_shows_no_raw_markup(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "--max-nodes" in text and "--focus NAME [NAME ...]" in text and ".html" in text
    assert "``" not in text and ":mod:" not in text


@pytest.mark.needs_dot
def test_out_html_writes_the_interactive_page(tmp_path):
    out = tmp_path / "e.html"
    assert main(["--model", "elman", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "var META" in text
