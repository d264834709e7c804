"""The real dashboard in a pseudo-terminal: it starts, shows training, and q, Ctrl+C, SIGTERM or
SIGHUP (a closed SSH session) end it cleanly: prompt exit, terminal restored, record completed."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")


def spawn(args: list[str], cols: int = 100, rows: int = 30) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI exactly as a user runs it
        os.environ["TERM"] = "xterm-256color"
        os.environ.pop("TEXTUAL", None)
        os.execv(sys.executable, [sys.executable, "-m", "gradtui", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def read_until(fd: int, needle: bytes, timeout: float, buf: bytearray) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return needle in buf
            if not chunk:
                break
            buf += chunk
            if needle in buf:
                return True
    return needle in buf


def wait_exit(pid: int, fd: int, timeout: float, buf: bytearray) -> int | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        read_until(fd, b"\x00never", 0.05, buf)  # keep draining so the child never blocks
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
    return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, b"q", b"\x03"],
                         ids=["SIGTERM", "SIGHUP", "q", "ctrl+c"])
def test_dashboard_ends_cleanly(tmp_path, sig):
    rec = tmp_path / "session.jsonl"
    pid, fd = spawn(["--preset", "relu-he", "--set", "depth=3", "--record", str(rec)])
    buf = bytearray()
    code = None
    try:
        assert read_until(fd, b"RUNNING", 90, buf), "the dashboard never showed a running trainer"
        assert read_until(fd, b"step", 5, buf)
        mark = len(buf)
        t0 = time.monotonic()
        if isinstance(sig, bytes):
            os.write(fd, sig)  # a keystroke, as the terminal sends it
        else:
            os.kill(pid, sig)
        code = wait_exit(pid, fd, 5, buf)
        elapsed = time.monotonic() - t0
    finally:
        if code is None:  # still running (or never signalled): do not leave it behind
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert code == 0, f"exit status {code}"
    assert elapsed < 3, f"took {elapsed:.1f} s to exit"
    assert b"\x1b[?1049l" in buf[mark:], "the alternate screen was not left: terminal not restored"
    lines = [json.loads(x) for x in rec.read_text().splitlines()]
    assert lines[0]["format"] == "gradtui-session/1"
    assert "end" in lines[-1] and lines[-1]["end"] > 0
