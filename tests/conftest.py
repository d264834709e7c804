"""Shared fixtures: small and fast. The kernels are compiled (or loaded from numba's disk cache)
once per test session, before the first test, so no test's timeout is spent on the compiler."""

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The checkout under test, not a copy installed in site-packages: pytest puts it first on sys.path
# (pyproject's pythonpath), and subprocesses (`python -m gradtui`, probes) get it via PYTHONPATH.
ROOT = Path(__file__).resolve().parent.parent
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(
    os.pathsep) if p and Path(p).resolve() != ROOT])
if str(ROOT) not in sys.path:  # pragma: no cover - pythonpath = ["."] already put it there
    sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile the kernels every test uses, in both dtypes, before any test (and its timeout)
    starts: with an empty NUMBA_CACHE_DIR this takes 20-60 s on 2 cores; later it is a cache load.
    Subprocesses share the cache (same NUMBA_CACHE_DIR or the checkout's __pycache__)."""
    from gradtui.config import Config
    from gradtui.trainer import Trainer

    for dtype in ("float64", "float32"):
        Trainer(Config(depth=2, width=4, n_samples=16, batch_size=2, dtype=dtype)).warm_up()


@pytest.fixture
def quiet():
    """Silence NumPy overflow warnings of deliberately diverging runs."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@pytest.fixture
def write_preset(tmp_path):
    """write_preset(text or bytes, name="p.toml") -> path of a preset file in a temp dir."""

    def _write(content, name="p.toml"):
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    return _write


class _FullFile(__import__("io").BytesIO):
    """A binary file on a disk that fills up after ``room`` bytes: a short write, then ENOSPC.
    ``final`` holds the content when the writer closes it."""

    def __init__(self, room: int):
        super().__init__()
        self.room = room
        self.final = b""

    def write(self, b):
        import errno

        left = self.room - self.tell()
        if left <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(bytes(b[:left]))

    def close(self):
        if not self.closed:
            self.final = self.getvalue()
        super().close()


@pytest.fixture
def full_file():
    """full_file(room) -> a file object whose disk fills after ``room`` bytes."""
    return _FullFile
