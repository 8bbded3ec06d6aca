"""Labels and ``nn`` errors name the user's line (the one that called the module), never a
line of the library (``cells.py:32``, ``functional.py:24``) or of ``<frozen runpy>``."""
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

USER_FILE = '''\
import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.viz import draw

tg.manual_seed(0)
rnn = nn.LSTM(3, 4)
head = nn.Linear(4, 1)
out, _ = rnn(tg.randn(3, 1, 3))
loss = ((head(out) - 1.0) ** 2).sum()
for view in ("unrolled", "tape", "rolled"):
    print(draw(loss, view=view, show=("op", "site")).source)
print(draw(loss).ledger("weight_hh_l0")[1].site)
try:
    rnn(tg.randn(3, 1, 5))
except ValueError as e:
    print("ERROR", e)
'''


def _run_as_a_script(tmp_path, *flags):
    script = tmp_path / "my_model.py"
    script.write_text(USER_FILE, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")]))
    done = subprocess.run([sys.executable, *flags, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_labels_and_errors_name_the_users_lines(tmp_path):
    out = _run_as_a_script(tmp_path)
    sites = set(re.findall(r"([\w<.-]+(?: [\w]+>)?\.py):(\d+)", out))
    assert sites and {name.strip() for name, _ in sites} == {"my_model.py"}, sites
    assert {int(line) for _, line in sites} <= {8, 9, 14}      # the lines that call modules
    assert "<frozen" not in out
    assert re.search(r"ERROR LSTM\(3, 4\) \(at my_model\.py:14\): input of shape", out)
