"""The dashboard's terminal: no start without one, and an end whatever state it is in (UI-agnostic).

Without a terminal (cron, CI, ``< /dev/null > log``) the dashboard would run until killed, writing
escape codes into a log: :func:`no_terminal` says why it will not start.

When the terminal really goes away (SSH drop, closed window, ``tmux kill-session``) the kernel sends
SIGHUP + SIGCONT and every later write to it fails with EIO. Textual's driver can then block the
main thread for good: its writer thread dies on EIO and leaves a full queue behind, and on SIGCONT
the driver even restarts application mode on the dead terminal (one more writer thread, and an
input thread spinning on end-of-file). A handler the asyncio loop would run never runs again.
So, while the dashboard runs:

- SIGHUP and SIGTERM are caught and reach a daemon thread through ``signal.set_wakeup_fd`` (a
  Python-level handler alone runs only in the main thread, and only once that thread gets going
  again: a signal delivered to another thread left a main thread blocked on a lock blocked);
- that thread also notices by itself that the terminal is gone (it checks every ``poll_s``); then
  it stops the trainer, closes the files (the record's ``end`` line), asks the app to exit and, if
  the process is still alive ``grace_s`` seconds later, ends it with ``os._exit``: a driver stuck
  on a dead terminal cannot keep the process alive. (A terminal still alive gets ``alive_s`` more
  for a slow but normal shutdown, and is put back into its normal mode before a forced exit.)
- SIGCONT reaches Textual's handler only while the terminal is alive.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import threading
from typing import Callable, Sequence


class Watchdog:
    def __init__(self, *, stop: Callable[[], None], stopped: threading.Event, close: Callable[[], None],
                 request_exit: Callable[[], None], fds: Sequence[int] = (), join_s: float = 2.0,
                 grace_s: float = 3.0, alive_s: float = 7.0, poll_s: float = 0.5) -> None:
        self.stop, self.stopped, self.close, self.request_exit = stop, stopped, close, request_exit
        self.fds = tuple(fds)  # the terminal: when none of them is a tty any more, it is gone
        self.join_s, self.grace_s, self.alive_s, self.poll_s = join_s, grace_s, alive_s, poll_s
        self.fired = threading.Event()  # a hang-up, SIGTERM or a lost terminal: shut down
        self.exit_code = 0  # what os._exit uses if it has to
        self._done = threading.Event()  # the process finished normally: stop watching
        self._old: dict[int, object] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._old_wakeup = -1
        self._tty_mode: list | None = None  # the terminal's mode before the dashboard started
        self._thread = threading.Thread(target=self._run, daemon=True, name="gradtui-watchdog")

    # ------------------------------------------------------------------ signals (main thread)
    def install(self) -> None:
        """Take SIGHUP and SIGTERM and start watching. Call from the main thread."""
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        with contextlib.suppress(termios.error, IndexError, OSError):
            self._tty_mode = termios.tcgetattr(self.fds[0])
        with contextlib.suppress(ValueError, OSError):  # not the main thread / unsupported
            self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in _QUIT_SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                self._old[sig] = signal.signal(sig, self._on_signal)
        self._thread.start()

    def guard_sigcont(self) -> None:
        """Pass SIGCONT on to the handler installed now (Textual's resume after Ctrl+Z) only while
        the terminal is alive: after a hang-up, resuming would restart the driver on a dead tty."""
        sig = getattr(signal, "SIGCONT", None)
        if sig is None or sig in self._old:
            return
        with contextlib.suppress(ValueError, OSError):
            prev = signal.signal(sig, self._on_cont)
            self._old[sig] = prev

    def uninstall(self, exit_code: int = 0) -> None:
        """The normal end: restore the handlers; the watchdog stops watching (or, if it already
        fired, exits with ``exit_code`` should the process not end by itself)."""
        self.exit_code = exit_code
        if self.fired.is_set():
            return  # ending anyway: keep SIGCONT away from the dead terminal's driver
        for sig, handler in self._old.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, handler)
        self._old.clear()
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(self._old_wakeup)
        self._done.set()  # the thread closes the pipe, no longer the wakeup fd

    def _on_signal(self, signum, frame) -> None:
        self.fired.set()  # (when the main thread runs it) nothing else: it may be inside any lock

    def _on_cont(self, signum, frame) -> None:
        if self.fired.is_set() or not self.terminal_alive():
            self.fired.set()
            return
        prev = self._old.get(signum)
        if callable(prev):
            prev(signum, frame)

    # ------------------------------------------------------------------ the watching thread
    def terminal_alive(self) -> bool:
        if not self.fds:
            return True
        return any(_isatty(fd) for fd in self.fds)  # a hung-up tty answers EIO: not a tty

    def _signalled(self) -> bool:
        """Whether SIGHUP or SIGTERM came (each caught signal writes its number to the pipe)."""
        ready, _, _ = select.select([self._wake_r], [], [], self.poll_s)
        try:
            data = os.read(self._wake_r, 4096) if ready else b""
        except (BlockingIOError, InterruptedError):
            data = b""
        return any(b in _QUIT_SIGNALS for b in data)

    def _run(self) -> None:
        while not self.fired.is_set():
            if self._done.is_set():
                os.close(self._wake_r)
                os.close(self._wake_w)
                return
            if self._signalled() or not self.terminal_alive():
                self.fired.set()
        self.stop()
        self.stopped.wait(self.join_s)  # the trainer stops between steps
        for step in (self.close, self.request_exit):
            try:
                step()
            except Exception:  # noqa: BLE001 - nothing may keep this thread from the exit below
                pass
        threading.Event().wait(self.grace_s)
        if self.terminal_alive():  # slow (a busy machine) rather than stuck on a dead terminal?
            threading.Event().wait(self.alive_s)
            self._restore_terminal()
        os._exit(self.exit_code)  # still here: the normal shutdown is stuck (e.g. on a dead tty)

    def _restore_terminal(self) -> None:
        """Best effort, never blocking: the terminal's mode back, main screen, cursor, no mouse."""
        if self._tty_mode is None:
            return
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self.fds[0], termios.TCSANOW, self._tty_mode)
        with contextlib.suppress(OSError):
            fd = self.fds[-1]
            os.set_blocking(fd, False)
            os.write(fd, _LEAVE_APP_MODE)


# mouse reports, bracketed paste, focus reports and the kitty keyboard protocol off; main screen;
# cursor shown (what Textual's driver undoes on a normal exit)
_LEAVE_APP_MODE = b"\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[<u\x1b[?1049l\x1b[?25h"
_QUIT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGHUP", "SIGTERM") if hasattr(signal, n))


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except (OSError, ValueError):
        return False


def no_terminal() -> str:
    """Why the dashboard cannot run here ("" when it can): it reads keys from stdin and draws on
    stderr, and a dashboard redirected to a log (cron, CI, ``< /dev/null > log``) would never end."""
    for name in ("stdin", "stdout", "stderr"):
        try:
            fd = getattr(sys, f"__{name}__").fileno()
        except (AttributeError, OSError, ValueError):  # None, closed or not a real file
            fd = -1
        if not _isatty(fd):
            return (f"the dashboard needs a terminal and {name} is not one: use --headless to train "
                    "without it (progress on stderr, summary on stdout) or --screenshot FILE.svg for a picture")
    return ""
