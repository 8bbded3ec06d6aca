"""The char-RNN demo: its quick run learns, its metrics and files, resuming, batched held-out
scoring equal to one stream, the schedule and the default corpus."""
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from demos import char_rnn

WORDS = ["the cat sat on the mat. ", "a dog ran to the cat. ", "the mat is red. "]


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory):
    """A small text with plenty to learn: sentences drawn from a few, in a fixed order."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text("".join(WORDS[i] for i in rng.integers(0, len(WORDS), 400)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def quick_run(tiny_text, tmp_path_factory):
    out = tmp_path_factory.mktemp("char_rnn")
    result = char_rnn.main(["--quick", "--text", str(tiny_text), "--out", str(out)])
    return out, result


def test_the_quick_run_on_a_tiny_text_reduces_the_held_out_loss(quick_run):
    _, result = quick_run
    m = result.metrics
    start = m["initial_val_nats_per_char"]
    assert start == pytest.approx(math.log(m["vocabulary_size"]), rel=0.2)   # about uniform
    assert m["val_nats_per_char"] < 0.6 * start
    assert m["final_train_nats_per_char"] < 0.6 * start


def test_metrics_json_has_the_documented_fields_with_sensible_values(quick_run, tiny_text):
    out, _ = quick_run
    m = json.loads((out / "metrics.json").read_text())
    assert m["val_bits_per_char"] == pytest.approx(m["val_nats_per_char"] / math.log(2))
    config = m["config"]
    assert m["steps"] == config["steps"] == char_rnn.QUICK["steps"]
    chunk = config["batch"] * config["seq_len"]      # an epoch's last chunk may be shorter
    assert m["steps"] * chunk * 0.9 < m["chars_seen"] <= m["steps"] * chunk
    assert m["train_seconds"] > 0
    assert m["ms_per_step"] == pytest.approx(1000 * m["train_seconds"] / m["steps"])
    n = len(tiny_text.read_text(encoding="utf-8"))
    assert (m["train_characters"], m["held_out_characters"]) == (int(0.9 * n), n - int(0.9 * n))
    for key in ("cell", "layers", "hidden", "embed", "dropout", "lr", "clip", "time_limit",
                "temperature", "seed", "text"):
        assert key in config
    for name in ("curves.png", "checkpoint.npz", "sample.txt"):
        assert (out / name).stat().st_size > 0
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_continues_from_the_checkpoint(quick_run, tmp_path):
    out, result = quick_run
    steps = result.metrics["steps"] + 10
    resumed = char_rnn.main(["--resume", str(out / "checkpoint.npz"), "--steps", str(steps),
                             "--out", str(tmp_path)])
    m = resumed.metrics
    chunk = m["config"]["batch"] * m["config"]["seq_len"]
    assert m["steps"] == steps
    assert 0 < m["chars_seen"] - result.metrics["chars_seen"] <= 10 * chunk
    assert m["config"]["hidden"] == result.metrics["config"]["hidden"]


def test_help_lists_every_option_the_issue_names(capsys):
    with pytest.raises(SystemExit):
        char_rnn.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--text", "--cell", "--layers", "--hidden", "--embed", "--dropout",
                   "--seq-len", "--batch", "--lr", "--clip", "--time-limit", "--steps",
                   "--sample-every", "--temperature", "--resume", "--seed", "--quick", "--out"):
        assert option in text


@given(st.integers(2, 60), st.integers(1, 9), st.integers(0, 12))
def test_evaluation_streams_score_every_prediction_once_in_order(n, streams, context):
    ids = np.arange(n) + 1000                        # distinct: positions can be read back
    inputs, targets = char_rnn.evaluation_streams(ids, streams, context)
    scored = targets[targets != -100]
    assert sorted(scored) == list(ids[1:])           # each prediction of ids[1:] exactly once
    for k in range(inputs.shape[1]):
        col_in, col_t = inputs[:, k], targets[:, k]
        live = col_t != -100
        assert np.array_equal(col_t[live], col_in[live] + 1)   # predicts the next character
        used = np.flatnonzero(col_in)
        if used.size:                                # a contiguous stretch of the text
            assert np.array_equal(np.diff(col_in[used[0]:used[-1] + 1]), np.ones(used.size - 1))
        if live.any():                               # warmed up by up to `context` characters
            first = np.flatnonzero(live)[0]
            piece_start = col_t[first] - 1 - 1000
            assert first == min(context, piece_start)


def test_batched_held_out_score_equals_one_stream_when_the_context_covers_the_text():
    tg.manual_seed(0)
    model = char_rnn.CharModel(7, "lstm", embed=4, hidden=8)
    ids = np.random.default_rng(1).integers(0, 7, 300)
    one = char_rnn.held_out_nats(model, ids, streams=1, context=0, chunk=64)
    many = char_rnn.held_out_nats(model, ids, streams=6, context=300, chunk=64)
    assert many == pytest.approx(one, rel=1e-5)
    cold = char_rnn.held_out_nats(model, ids, streams=6, context=0, chunk=64)
    assert cold != pytest.approx(one, rel=1e-7)      # without context the pieces start cold


def test_learning_rate_warms_up_then_decays_linearly_to_zero_at_the_end():
    lrs = [char_rnn.learning_rate(1.0, p, warmup=0.1) for p in np.linspace(0, 1, 101)]
    peak = int(np.argmax(lrs))
    assert lrs[0] < 0.05 and lrs[peak] == pytest.approx(1.0, abs=0.02) and peak == 10
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    # a straight line: a quarter of the way down is 3/4 of the peak (a cosine is at 0.85)
    assert char_rnn.learning_rate(1.0, 0.1 + 0.25 * 0.9, warmup=0.1) == pytest.approx(0.75)


def test_the_default_corpus_is_a_fixed_ascii_selection_of_the_standard_library():
    text = char_rnn.stdlib_corpus(50_000)
    assert len(text) == 50_000 and text == char_rnn.stdlib_corpus(50_000)
    assert text.isascii() and "def " in text and "import " in text
