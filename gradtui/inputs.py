"""Reading an input file (a preset, a session) without trusting what the path names.

``/dev/zero`` would be read until memory runs out and a FIFO would block the open forever, so the
path is ``stat``-ed first and only a regular file of bounded size is opened; the open itself is
non-blocking and the opened file is checked again (the path may have been swapped in between).
"""

from __future__ import annotations

import os
import stat

MIB = 1 << 20
PRESET_MAX_BYTES = 16 * MIB  # a preset is a few hundred bytes
SESSION_MAX_BYTES = 64 * MIB  # ~500,000 recorded commands

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class InputFileError(ValueError):
    """Why a file cannot be read, in a few words, without the path (the caller adds it)."""


def _check_stat(st: os.stat_result, max_bytes: int, what: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(f"is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise InputFileError(f"is {kind}, not a {what} (a regular file is needed)")
    if st.st_size > max_bytes:
        raise InputFileError(f"too large for a {what} ({st.st_size:,} bytes; at most {max_bytes:,})")


def _os_error(e: OSError) -> InputFileError:
    if isinstance(e, FileNotFoundError):
        return InputFileError("no such file")
    if isinstance(e, PermissionError):
        return InputFileError("permission denied")
    return InputFileError(f"cannot read: {e.strerror or e}")


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else
    :class:`InputFileError`. Never blocks on a FIFO or device, never reads more than the limit."""
    try:
        _check_stat(os.stat(path), max_bytes, what)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _os_error(e) from None
    try:
        _check_stat(os.fstat(fd), max_bytes, what)  # the file opened is the file checked
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(MIB, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise _os_error(e) from None
    finally:
        os.close(fd)
    if size > max_bytes:  # grew after the check
        raise InputFileError(f"too large for a {what} (more than {max_bytes:,} bytes)")
    return b"".join(chunks)
