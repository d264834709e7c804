"""Shared fixtures: small and fast. Kernels are compiled once per process (numba disk cache)."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


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
