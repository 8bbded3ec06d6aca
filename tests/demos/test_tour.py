"""The tour: in quick mode it trains, passes its gradient check, draws both graphs and ends by
naming the files it wrote and the commands of the full demos."""
import json
import shutil

from demos import tour


def test_the_quick_tour_trains_checks_draws_and_lists_files_and_commands(tmp_path, capsys):
    tour.main(["--quick", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    metrics = json.loads((tmp_path / "char_rnn" / "metrics.json").read_text())
    assert metrics["val_nats_per_char"] < metrics["initial_val_nats_per_char"]
    assert f"{metrics['val_bits_per_char']:.4f} bits/char" in text
    assert "gradcheck of LSTMCell" in text and "passed" in text
    drawings = [tmp_path / "unrolled.svg", tmp_path / "rolled-T100.svg"]
    if shutil.which("dot"):
        for path in drawings:
            assert path.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    else:
        assert "Graphviz" in text and not any(p.exists() for p in drawings)
    listing = text[text.rindex("wrote "):]
    written = [tmp_path / "char_rnn" / "metrics.json", tmp_path / "char_rnn" / "curves.png"]
    if shutil.which("dot"):
        written += drawings
    for path in written:
        assert str(path) in listing
    for name in tour.DEMOS:
        assert f"python -m demos.{name}" in listing
