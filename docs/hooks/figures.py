"""MkDocs hook: a page's pictures are drawn by the page's own code, at every build.

A page that shows a picture by bare file name (``![...](name.svg)``) with no
such file beside it in ``docs/`` gets it from its code blocks: the build runs
them (see ``codeblocks.py``) in a scratch folder and publishes the files they
wrote under the names the page uses.  So a picture can never disagree with
the code printed above it, and nothing generated is committed.  A page whose
code fails, or does not write a picture it shows, fails the build.
"""
import pathlib
import re
import tempfile

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

import codeblocks

PICTURE = re.compile(r"!\[[^\]]*\]\(([\w.-]+\.(?:svg|png))\)")


def on_files(files, config):
    for page in list(files.documentation_pages()):    # a copy: pictures are appended below
        text = pathlib.Path(page.abs_src_path).read_text(encoding="utf-8")
        folder = pathlib.PurePosixPath(page.src_uri).parent
        wanted = [name for name in dict.fromkeys(PICTURE.findall(text))
                  if files.get_file_from_path(str(folder / name)) is None]
        if wanted:
            for name, content in _draw(page.src_uri, text, wanted):
                files.append(File.generated(config, str(folder / name), content=content))
    return files


def _draw(src_uri, text, wanted):
    with tempfile.TemporaryDirectory() as scratch:
        code, _, stderr = codeblocks.run(codeblocks.blocks(text), scratch)
        if code != 0:
            raise PluginError(f"{src_uri}: its code failed, so its pictures cannot be drawn:\n"
                              f"{stderr[-3000:]}")
        made = pathlib.Path(scratch)
        missing = [name for name in wanted if not (made / name).is_file()]
        if missing:
            raise PluginError(f"{src_uri} shows {', '.join(missing)}, but neither docs/ nor the "
                              f"page's code has it (the code wrote: "
                              f"{sorted(p.name for p in made.iterdir()) or 'nothing'})")
        return [(name, (made / name).read_bytes()) for name in wanted]
