"""The needs_dot policy: skip without dot locally, fail without dot under CI."""
import subprocess

import pytest


def _missing(name):
    return None


@pytest.mark.parametrize("ci", ["", "false"])
def test_missing_dot_skips_outside_ci(dot_policy, ci):
    with pytest.raises(pytest.skip.Exception) as info:
        dot_policy(which=_missing, environ={"CI": ci})
    msg = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz",
                 "conda install -c conda-forge graphviz"):
        assert hint in msg


def test_missing_dot_fails_in_ci(dot_policy):
    with pytest.raises(pytest.fail.Exception) as info:
        dot_policy(which=_missing, environ={"CI": "true"})
    assert "apt-get install graphviz" in str(info.value)


def test_present_dot_passes(dot_policy):
    assert dot_policy(which=lambda name: "/opt/bin/" + name, environ={"CI": "true"}) == "/opt/bin/dot"


@pytest.mark.needs_dot
def test_marker_runs_real_dot():
    out = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=True)
    assert "graphviz" in (out.stdout + out.stderr).lower()


def test_fixture_gives_dot_path(requires_dot):
    assert requires_dot.endswith("dot") or requires_dot.endswith("dot.exe")
