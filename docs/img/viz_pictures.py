"""Draw the pictures of docs/viz.md with tapegrad's command-line tool, and check they are current.

    python docs/img/viz_pictures.py           # redraw every picture (needs Graphviz dot)

Each SVG carries the SHA-256 of the DOT text it was drawn from; ``tests/viz/test_docs.py``
recomputes the DOT with the current renderer and fails when a picture is stale, so a changed
renderer can never leave an old figure on the page.
"""
import contextlib
import hashlib
import io
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tapegrad.viz import cli  # noqa: E402  (the repository root goes on the path first)

#: file name -> the tapegrad-draw arguments that draw it
PICTURES = {
    "unrolled-elman-T3.svg": ["--model", "elman", "--steps", "3"],
    "unrolled-lstm-T4.svg": ["--model", "lstm", "--steps", "4"],
    "unrolled-lstm-T4-collapsed.svg": ["--model", "lstm", "--steps", "4", "--collapse", "step"],
    "unrolled-elman-T20.svg": ["--model", "elman", "--steps", "20"],
    "unrolled-lstm-T100.svg": ["--model", "lstm", "--steps", "100"],
    "rolled-elman-T100.svg": ["--model", "elman", "--steps", "100", "--hidden", "8",
                              "--view", "rolled"],
    "rolled-lstm-T100-forget-bias.svg": ["--model", "lstm", "--steps", "100", "--hidden", "8",
                                         "--forget-bias", "1", "--view", "rolled"],
    "tape-elman-T2.svg": ["--model", "elman", "--steps", "2", "--view", "tape"],
}
STAMP = "<!-- tapegrad-draw DOT sha256: {} -->"


def dot_source(args):
    """The DOT text ``tapegrad-draw args`` draws."""
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "picture.dot"
        with contextlib.redirect_stdout(io.StringIO()):     # it prints the file's name
            failed = cli.main(args + ["--out", str(out)])
        if failed:
            raise SystemExit(f"tapegrad-draw {' '.join(args)} failed")
        return out.read_text(encoding="utf-8")


def stamp_of(source):
    return STAMP.format(hashlib.sha256(source.encode("utf-8")).hexdigest())


def draw_picture(name):
    """Render one picture to docs/img/``name``, stamped with the hash of its DOT text."""
    source = dot_source(PICTURES[name])
    svg = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True,
                         check=True).stdout
    head, rest = svg.split("\n", 1)
    (HERE / name).write_text(f"{head}\n{stamp_of(source)}\n{rest}", encoding="utf-8")


if __name__ == "__main__":
    for picture in PICTURES:
        draw_picture(picture)
        print(HERE / picture)
