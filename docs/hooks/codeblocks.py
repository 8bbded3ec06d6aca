"""Run a docs page's Python code blocks top to bottom, as a reader would.

A page's ```` ```python ```` blocks run in order in one fresh interpreter, in
one namespace, in a working folder of the caller's choosing (files a block
writes, such as a figure, land there).  A block may name its file with
``title="name.py"`` (tape listings and errors quote that name and the line
in the block); untitled blocks are ``example.py``.  An ```` ```output ````
block right after a code block is what that block prints, exactly: the
tests compare the two.  A block that shows an error says so in a comment,
``# raises BackwardError``: it must raise that exception, and its output is
the ``Name: message`` line a reader would see last.  Used by the test suite and by the docs build, which
takes the pictures a page shows from the files its code writes.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
TITLE = re.compile(r'title="([^"]+)"')
RAISES = re.compile(r"#.*\braises (\w+)")
MARK = "\x1eblock {}\x1e\n"            # written before each block's output
SPLIT = re.compile(re.escape(MARK).replace(r"\{\}", r"\d+"))

# The child: runs each block in one namespace and marks where each block's output starts.
_RUNNER = """
import json, sys
blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
for i, (name, code, raises) in enumerate(blocks):
    sys.stdout.write(%r.format(i)); sys.stdout.flush()
    try:
        exec(compile(code, name, "exec"), namespace)
    except Exception as error:
        if raises not in [c.__name__ for c in type(error).__mro__]:
            raise
        print(f"{type(error).__module__}.{type(error).__qualname__}: {error}")
    else:
        if raises:
            sys.exit(f"block {i} ({name}) should raise {raises} but did not")
    sys.stdout.flush()
""" % MARK


class Block:
    """One Python code block of a page: its file name, code and the output the page shows."""

    def __init__(self, name, code, line, expected):
        self.name, self.code, self.line, self.expected = name, code, line, expected
        raises = RAISES.search(code)
        self.raises = raises.group(1) if raises else None

    def __repr__(self):
        return f"Block({self.name!r}, line {self.line})"


def blocks(text):
    """The Python blocks of a page's Markdown, each with the output block that follows it."""
    fences = list(FENCE.finditer(text))
    found = []
    for i, fence in enumerate(fences):
        language, info, body = fence.groups()
        if language != "python":
            continue
        after = fences[i + 1] if i + 1 < len(fences) else None
        expected = None
        if after is not None and after.group(1) == "output" \
                and not text[fence.end():after.start()].strip():
            expected = after.group(3)
        title = TITLE.search(info)
        line = text.count("\n", 0, fence.start()) + 2
        found.append(Block(title.group(1) if title else "example.py", body, line, expected))
    return found


def run(page_blocks, cwd, timeout=120):
    """Run the blocks in a fresh interpreter in ``cwd``; return (returncode, outputs, stderr).

    ``outputs`` holds what each block printed, one string per block that ran.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg", PYTHONHASHSEED="0")
    done = subprocess.run([sys.executable, "-c", _RUNNER], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout,
                          input=json.dumps([(b.name, b.code, b.raises) for b in page_blocks]))
    outputs = SPLIT.split(done.stdout)[1:]
    return done.returncode, outputs, done.stderr
