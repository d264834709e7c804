"""The dashboard's terminal: it refuses to start without one, and its watchdog ends the process when
the terminal is gone or on SIGTERM / SIGHUP even while the main thread is stuck (as Textual's
driver gets stuck on a dead terminal), after closing the files. The real hang-up of the real
dashboard is tested in tests/test_terminal.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")

ROOT = str(Path(__file__).resolve().parents[2])
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), OPENBLAS_NUM_THREADS="1")

# A process whose main thread blocks for good on a lock, like Textual's main thread waiting on a
# writer thread that died on EIO; the watchdog is all that can end it.
STUCK = r"""
import os, signal, sys, threading, tty
from gradtui.watchdog import Watchdog

out, fds = sys.argv[1], [int(x) for x in sys.argv[2:]]
stopped = threading.Event()
# stands for Textual's handler, which restarts the driver on the terminal
signal.signal(signal.SIGCONT, lambda *a: open(out + ".resumed", "a").write("x"))
wd = Watchdog(stop=stopped.set, stopped=stopped, close=lambda: open(out, "w").write("closed"),
              request_exit=lambda: None, fds=fds, grace_s=0.3, alive_s=0.3, poll_s=0.1)
wd.install()
if fds:
    tty.setraw(fds[0])  # as Textual's driver does
wd.guard_sigcont()
os.kill(os.getpid(), signal.SIGCONT)  # terminal alive: passed on to the resume handler
print("ready", flush=True)
lock = threading.Lock()
lock.acquire()
lock.acquire()  # stuck
"""


def run_stuck(tmp_path, fds=(), pass_fds=()):
    out = tmp_path / "closed.txt"
    p = subprocess.Popen([sys.executable, "-c", STUCK, str(out), *map(str, fds)], env=ENV,
                         stdout=subprocess.PIPE, text=True, pass_fds=pass_fds)
    assert p.stdout.readline().strip() == "ready"
    return p, out


def wait(p: subprocess.Popen, timeout: float = 20.0) -> int | None:
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_ends_a_stuck_process_after_closing_the_files(tmp_path, sig):
    p, out = run_stuck(tmp_path)
    p.send_signal(sig)
    p.send_signal(signal.SIGCONT)  # as the kernel sends with a hang-up: must not reach the resume
    assert wait(p) == 0, "the watchdog did not end the stuck process"
    assert out.read_text() == "closed"
    assert Path(f"{out}.resumed").read_text() == "x"  # SIGCONT reached it before the signal, not after


def test_terminal_gone_without_a_signal_ends_a_stuck_process(tmp_path):
    master, slave = os.openpty()  # the child is not this pty's session leader: no SIGHUP comes
    try:
        p, out = run_stuck(tmp_path, fds=[slave], pass_fds=[slave])
    finally:
        os.close(slave)
    time.sleep(0.3)  # a few polls with the terminal alive: nothing happens
    assert p.poll() is None
    os.close(master)  # the terminal goes away: the child's fd answers EIO from now on
    assert wait(p) == 0, "the watchdog did not notice the terminal was gone"
    assert out.read_text() == "closed"


def test_forced_exit_on_a_live_terminal_restores_it(tmp_path):
    import termios

    master, slave = os.openpty()
    try:
        p, out = run_stuck(tmp_path, fds=[slave], pass_fds=[slave])
        assert not termios.tcgetattr(master)[3] & termios.ICANON  # raw, as the app left it
        p.send_signal(signal.SIGTERM)
        assert wait(p) == 0
        assert out.read_text() == "closed"
        assert termios.tcgetattr(master)[3] & termios.ICANON  # the line discipline is back
        assert b"\x1b[?1049l" in os.read(master, 4096)  # main screen
    finally:
        os.close(slave)
        os.close(master)


def dashboard(args, **streams):
    return subprocess.run([sys.executable, "-m", "gradtui", *args], env=ENV, text=True,
                          capture_output=not streams, timeout=120, **streams)


def test_dashboard_without_a_terminal_refuses(tmp_path):
    rec = tmp_path / "s.jsonl"
    p = dashboard(["--preset", "relu-he", "--record", str(rec)], stdin=subprocess.DEVNULL,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 2
    assert p.stdout == "" and len(p.stderr.splitlines()) == 1, p.stderr
    assert p.stderr.startswith("gradtui: error: ") and "stdin" in p.stderr
    assert "--headless" in p.stderr and "--screenshot" in p.stderr
    assert not rec.exists()


def test_dashboard_with_output_redirected_refuses(tmp_path):
    master, slave = os.openpty()  # keys could come from a terminal, but the output goes to a log
    try:
        p = dashboard(["--preset", "relu-he"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, p.stderr
    assert "stdout is not one" in p.stderr and "\x1b" not in p.stdout + p.stderr
