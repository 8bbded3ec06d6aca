"""Every page's Python code runs top to bottom, and prints exactly the output the page shows."""
import pathlib

import pytest

from docs.hooks import codeblocks
from tests.conftest import DOT_INSTALL_HINT, in_ci

DOCS = pathlib.Path(codeblocks.ROOT) / "docs"
PAGES = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")
               if codeblocks.blocks(p.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_and_prints_what_it_shows(page, tmp_path):
    blocks = codeblocks.blocks((DOCS / page).read_text(encoding="utf-8"))
    code, outputs, stderr = codeblocks.run(blocks, tmp_path)
    if code != 0 and "GraphvizNotFoundError" in stderr and not in_ci():
        pytest.skip(DOT_INSTALL_HINT)
    assert code == 0, f"{page}, block {len(outputs)} ({blocks[len(outputs) - 1]}) failed:\n{stderr}"
    for block, printed in zip(blocks, outputs):
        if block.expected is not None:
            assert printed == block.expected, f"{page}: {block} printed something else"


def test_the_runner_finds_blocks_titles_and_outputs():
    text = ('```python title="a.py"\nprint(1)\n```\n\n```output\n1\n```\n'
            '```python\nx = 2\n```\n```text\nnot an output\n```\n')
    first, second = codeblocks.blocks(text)
    assert (first.name, first.code, first.expected, first.line) == ("a.py", "print(1)\n", "1\n", 2)
    assert (second.name, second.expected) == ("example.py", None)


def test_a_wrong_output_or_a_failing_block_is_caught(tmp_path):
    blocks = codeblocks.blocks("```python\nprint(2)\n```\n```output\n3\n```\n"
                               "```python\nraise ValueError('boom')\n```\n")
    code, outputs, stderr = codeblocks.run(blocks, tmp_path)
    assert outputs[0] != blocks[0].expected
    assert code != 0 and "ValueError: boom" in stderr and len(outputs) == 2
