"""The documentation site, built once per test session for the tests that read it."""
import os
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import check_dot

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The folder of a strict ``mkdocs build`` of the docs.

    The build draws the pages' pictures with Graphviz, so without ``dot`` the
    tests that read the site skip (and fail under ``CI=true``), as the render tests do.
    """
    pytest.importorskip("mkdocstrings", reason="the docs tools come with the dev extra")
    check_dot()
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out
