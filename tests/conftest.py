"""Shared pytest setup: the ``needs_dot`` marker and Hypothesis profiles."""
import os
import shutil

import pytest
from hypothesis import settings

from tests.browser import start_browser

DOT_INSTALL_HINT = (
    "Graphviz 'dot' program not found on PATH; install Graphviz: "
    "'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) "
    "or 'conda install -c conda-forge graphviz'"
)

# The same number of examples in both: CI draws them from a fixed seed (a failure there is
# reproducible), a developer's runs draw new ones each time (coverage grows run by run).
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=40)
settings.register_profile("dev", deadline=None, max_examples=40)


def in_ci(environ=None):
    """True when running under CI (``CI=true``), where nothing may be skipped for lack of dot."""
    environ = os.environ if environ is None else environ
    return environ.get("CI", "").lower() == "true"


settings.load_profile("ci" if in_ci() else "dev")


def check_dot(which=None, environ=None):
    """Return the path of ``dot``; skip the test if it is missing, or fail it under CI.

    ``which`` and ``environ`` are injectable so the policy itself can be tested.
    """
    which = shutil.which if which is None else which
    path = which("dot")
    if path is None:
        if in_ci(environ):
            pytest.fail(f"{DOT_INSTALL_HINT} (CI=true: a missing dot is an error, not a skip)",
                        pytrace=False)
        pytest.skip(DOT_INSTALL_HINT)
    return path


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "needs_dot: the test renders with Graphviz 'dot'; skipped if missing, failed under CI=true",
    )


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_dot") is not None:
        check_dot()


@pytest.fixture
def requires_dot():
    """Fixture form of ``needs_dot``: yields the path of ``dot``."""
    return check_dot()


@pytest.fixture
def dot_policy():
    """The ``check_dot`` function itself, for tests of the skip/fail policy."""
    return check_dot


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Selenium driver) shared by the session; see ``tests/browser.py``."""
    driver = start_browser()
    yield driver
    driver.quit()
