"""Compiling the kernels in the background on a cold start: a child process fills numba's disk cache.

Numba's compiler is mostly Python: compiling in a thread of the dashboard's process would hold the
GIL against the UI and against the NumPy training that runs meanwhile (:mod:`gradtui.numpy_backend`),
and numba's process-wide compile lock would stop any kernel call. So :class:`Compiler` runs
``python -m gradtui.warmup DTYPE`` (the same package, the same ``NUMBA_CACHE_DIR``: the child writes
where this process reads), then loads what it cached here (~0.3 s). If the child fails, the kernels
are compiled in this process instead (in the compiler's thread; the NumPy training goes on), and
``fallback`` says why.

Only the thread that drives the trainer should call kernels while this runs: it trains on NumPy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import gradtui
from gradtui import numba_cache

# the child: this interpreter, this package first on the path
CHILD = [sys.executable, "-m", "gradtui.warmup"]
STOP_WAIT_S = 5.0  # a cancelled child gets this long to exit after SIGTERM, then SIGKILL


def child_env() -> dict[str, str]:
    """The environment for the child: this package first on its path; the NUMBA_CACHE_DIR this
    process chose (``numba_cache.choose_cache_dir`` sets it in ``os.environ``) is inherited."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(gradtui.__file__)))
    path = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))


def _warm_config(cfg):
    """A tiny network of ``cfg``'s dtype: the kernels' types, nothing else, depend on the config."""
    return cfg.replace(depth=2, width=4, hidden=(), batch_size=2, n_samples=16, eval_every=1)


def load_cached(cfg) -> None:
    """Call every kernel a trainer of ``cfg``'s dtype and its views use, once, on a tiny network
    (``loss_grad``, for gradient checks only, is left to compile on first use)."""
    from gradtui.trainer import Trainer

    tmp = Trainer(_warm_config(cfg), ring_capacity=8)
    tmp.run_steps(1)
    tmp.mlp.predict(tmp.xte, tmp.icfg, tmp.fcfg)
    tmp.histograms()


def warm_kernels(cfg) -> float:
    """Compile (or load from numba's cache) those kernels in this process; a cache entry numba
    fails to load is deleted and rebuilt (:func:`gradtui.numba_cache.recover`). Returns seconds."""
    from gradtui import kernels as K

    t0 = time.perf_counter()
    try:
        load_cached(cfg)
    except Exception as e:
        if not numba_cache.recover(e, K.__file__):
            raise
        load_cached(cfg)
    return time.perf_counter() - t0


class Compiler:
    """Makes the kernels for ``dtype`` ready in this process, in a daemon thread: a child process
    compiles them into the disk cache, then they are loaded here (or compiled here when the child
    failed). ``ready`` is set when done; ``error`` then holds what failed, if anything."""

    def __init__(self, dtype: str, command: list[str] | None = None):
        self.dtype = dtype
        self.command = (command or CHILD) + [dtype]
        self.t0 = time.perf_counter()
        self.seconds: float | None = None  # until ready
        self.fallback = ""  # why the kernels are compiled in this process, if they are
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self._cancelled = False
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True, name="gradtui-compile").start()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 if self.seconds is None else self.seconds

    def _child(self) -> str:
        """Run the child; "" when it succeeded, else why not (one line)."""
        try:
            with self._lock:
                if self._cancelled:
                    return "cancelled"
                self._proc = subprocess.Popen(self.command, env=child_env(), stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, err = self._proc.communicate()
        except OSError as e:
            return f"cannot start the compiler process: {e.strerror or e}"
        if self._proc.returncode == 0:
            return ""
        tail = err.decode("utf-8", "replace").strip().splitlines()
        return f"compiler process failed ({tail[-1][:120] if tail else f'exit {self._proc.returncode}'})"

    def _run(self) -> None:
        from gradtui.config import Config

        try:
            self.fallback = self._child()
            if self._cancelled:
                return
            warm_kernels(Config(dtype=self.dtype))  # loads what the child cached (or compiles)
        except BaseException as e:  # noqa: BLE001 - reported by whoever waits on ready
            self.error = e
        self.seconds = time.perf_counter() - self.t0
        self.ready.set()

    def cancel(self) -> None:
        """Stop the child now (a compile in this process cannot be interrupted: its daemon thread
        ends with the process)."""
        with self._lock:
            self._cancelled = True
            p = self._proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main(argv: list[str]) -> int:
    """``python -m gradtui.warmup DTYPE``: compile the kernels of that dtype into numba's cache."""
    from gradtui.config import Config

    if len(argv) != 1 or argv[0] not in ("float64", "float32"):
        print("usage: python -m gradtui.warmup float64|float32", file=sys.stderr)
        return 2
    warm_kernels(Config(dtype=argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
