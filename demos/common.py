"""What every demo shares: its command line, its output folder, progress bars and pictures.

Each demo is a module run as ``python -m demos.NAME``. They all take ``--seed``,
``--quick`` (a few seconds, what the test suite runs) and ``--out`` (default
``runs/NAME/``), show a progress bar on every loop that takes more than a
second, and end by naming the files they wrote. Plots need matplotlib and
graph drawings need Graphviz's ``dot``; without them a demo still runs,
prints its numbers and says in one line how to get the pictures.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

PLOT_HINT = "plots skipped: matplotlib is missing (pip install -e '.[demos]')"
GRAPH_HINT = ("graph drawings skipped: Graphviz's dot is missing (apt-get install graphviz, "
              "brew install graphviz or conda install -c conda-forge graphviz)")


def parser(name, description):
    """An argument parser with the options every demo takes (``--seed``, ``--quick``, ``--out``)."""
    cli = argparse.ArgumentParser(prog=f"python -m demos.{name}", description=description)
    cli.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    cli.add_argument("--quick", action="store_true",
                     help="a run of a few seconds with small settings (what the tests run)")
    cli.add_argument("--out", type=Path, default=Path("runs") / name,
                     help="folder for plots, graphs and metrics.json (default: %(default)s)")
    return cli


class Run:
    """One demo run's output folder: it creates the folder and remembers each file written."""

    def __init__(self, out):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.files = []
        self._hinted = set()

    def path(self, filename):
        """The path of ``filename`` inside the output folder, remembered as written."""
        path = self.out / filename
        self.files.append(path)
        return path

    def hint(self, text):
        """Print ``text`` once per run (the one-line 'how to get the pictures' notices)."""
        if text not in self._hinted:
            self._hinted.add(text)
            print(text)

    def pyplot(self):
        """matplotlib's pyplot on the file-only Agg backend, or None (with a hint) when missing."""
        try:
            import matplotlib
        except ImportError:
            self.hint(PLOT_HINT)
            return None
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt

    def save_figure(self, fig, filename, dpi=150):
        """Write a matplotlib figure as a PNG in the output folder and close it."""
        fig.savefig(self.path(filename), dpi=dpi, bbox_inches="tight")
        self.pyplot().close(fig)

    def has_dot(self):
        """True when Graphviz's ``dot`` is on PATH; otherwise print the install hint once."""
        if shutil.which("dot"):
            return True
        self.hint(GRAPH_HINT)
        return False

    def save_drawing(self, drawing, filename):
        """Render a ``tapegrad.viz`` drawing (SVG or PNG by extension); skipped without ``dot``."""
        if not self.has_dot():
            return None
        path = self.path(filename)
        drawing.render(path)
        return path

    def write_metrics(self, metrics, filename="metrics.json"):
        """Write ``metrics`` (NumPy scalars and arrays allowed) as indented JSON."""
        with open(self.path(filename), "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2, sort_keys=True, default=_jsonable)
            f.write("\n")

    def finish(self):
        """Print the files this run wrote, one per line."""
        print(f"\nwrote {len(self.files)} file(s) to {self.out}/:")
        for path in dict.fromkeys(self.files):
            print(f"  {path}")


def progress(iterable=None, **options):
    """A tqdm progress bar on standard error (plain iteration when tqdm is not installed)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Plain(iterable, options.get("total"))
    options.setdefault("file", sys.stderr)
    options.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **options)


class _Plain:
    """The part of tqdm's interface the demos use, doing nothing visible."""

    def __init__(self, iterable, total):
        self.iterable, self.total = iterable, total

    def __iter__(self):
        return iter(self.iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        """Ignore progress."""

    def set_postfix(self, *args, **kwargs):
        """Ignore the status text."""

    def close(self):
        """Nothing to close."""


def _jsonable(value):
    """JSON form of NumPy scalars, arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"metrics.json: cannot write a {type(value).__name__}")
