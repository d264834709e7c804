"""The headless mode: train (or replay a session) without the UI, with progress on stderr, the
export and the recorder wired in, and a summary on stdout.

Counts are ``Trainer.total_steps`` (every step run, resets included), so progress, the summary and
the export's row count agree. The loop is :func:`gradtui.drive.run` (chunks of
``drive.CHUNK_SECONDS``). SIGTERM, SIGHUP and SIGINT only set a flag that the loop reads between
chunks: every step run is exported before the summary is printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Iterator

import numpy as np

from gradtui import __version__, drive
from gradtui.numfmt import num, pct
from gradtui.outputs import OutputError, UsageError, emit, note, quiet_numerics

ACC_WINDOW = 100  # train accuracy is the mean over this many last steps
STOP_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")


def summary(trainer) -> str:
    """The per-layer table and final figures printed after a headless run."""
    from gradtui.stats import GLOBAL_COL, LAYER_COL, STATUS_NAMES, finite_mean, last_finite

    steps, glob, layers = trainer.ring.last(max(ACC_WINDOW, trainer.cfg.eval_every + 1))
    ok = np.flatnonzero(glob[:, GLOBAL_COL["status"]] == 0)
    lines = []
    if len(ok):
        k = ok[-1]
        lines.append(f"per-layer statistics at step {int(steps[k])} (input side first):")
        hdr = f"{'layer':<6} {'grad_norm':>10} {'update_ratio':>12} {'saturated':>9} {'dead':>7}"
        lines += [hdr, "-" * len(hdr)]
        for i, name in enumerate(trainer.layer_names):
            row = layers[k, i]
            lines.append(f"{name:<6} {num(row[LAYER_COL['grad_norm']]):>10} "
                         f"{num(row[LAYER_COL['update_ratio']]):>12} "
                         f"{pct(row[LAYER_COL['saturated']]):>9} {pct(row[LAYER_COL['dead']]):>7}")
        loss = float(glob[k, GLOBAL_COL["loss"]])
    else:
        loss = float("nan")
        lines.append("no finite step to summarise")
    recent = glob[-ACC_WINDOW:]
    acc = finite_mean(recent[:, GLOBAL_COL["train_acc"]])
    test = last_finite(glob[:, GLOBAL_COL["test_acc"]])
    tloss = last_finite(glob[:, GLOBAL_COL["test_loss"]])
    status = STATUS_NAMES.get(int(glob[-1, GLOBAL_COL["status"]]), "?") if len(glob) else "ok"
    since = "" if trainer.step_count == trainer.total_steps else \
        f" ({trainer.step_count} since the last reset/rebuild)"
    lines.append(f"steps: {trainer.total_steps}{since}  status: {status}")
    lines.append(f"final loss: {num(loss, 4)}")  # the dashboard's format, with more digits
    lines.append(f"train acc (mean of last {min(ACC_WINDOW, len(recent))} steps): {pct(acc)}")
    lines.append(f"last test acc: {pct(test)}  (test loss {num(tloss, 4)})")
    lines += ["", diagnosis(trainer)]
    return "\n".join(lines)


def diagnosis(trainer) -> str:
    """The summary's ``diagnosis:`` section: :func:`gradtui.diagnose.diagnose` of the newest
    window (what the dashboard would show now), with the theory's prediction for this network
    beside the measured ratios, at most 80 columns wide."""
    from gradtui import theory
    from gradtui.diagnose import diagnose, format_findings

    return format_findings(diagnose(trainer.snapshot(), theory.predict(trainer.cfg, trainer.data.x_train)))


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM, SIGHUP (a closed SSH session) and SIGINT set the yielded event, nothing more: the
    loop stops between chunks, so no write is cut in half and every step run is exported."""
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()

    old = {}
    for name in STOP_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(ValueError, OSError):  # not the main thread / unsupported
                old[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


class Progress:
    """About one line a second on stderr: total steps, loss, recent accuracy, steps/s, state."""

    def __init__(self, trainer, n_steps: int, every: float = drive.PROGRESS_SECONDS):
        self.trainer, self.n_steps, self.every = trainer, n_steps, every
        self.last_t, self.last_n = time.perf_counter(), trainer.total_steps

    def tick(self) -> None:
        now = time.perf_counter()
        if now - self.last_t < self.every:
            return
        from gradtui.stats import GLOBAL_COL, finite_mean

        tr = self.trainer
        _, g, _ = tr.ring.last(ACC_WINDOW)
        acc = g[:, GLOBAL_COL["train_acc"]]
        acc_s = pct(finite_mean(acc))  # (pct of NaN is "–")
        loss = float(g[-1, GLOBAL_COL["loss"]]) if len(g) else float("nan")
        rate = (tr.total_steps - self.last_n) / max(now - self.last_t, 1e-9)
        note(f"step {tr.total_steps}/{self.n_steps}  loss {num(loss, 3)}  acc {acc_s}  "
             f"{rate:,.0f} steps/s  {tr.status}")
        self.last_t, self.last_n = now, tr.total_steps


@contextlib.contextmanager
def outputs_or_nothing(args, stack: contextlib.ExitStack) -> Iterator[None]:
    """Open --export / --record files inside: a UsageError raised there (a file that cannot be
    opened: exit 2) closes ``stack`` and removes the files this block created, so bad input leaves
    no file behind. The headless mode's and the A/B mode's outputs both open through it."""
    created = [p for p in (args.export, args.record) if p and not os.path.lexists(p)]
    try:
        yield
    except UsageError:
        stack.close()
        for path in created:
            with contextlib.suppress(OSError):
                os.remove(path)
        raise


def open_writer(opener, flag: str):
    """``opener()`` with an OutputError raised as the one-line usage error naming ``flag``."""
    try:
        return opener()
    except OutputError as e:  # before any step: bad input, exit 2
        raise UsageError(f"{flag} {e}") from None


def _open_outputs(trainer, args, stack: contextlib.ExitStack):
    """The export pump and the recorder (None when not asked for), closed by ``stack``."""
    pump = recorder = None
    with outputs_or_nothing(args, stack):
        if args.export:
            from gradtui.export import ExportPump, open_exporter
            exporter = open_writer(lambda: open_exporter(args.export, trainer.layer_names), "--export")
            stack.callback(exporter.close)
            pump = ExportPump(trainer, exporter, hist_every=hist_every(args))
            stack.callback(pump.pump)  # runs first: the last rows, then close
        if args.record:
            from gradtui.session import Recorder
            recorder = open_writer(lambda: Recorder(args.record, trainer), "--record")
            stack.callback(recorder.close)
    return pump, recorder


def hist_every(args) -> int | None:
    """Steps between the export's histogram records (``--export-hist``), None when off."""
    from gradtui.export import HIST_EVERY

    return HIST_EVERY if getattr(args, "export_hist", False) else None


def _steps_to_run(args, session, default: int) -> int:
    if session is None:
        return args.steps or default
    n = args.steps or session.end or (session.commands[-1][0] if session.commands else 0)
    return n or default


def run_headless(cfg, args, session=None, default_steps: int = 1000) -> int:
    """``--headless`` (optionally ``--replay``, ``--export``, ``--record``). Returns the exit code."""
    from gradtui.config import printable, shorten
    from gradtui.trainer import Trainer

    if session is not None and session.version and session.version != __version__:
        recorded = printable(shorten(session.version))  # from the file: no escape reaches the terminal
        note(f"gradtui: warning: the session was recorded by gradtui {recorded}; this is "
             f"{__version__}, so the replay may differ")
    n_steps = _steps_to_run(args, session, default_steps)
    try:
        trainer = Trainer(cfg)
    except ValueError as e:
        raise UsageError(str(e)) from None
    note("compiling kernels...")
    note(f"kernels ready in {trainer.warm_up():.1f}s")
    if trainer.slow_step_note():  # q / Ctrl+C act between steps: say when those are long
        note(trainer.slow_step_note())
    progress = Progress(trainer, n_steps)
    t0 = time.perf_counter()
    with stop_on_signals() as stop, contextlib.ExitStack() as stack:
        pump, recorder = _open_outputs(trainer, args, stack)

        def after_chunk(tr) -> None:
            if pump:
                pump.pump()
            if recorder and recorder.error:  # stop now, not at the end of a long run
                raise recorder.error
            progress.tick()

        with quiet_numerics():
            if session is not None:
                from gradtui.session import replay
                replay(session, trainer, until=n_steps, after_chunk=after_chunk,
                       seconds=drive.CHUNK_SECONDS, should_stop=stop.is_set, align=hist_every(args))
            else:
                drive.run(trainer, n_steps, on_chunk=after_chunk, should_stop=stop.is_set,
                          seconds=drive.CHUNK_SECONDS, align=hist_every(args))
        interrupted = stop.is_set()
    return _finish(trainer, args, pump, interrupted, time.perf_counter() - t0)


def _finish(trainer, args, pump, interrupted: bool, elapsed: float) -> int:
    if interrupted:
        note(f"interrupted at step {trainer.total_steps}")
    elif trainer.diverged:
        steps, _, _ = trainer.ring.last(1)
        note(f"diverged at step {int(steps[-1]) if len(steps) else trainer.step_count}")
    note(f"{trainer.total_steps} steps in {elapsed:.1f}s "
         f"({trainer.total_steps / max(elapsed, 1e-9):,.0f} steps/s)")
    if pump:
        hist = f" and {pump.exporter.hist_records} histogram records" if pump.hist_every else ""
        note(f"wrote {pump.exporter.rows} rows{hist} to {args.export}")
    with quiet_numerics():
        emit(summary(trainer))
    return 130 if interrupted else 0

