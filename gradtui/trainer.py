"""The trainer: owns one network, its optimiser state, data and statistics; knows nothing of any UI.

Thread model: any thread may :meth:`Trainer.submit` a :class:`Command` (nothing else goes down);
only the thread that drives the trainer (:func:`gradtui.drive.run`, which calls :meth:`run_chunk`)
touches its arrays, and what goes up to other threads is a :meth:`snapshot`. Commands are applied
between steps, at the start of the next chunk, and each one is recorded as an :class:`Event` with
the number of the first step that runs under it. Several trainers can live in one process.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from gradtui import kernels as K
from gradtui import numpy_backend, warmup
from gradtui import numba_cache
from gradtui import commands
from gradtui.checkpoints import Checkpoints
from gradtui.commands import (Backend, Command, LoadPreset, Pace, Pause, Reinit, Reset, Resume, SetFields, Step,
                              TogglePause, Undo)
from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.histograms import Histograms
from gradtui.histograms import measure as measure_histograms
from gradtui.data import Dataset, make_dataset
from gradtui.drive import BACKEND_EVENT, CHUNK_SECONDS
from gradtui.mlp import MLP, flops_per_sample, pack_config
from gradtui.numfmt import num
from gradtui.optimizers import schedule_lrs
from gradtui.stats import Boundary, Event, Snapshot, StatsRing

# Which config fields need which reaction when they change mid-run.
_REBUILD_DATA = {"dataset", "n_samples", "noise", "n_classes", "test_fraction", "seed"}
_REBUILD_MODEL = {"depth", "width", "hidden", "dtype", "batch_size"}
_REINIT = {"init", "init_std", "init_gain", "bias_std"}
_RESET_OPT = {"optimizer"}

# A chunk (one kernel call) is bounded by time *and* by work: FAST_FLOPS is more than one core
# sustains (~20-100 GFLOP/s here), so the work bound never bites while the step timing is right,
# but a timing that is wrong (a fast net's, after a rebuild into a big one) cannot make a chunk of
# hundreds of slow steps that a stop request would have to wait for.
FAST_FLOPS = 2e11
# What one core typically sustains (float64; float32 about twice), for the start-up estimate.
TYPICAL_FLOPS = 2e10
SLOW_STEP_S = 1.0  # say so at start when one step will take longer than this


class Trainer:
    def __init__(self, cfg: Config, ring_capacity: int = 8192, chunk_seconds: float = CHUNK_SECONDS):
        self.commands: "queue.SimpleQueue[Command]" = queue.SimpleQueue()
        self.wake = threading.Event()  # set by submit(): an idle driver sleeps on it
        self.n_events = 0  # events ever recorded (the deque below is bounded)
        self.commands_taken = 0  # commands taken off the queue (a UI knows which keys a snapshot shows)
        self.chunk_seconds = chunk_seconds
        self.ring_capacity = ring_capacity
        self.events: deque[Event] = deque(maxlen=4096)
        self.paused = False
        self.message = ""
        self.compile_s: float | None = None
        self.backend = "kernels"  # or "numpy" (numpy_backend), until a Backend command switches it
        self._pending_steps = 0  # single steps requested while paused
        self.total_steps = 0  # steps run since construction; never reset (recorded sessions use it)
        self.on_command: Callable[[int, Command], None] | None = None  # called with total_steps
        self._timed_shape = None  # the network _sec_per_step was measured on
        self.pace: float | None = None  # a live driver's speed limit, steps/s (None: unthrottled)
        self.checkpoints = Checkpoints()  # for undo after a divergence
        self._build(cfg)

    # ----------------------------------------------------------------------------- building
    def _build(self, cfg: Config, keep_data: bool = False) -> None:
        """(Re)create data, network, optimiser state and statistics from ``cfg``; step 0."""
        self.cfg = cfg
        if not keep_data:
            self.data: Dataset = make_dataset(cfg.dataset, cfg.n_samples, cfg.noise, cfg.n_classes,
                                              cfg.test_fraction, cfg.seed)
        if cfg.batch_size > len(self.data.x_train):
            raise ValueError(f"batch_size {cfg.batch_size} is larger than the {len(self.data.x_train)} training points")
        dt = np.dtype(cfg.dtype)
        self.x = np.ascontiguousarray(self.data.x_train, dt)
        self.t = np.ascontiguousarray(self.data.t_train, dt)
        self.xte = np.ascontiguousarray(self.data.x_test, dt)
        self.tte = np.ascontiguousarray(self.data.t_test, dt)
        self.eout = np.zeros_like(self.tte)
        sizes = (self.x.shape[1], *cfg.hidden_sizes, self.t.shape[1])
        self.mlp = MLP(sizes, cfg.batch_size, cfg.dtype)
        self.init_rng = np.random.default_rng([cfg.seed, 1])
        self.batch_rng = np.random.default_rng([cfg.seed, 2])
        self.mlp.init_weights(cfg.init, self.init_rng, cfg.init_std, cfg.init_gain, cfg.bias_std)
        self.icfg, self.fcfg = pack_config(cfg, self.data.task)
        self.ring = StatsRing(self.mlp.n_layers, self.ring_capacity)
        self.kdata = K.Data(self.x, self.t, self.xte, self.tte, self.eout)  # the kernels' grouped arguments
        self.kring = K.Ring(self.ring.step, self.ring.glob, self.ring.layers)
        # forward + backward + update: 6 flops per weight per sample (as the benchmark counts)
        self.step_flops = cfg.batch_size * flops_per_sample(sizes)
        shape = (sizes, cfg.batch_size, cfg.dtype)
        if shape != self._timed_shape:  # another network: time it afresh
            self._timed_shape, self._sec_per_step = shape, None  # (its first chunk is 1 step)
        self.step_count = 0
        self.opt_t = 0
        self.diverged = False
        self._perm = np.empty(0, np.int64)
        self._perm_pos = 0

    @property
    def layer_names(self) -> tuple[str, ...]:
        return self.mlp.names

    @property
    def status(self) -> str:
        if self.diverged:
            return "diverged"
        return "paused" if self.paused else "running"

    # ----------------------------------------------------------------------------- commands
    def submit(self, cmd: Command) -> None:
        """Thread-safe: queue a command; it applies before the next step. Only command objects
        travel down to a trainer: anything else is a TypeError here, in the caller's thread."""
        if not isinstance(cmd, commands.ALL):
            raise TypeError(f"Trainer.submit takes a command ({', '.join(c.__name__ for c in commands.ALL)}), "
                            f"not {cmd!r}")
        self.commands.put(cmd)
        self.wake.set()

    def apply_pending(self) -> list[Event]:
        applied = []
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return applied
            self.commands_taken += 1
            ev = self.apply(cmd)
            if ev is not None:
                applied.append(ev)

    def apply(self, cmd: Command) -> Event | None:
        """Apply one command now (from the driving thread). Returns the recorded event."""
        if self.on_command is not None:
            self.on_command(self.total_steps, cmd)
        if cmd.numeric and not isinstance(cmd, Undo):
            self.checkpoints.clear()  # every checkpoint kept ran under the current configuration
        match cmd:
            case Pause():
                self.paused = True
                return self._event("paused")
            case Resume():
                self.paused = False
                return self._event("resumed")
            case TogglePause():
                self.paused = not self.paused
                return self._event("paused" if self.paused else "resumed")
            case Pace(steps_per_s=p):
                self.pace = p
                return None
            case Undo():
                return self._event(self.checkpoints.undo(self))
            case Step(n=n):
                self._pending_steps += n
                return None
            case Reset():
                self._build(self.cfg)
                return self._event("reset: step 0, fresh data, weights and optimiser")
            case LoadPreset(config=cfg):
                self._build(cfg)
                return self._event(f"preset {cfg.name}")
            case Reinit():
                self.cfg = cmd.after(self.cfg)
                self._reinit()
                return self._event(f"re-initialised weights with {self.cfg.init}")
            case SetFields():
                return self._set(cmd.as_dict())
            case Backend(name=name):
                if name == self.backend:
                    return None
                self.backend = name  # every piece of state lives in the trainer's arrays: it carries over
                self._sec_per_step = None  # time the other backend afresh (its first chunk is 1 step)
                return self._event(BACKEND_EVENT[name])
        raise TypeError(f"not a command: {cmd!r}")

    def _set(self, changes: dict) -> Event | None:
        changes = {k: v for k, v in changes.items() if getattr(self.cfg, k) != v}
        if not changes:
            return None
        old = self.cfg
        new = old.replace(**changes)
        keys = set(changes)
        text = ", ".join(f"{k}={_fmt(v)}" for k, v in changes.items())
        if keys & (_REBUILD_DATA | _REBUILD_MODEL):
            same_data = not (keys & _REBUILD_DATA)
            self._build(new, keep_data=same_data)
            return self._event(f"{text} (network rebuilt: step 0)")
        self.cfg = new
        self.icfg, self.fcfg = pack_config(new, self.data.task)
        notes = []
        if keys & _REINIT:
            self._reinit()
            notes.append("weights re-initialised")
        if keys & _RESET_OPT:
            self.mlp.reset_optimizer()
            self.opt_t = 0
            notes.append("optimiser state reset")
        self.diverged = self.diverged and not np.isfinite(self.mlp.theta).all()
        if self.diverged:
            notes.append("weights are not finite: reset or re-initialise")
        return self._event(text + (f" ({'; '.join(notes)})" if notes else ""))

    def _reinit(self) -> None:
        self.mlp.init_weights(self.cfg.init, self.init_rng, self.cfg.init_std, self.cfg.init_gain,
                              self.cfg.bias_std)
        self.mlp.reset_optimizer()
        self.opt_t = 0
        self.diverged = False

    def _event(self, text: str) -> Event:
        ev = Event(self.step_count, text)
        self.events.append(ev)
        self.n_events += 1
        self.message = text
        return ev

    # ----------------------------------------------------------------------------- training
    def _batches(self, n: int) -> np.ndarray:
        """(n, batch) row indices: shuffled epochs, independent of how steps are chunked."""
        b = self.cfg.batch_size
        out = np.empty((n, b), np.int64)
        flat = out.reshape(-1)
        filled = 0
        while filled < flat.size:
            if self._perm_pos >= len(self._perm):
                self._perm = self.batch_rng.permutation(len(self.x))
                self._perm_pos = 0
            take = min(flat.size - filled, len(self._perm) - self._perm_pos)
            # a batch never straddles two epochs' leftovers: drop the tail smaller than a batch
            if filled % b == 0 and len(self._perm) - self._perm_pos < b:
                self._perm_pos = len(self._perm)
                continue
            take = min(take, b - filled % b)
            flat[filled: filled + take] = self._perm[self._perm_pos: self._perm_pos + take]
            self._perm_pos += take
            filled += take
        return out

    def run_steps(self, n: int) -> int:
        """Run up to ``n`` steps now in one kernel call (fewer if it diverges). Returns steps run."""
        n = int(min(n, self.ring.capacity // 2))
        if n <= 0 or self.diverged:
            return 0
        self.checkpoints.maybe_take(self)
        idx = self._batches(n)
        c = self.cfg
        lrs = schedule_lrs(c.schedule, c.lr, self.step_count, n, c.schedule_steps, c.lr_gamma)
        m = self.mlp
        t0 = time.perf_counter()
        if self.backend == "numpy":
            rows, diverged = numpy_backend.train_chunk(self, idx, lrs)
        else:
            rows, diverged = K.train_chunk(self.kdata, idx, lrs, m.net, self.icfg, self.fcfg, m.bufs, self.kring,
                                           (self.step_count, self.opt_t, self.ring.pos))
        dt = time.perf_counter() - t0
        self.ring.advance(rows)
        self.step_count += rows
        self.total_steps += rows
        self.opt_t += rows - (1 if diverged else 0)
        if rows:
            sps = dt / rows
            self._sec_per_step = sps if self._sec_per_step is None else 0.7 * self._sec_per_step + 0.3 * sps
        if diverged:
            self.diverged = True
            self._event("diverged: non-finite loss or gradient; training paused (reset, clip or lower lr)")
        return rows

    def chunk_size(self, seconds: float | None = None) -> int:
        """Steps that fill about ``seconds``: by the measured time per step and by the work (at
        FAST_FLOPS), so a stop request never waits much more than one step. 1 until the first
        timing of this network. ``seconds=math.inf`` (``drive.UNTIMED``): no time bound, as many
        steps as one kernel call takes."""
        if seconds == math.inf:
            return self.ring.capacity // 2
        if self._sec_per_step is None:
            return 1
        s = self.chunk_seconds if seconds is None else seconds
        by_time = s / max(self._sec_per_step, 1e-9)
        by_work = s * FAST_FLOPS / max(self.step_flops, 1.0)
        return int(max(1, min(self.ring.capacity // 4, by_time, by_work)))

    def slow_step_note(self) -> str:
        """A warning when one step of this network will take more than about a second (estimated
        from its work before any step ran), else ``""``."""
        rate = TYPICAL_FLOPS * (2 if self.cfg.dtype == "float32" else 1)
        est = self.step_flops / rate
        if est <= SLOW_STEP_S:
            return ""
        return (f"big network: {self.step_flops / 1e9:,.0f} GFLOP per step, roughly {est:,.0f} s each; "
                "keys and quit take effect between steps")

    def run_chunk(self, max_steps: int | None = None, seconds: float | None = None) -> int:
        """Apply queued commands, then run one chunk as the state allows: about ``seconds`` of
        steps (default ``chunk_seconds``; sized after the commands, which may have rebuilt the
        network), at most ``max_steps``; none while diverged, while paused only the single steps
        asked for (the rest in the next chunks). Returns the steps run. (:func:`gradtui.drive.run`
        is the loop around it.)"""
        self.wake.clear()  # before the queue is read: a command submitted from now on sets it
        self.apply_pending()
        if self.diverged:
            return 0
        n = self.chunk_size(seconds)
        if max_steps is not None:
            n = min(n, max_steps)
        if self.paused:
            n = min(n, self._pending_steps)
            self._pending_steps -= max(n, 0)
        return self.run_steps(n)

    def warm_up(self) -> float:
        """Compile (or load from cache) the kernels training and the views need for this dtype, on
        throw-away buffers (``loss_grad``, for gradient checks only, is left to compile on first
        use: 4.7 s of a 26 s first start). A cache entry numba fails to load is deleted and
        rebuilt (:func:`gradtui.numba_cache.recover`). Returns the seconds it took."""
        self.compile_s = warmup.warm_kernels(self.cfg)
        return self.compile_s

    def kernels_cached(self) -> bool:
        """Load the kernels :meth:`warm_up` needs from numba's disk cache if they are all there,
        never compiling: True when they are ready now (a warm start), False when a compile is due
        (then the ones that were cached are loaded already). A damaged entry is deleted (False)."""
        try:
            with K.cache_only():
                warmup.load_cached(self.cfg)
            return True
        except K.NotCached:
            return False
        except Exception as e:  # noqa: BLE001 - numba's cache loader failed: the compile rebuilds it
            if not numba_cache.recover(e, K.__file__):
                raise
            return False

    def clone(self) -> "Trainer":
        """A fork: an independent trainer in exactly this state (weights, optimiser state, RNG
        states, batch order, statistics ring, events, step counters), whose next steps are bit for
        bit the ones this trainer would take. Call it from the thread driving this trainer (between
        chunks). Its command queue starts empty and it records nothing (no ``on_command``)."""
        import copy

        fresh = {"commands", "wake", "on_command"}
        new = Trainer.__new__(Trainer)
        new.__dict__.update(copy.deepcopy({k: v for k, v in vars(self).items() if k not in fresh}))
        new.commands, new.wake, new.on_command = queue.SimpleQueue(), threading.Event(), None
        return new

    # ----------------------------------------------------------------------------- views
    def boundary(self, cols: int = 48, rows: int = 24, n_points: int = 300) -> Boundary:
        """Model output over the input plane (evaluation mode), for the decision-boundary view."""
        from gradtui.boundary import measure_boundary

        return measure_boundary(self, cols, rows, n_points)

    def histograms(self) -> Histograms | None:
        """Per-layer histograms of the last step (None before the first step of this network, and
        on the NumPy backend: they are measured by a kernel)."""
        if self.step_count == 0 or self.backend != "kernels":
            return None
        return measure_histograms(self.mlp, self.step_count - 1, ACTIVATIONS[self.cfg.activation].bounds)

    def snapshot(self, window: int = 1024, status: str | None = None, boundary: Boundary | None = None,
                 steps_per_sec: float = 0.0, hist: Histograms | None = None, message: str | None = None) -> Snapshot:
        steps, glob, layers = self.ring.last(window)
        return Snapshot.build(
            self.cfg, self.layer_names, self.step_count, status or self.status, steps, glob, layers,
            events=tuple(self.events)[-64:], steps_per_sec=steps_per_sec,
            message=self.message if message is None else message,
            task=self.data.task, boundary=boundary, compile_s=self.compile_s,
            commands_taken=self.commands_taken, total_steps=self.total_steps, hist=hist, backend=self.backend,
            pace=self.pace)


def _fmt(v) -> str:
    if isinstance(v, float):
        return num(v)  # the one number format (the status bar shows this text)
    return str(v).lower() if isinstance(v, bool) else str(v)
