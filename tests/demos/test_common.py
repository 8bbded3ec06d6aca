"""The helpers every demo shares: options, output folder, metrics and the list of files written."""
import json

import numpy as np

from demos.common import Run, parser, progress


def test_every_demo_takes_seed_quick_and_out():
    args = parser("example", "an example").parse_args([])
    assert (args.seed, args.quick, str(args.out)) == (0, False, "runs/example")
    args = parser("example", "an example").parse_args(["--seed", "3", "--quick", "--out", "x"])
    assert (args.seed, args.quick, str(args.out)) == (3, True, "x")


def test_metrics_take_numpy_values_and_every_written_file_is_listed(tmp_path, capsys):
    run = Run(tmp_path / "out")
    run.write_metrics({"loss": np.float32(0.5), "curve": np.arange(3), "steps": 4})
    run.finish()
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written == {"loss": 0.5, "curve": [0, 1, 2], "steps": 4}
    assert str(tmp_path / "out" / "metrics.json") in capsys.readouterr().out


def test_a_figure_is_saved_as_png(tmp_path):
    run = Run(tmp_path)
    plt = run.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    run.save_figure(fig, "line.png")
    assert (tmp_path / "line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_iterates_like_the_plain_iterable():
    assert list(progress(range(5), disable=True)) == [0, 1, 2, 3, 4]
