"""Writing outputs safely: whole lines or nothing, one-line errors, and no file used twice.

- :class:`LineFile` writes complete lines; when a write fails (disk full, EIO) the file is cut back
  to its last complete line, closed, and :class:`OutputError` raised (one line). The export and the
  session recorder write through it.
- :func:`emit` prints to stdout now and turns a failed write into :class:`OutputError`;
  :func:`note` writes progress to stderr only when it is a real, open stream.
- :func:`check_no_overlap` refuses a file given both as an input and an output (or as two outputs):
  the same resolved path, a symlink to it or a hard link.
- The CLI's two one-line errors: :class:`UsageError` (bad input, exit 2, before any output file
  exists) and :class:`OutputError` (a write failed while running, exit 1); :func:`quiet_numerics`
  keeps NumPy's overflow warnings off the terminal.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import IO, Sequence


class OutputError(Exception):
    """An output could not be written (disk full, I/O error, closed stdout); the message is one line."""


class UsageError(Exception):
    """Bad input found before running: one line, exit status 2."""


@contextlib.contextmanager
def quiet_numerics():
    """No NumPy overflow / invalid-value warnings on the terminal: divergence is shown, not shouted."""
    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


class LineFile:
    """An output written in whole lines. ``file`` (binary, for tests) replaces opening ``path``."""

    def __init__(self, path: str | Path, file: IO[bytes] | None = None):
        self.path = str(path)
        try:
            self._f: IO[bytes] | None = file if file is not None else open(path, "wb", buffering=0)
        except OSError as e:
            raise OutputError(f"{path}: cannot open for writing ({e.strerror or e})") from None
        self._good = 0  # bytes of complete lines on disk
        self._error: OutputError | None = None
        # the trainer thread writes (a command recorded) while the watchdog may close: one at a time
        self._lock = threading.RLock()

    def write(self, text: str) -> None:
        """Write ``text`` (complete lines) entirely, or cut the file back to before it and raise."""
        with self._lock:
            self._write(text)

    def _write(self, text: str) -> None:
        if self._f is None:
            raise self._error or OutputError(f"{self.path}: write after close")
        data = text.encode("utf-8")
        view = memoryview(data)
        try:
            while view:
                n = self._f.write(view)
                if not n:  # a raw file never returns 0 for a blocking write: do not spin
                    raise OSError(errno.EIO, "short write")
                view = view[n:]
            flush = getattr(self._f, "flush", None)
            if flush is not None:
                flush()
        except OSError as e:
            self._cut()
            self._error = OutputError(f"{self.path}: write failed ({e.strerror or e}); "
                                      "the file was cut back to its last complete line")
            raise self._error from None
        self._good += len(data)

    def _cut(self) -> None:
        f, self._f = self._f, None
        with contextlib.suppress(OSError, ValueError):  # e.g. /dev/full cannot be truncated
            f.truncate(self._good)
        with contextlib.suppress(OSError, ValueError):
            f.close()

    @property
    def closed(self) -> bool:
        return self._f is None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._f is not None:
            f, self._f = self._f, None
            try:
                f.close()
            except OSError as e:
                raise OutputError(f"{self.path}: close failed ({e.strerror or e})") from None


def write_whole(path: str, text: str) -> None:
    """Write a whole document (an SVG, a JSON report): it appears whole or not at all, written
    beside its target and renamed over it (a file replaced keeps its mode); a device or FIFO is
    written in place. A failure raises OSError and leaves any old file as it was."""
    real = os.path.realpath(path)  # through a symlink: its target gets the picture
    if os.path.exists(real) and not os.path.isfile(real):  # a device or FIFO: write it in place
        with open(real, "w", encoding="utf-8") as f:
            f.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(real), prefix=".gradtui-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # a new file gets the usual mode; a file replaced keeps its own (a 0600 one stays 0600)
        os.chmod(tmp, os.stat(real).st_mode & 0o7777 if os.path.exists(real) else 0o666 & ~_umask())
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- stdout / stderr
def _silence_stdout() -> None:
    """After a failed write, point fd 1 at /dev/null so the interpreter's exit flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)


def emit(text: str) -> None:
    """Print ``text`` and a newline to stdout now. A failed write raises :class:`OutputError`
    (a closed pipe stays a BrokenPipeError: ``gradtui ... | head`` is not an error)."""
    out = sys.stdout
    if out is None:  # stdout closed (>&-): nothing to write to
        return
    try:
        out.write(text + "\n")
        out.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as e:
        _silence_stdout()
        raise OutputError(f"cannot write to stdout ({getattr(e, 'strerror', None) or e})") from None


def note(text: str) -> None:
    """A progress or status line on stderr, only when stderr is a real, open stream (never stdout)."""
    err = sys.stderr
    if err is None or getattr(err, "closed", False):
        return
    with contextlib.suppress(OSError, ValueError):
        err.write(text + "\n")
        err.flush()


def reserve_std_fds() -> None:
    """Open /dev/null on a closed fd 0, 1 or 2 (``2>&-``), so that no output file opened later gets
    that number and receives stray writes meant for the terminal."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                got = os.open(os.devnull, os.O_RDWR)
                if got != fd:
                    os.dup2(got, fd)
                    os.close(got)


# ----------------------------------------------------------------------------- overlaps
def _identity(path: str) -> tuple:
    """What makes two paths the same file: (device, inode) when it exists, else the resolved path."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.normcase(real))


def check_no_overlap(inputs: Sequence[tuple[str, str]], outputs: Sequence[tuple[str, str]]) -> None:
    """``inputs`` / ``outputs``: (option, path) pairs. Raises ValueError (one line) when an output
    is an input or another output (same resolved path, symlink or hard link)."""
    seen: dict[tuple, str] = {}
    for opt, path in inputs:
        seen.setdefault(_identity(path), f"{opt} {path}")
    for opt, path in outputs:
        key = _identity(path)
        if key in seen:
            raise ValueError(f"{opt} {path} is the same file as {seen[key]}: use another file name")
        seen[key] = f"{opt} {path}"
