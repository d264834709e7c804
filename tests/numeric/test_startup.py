"""Start-up robustness: numba's cache falls back to a writable directory when the package
directory and HOME are read-only (``cache=True`` would otherwise fail at import time)."""

import json
import os
import subprocess
import sys

PROBE = r"""
import json, os, sys
import gradtui  # no numba yet: this only locates the package this interpreter really uses
pkg = os.path.dirname(os.path.abspath(gradtui.__file__))
home = sys.argv[1]
real_access = os.access
def access(path, mode, *a, **kw):  # the package dir and HOME are read-only for this process
    p = os.path.abspath(path)
    if mode & os.W_OK and (p.startswith(pkg) or p.startswith(home)):
        return False
    return real_access(path, mode, *a, **kw)
os.access = access
from gradtui.config import Config
from gradtui.trainer import Trainer
tr = Trainer(Config(depth=2, width=4, n_samples=64, batch_size=8))
tr.run_steps(3)
print(json.dumps({"cache": os.environ.get("NUMBA_CACHE_DIR"), "steps": tr.step_count}))
"""


def test_numba_cache_falls_back_when_package_dir_and_home_are_read_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    p = subprocess.run([sys.executable, "-c", PROBE, str(home)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["steps"] == 3
    assert out["cache"] and out["cache"].startswith(str(tmp_path / "tmp"))  # the temp-dir fallback
    assert os.listdir(out["cache"])  # and numba really cached kernels there
