"""Command line: ``gradtui [--preset NAME|PATH] [--set k=v ...] [--headless | --screenshot F] ...``.

Every bad input ends as one line ``gradtui: error: ...`` on stderr and exit status 2, before any
output file is created. Modes are small functions of (args, cfg) chosen in :func:`main`, so more
modes (``--record`` / ``--replay``) slot in beside them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: the UI keeps its core

import argparse
import contextlib
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Sequence

from gradtui import __version__
from gradtui.config import printable, shorten
from gradtui.presets import PresetError, list_presets, load_preset

PROG = "gradtui"
DEFAULT_PRESET = "deep-sigmoid"
DEFAULT_HEADLESS_STEPS = 1000
DEFAULT_SCREENSHOT_STEPS = 300
DEFAULT_SIZE = (120, 40)
ACC_WINDOW = 100  # train accuracy is the mean over this many last steps


class UsageError(Exception):
    """Bad input found before running: one line, exit status 2."""


def _fail(msg: str) -> int:
    """The one error line; control characters (from a path or a file) are shown escaped."""
    print(f"{PROG}: error: {printable(' '.join(str(msg).split()))}", file=sys.stderr)
    return 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one short line instead of usage + message
        raise UsageError(f"{message} (see {PROG} --help)")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {shorten(repr(text))}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {shorten(repr(text))}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        if not sep:
            raise ValueError
        size = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 120x40, got {shorten(repr(text))}") from None
    if not (40 <= size[0] <= 1000 and 12 <= size[1] <= 500):
        raise argparse.ArgumentTypeError(f"size {shorten(repr(text))} out of range (width 40-1000, height 12-500)")
    return size


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="A terminal laboratory for vanishing and exploding gradients. "
                    f"'{PROG} bench ...' runs the benchmark.",
        epilog=f"examples: {PROG} --preset deep-sigmoid | {PROG} --preset relu-he --set lr=0.1 "
               f"--headless --steps 2000 --export run.jsonl | {PROG} --list-presets",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--list-presets", action="store_true", help="list the shipped presets and exit")
    p.add_argument("-p", "--preset", metavar="NAME|PATH", default=None,
                   help=f"preset name or path to a .toml file (default: {DEFAULT_PRESET})")
    p.add_argument("-s", "--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="override a config field, e.g. --set lr=0.1 --set hidden=[64,32] (repeatable)")
    p.add_argument("--seed", type=_seed, default=None, help="random seed (overrides the preset's)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true",
                      help="train without the dashboard; progress on stderr, summary on stdout")
    mode.add_argument("--screenshot", metavar="OUT.svg", default=None,
                      help="render the dashboard after --steps steps to an SVG file and exit")
    p.add_argument("-n", "--steps", type=_positive_int, default=None,
                   help=f"steps to train (headless default {DEFAULT_HEADLESS_STEPS}, "
                        f"screenshot default {DEFAULT_SCREENSHOT_STEPS})")
    p.add_argument("--export", metavar="RUN.jsonl|RUN.csv", default=None,
                   help="with --headless: stream per-step statistics to a .jsonl or .csv file")
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help=f"screenshot size in cells (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    p.add_argument("--no-mouse", action="store_true", help="dashboard without mouse tracking (e.g. over SSH)")
    p.add_argument("--record", metavar="SESSION.jsonl", default=None,
                   help="record the seed, the preset and every command with its step, to share or replay")
    p.add_argument("--replay", metavar="SESSION.jsonl", default=None,
                   help="with --headless: reproduce a recorded session bit for bit (its config replaces --preset)")
    return p


# ----------------------------------------------------------------------------------- checks
def check_writable(path_text: str, what: str) -> Path:
    """Fail now (one line) unless ``path`` can be created; creates nothing that stays behind."""
    path = Path(path_text)
    if path.is_dir():
        raise UsageError(f"{what} {path_text}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{what} {path_text}: directory {str(parent)!r} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{what} {path_text}: not writable")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".gradtui-probe-"):
            pass
    except OSError as e:
        raise UsageError(f"{what} {path_text}: cannot write in {str(parent)!r} ({e.strerror or e})") from None
    return path


def _check_args(args) -> None:
    if args.export and not args.headless:
        raise UsageError("--export needs --headless")
    if args.size and not args.screenshot:
        raise UsageError("--size needs --screenshot")
    if args.steps is not None and not (args.headless or args.screenshot):
        raise UsageError("--steps needs --headless or --screenshot")
    if args.replay and not args.headless:
        raise UsageError("--replay needs --headless")
    if args.replay and (args.preset or args.overrides or args.seed is not None):
        raise UsageError("--replay takes the session's own configuration: drop --preset/--set/--seed")
    if args.record and args.screenshot:
        raise UsageError("--record goes with the dashboard or --headless")
    if args.record:
        check_writable(args.record, "--record")
    if args.export:
        from gradtui.export import ExportError, check_suffix
        check_writable(args.export, "--export")
        try:
            check_suffix(args.export)
        except ExportError as e:
            raise UsageError(f"--export {e}") from None
    if args.screenshot:
        if Path(args.screenshot).suffix.lower() != ".svg":
            raise UsageError(f"--screenshot {args.screenshot}: the file name must end in .svg")
        check_writable(args.screenshot, "--screenshot")


def check_fits(*configs) -> None:
    """Refuse (one line) a run whose configurations cannot all be allocated in the memory there is."""
    from gradtui.memory import MemoryLimitError, check_memory

    try:
        for cfg in configs:
            check_memory(cfg)
    except MemoryLimitError as e:
        raise UsageError(str(e)) from None


def session_configs(session) -> list:
    """Every configuration a replayed session builds a network for (its start, presets, sets)."""
    cfg, out = session.config, [session.config]
    for _, cmd in session.commands:
        if cmd.kind in ("preset", "set"):
            cfg = cmd.value if cmd.kind == "preset" else cfg.replace(**dict(cmd.value))
            out.append(cfg)
    return out


@contextlib.contextmanager
def quiet_numerics():
    """No NumPy overflow / invalid-value warnings on the terminal: divergence is shown, not shouted."""
    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ----------------------------------------------------------------------------------- modes
def cmd_list_presets() -> int:
    presets = list_presets()
    w = max((len(n) for n in presets), default=0)
    for name, desc in presets.items():
        print(f"{name:<{w}}  {desc}")
    return 0


def cmd_dashboard(cfg, args) -> int:
    try:
        from gradtui.app import run_app
    except ImportError as e:
        return _fail(f"the dashboard is not available ({e})")
    with quiet_numerics():
        extra = {"record": args.record} if args.record else {}
        rc = run_app(cfg, mouse=not args.no_mouse, **extra)
    return rc if isinstance(rc, int) else 0


def cmd_screenshot(cfg, args) -> int:
    try:
        from gradtui.app import save_screenshot
    except ImportError as e:
        return _fail(f"the dashboard is not available ({e})")
    steps = args.steps or DEFAULT_SCREENSHOT_STEPS
    with quiet_numerics():
        save_screenshot(cfg, steps=steps, size=args.size or DEFAULT_SIZE, path=args.screenshot)
    print(f"wrote {args.screenshot} ({steps} steps)", file=sys.stderr)
    return 0


def _sci(x: float) -> str:
    import math
    return "-" if not math.isfinite(x) else f"{x:.2e}"


def _pct(x: float) -> str:
    import math
    return "-" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _fix(x: float, digits: int = 4) -> str:
    import math
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def summary(trainer) -> str:
    """The per-layer table and final figures printed after a headless run."""
    import numpy as np

    from gradtui.stats import GLOBAL_COL, LAYER_COL, STATUS_NAMES

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
            lines.append(f"{name:<6} {_sci(row[LAYER_COL['grad_norm']]):>10} "
                         f"{_sci(row[LAYER_COL['update_ratio']]):>12} "
                         f"{_pct(row[LAYER_COL['saturated']]):>9} {_pct(row[LAYER_COL['dead']]):>7}")
        loss = float(glob[k, GLOBAL_COL["loss"]])
    else:
        loss = float("nan")
        lines.append("no finite step to summarise")
    recent = glob[-ACC_WINDOW:]
    acc = recent[:, GLOBAL_COL["train_acc"]]
    acc = float(np.mean(acc[np.isfinite(acc)])) if np.isfinite(acc).any() else float("nan")
    test = glob[:, GLOBAL_COL["test_acc"]]
    test = float(test[np.isfinite(test)][-1]) if np.isfinite(test).any() else float("nan")
    tloss = glob[:, GLOBAL_COL["test_loss"]]
    tloss = float(tloss[np.isfinite(tloss)][-1]) if np.isfinite(tloss).any() else float("nan")
    status = STATUS_NAMES.get(int(glob[-1, GLOBAL_COL["status"]]), "?") if len(glob) else "ok"
    lines.append(f"steps: {trainer.step_count}  status: {status}")
    lines.append(f"final loss: {_fix(loss, 6) if abs(loss) < 1e6 else _sci(loss)}")
    lines.append(f"train acc (mean of last {min(ACC_WINDOW, len(recent))} steps): {_fix(acc)}")
    lines.append(f"last test acc: {_fix(test)}  (test loss {_fix(tloss)})")
    return "\n".join(lines)


@contextlib.contextmanager
def stop_on_signals():
    """SIGTERM and SIGHUP (a closed SSH session) stop a headless run like Ctrl+C: the export and
    record files are flushed and closed, the summary printed."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(ValueError, OSError):  # not the main thread / unsupported
                old[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def cmd_headless(cfg, args, session=None) -> int:
    import numpy as np

    from gradtui.stats import GLOBAL_COL
    from gradtui.trainer import Trainer

    if session is not None:
        n_steps = args.steps or session.end or (session.commands[-1][0] if session.commands else 0)
        n_steps = n_steps or DEFAULT_HEADLESS_STEPS
    else:
        n_steps = args.steps or DEFAULT_HEADLESS_STEPS
    try:
        trainer = Trainer(cfg)
    except ValueError as e:
        raise UsageError(str(e)) from None
    err = sys.stderr
    print("compiling kernels...", file=err, flush=True)
    compile_s = trainer.warm_up()
    print(f"kernels ready in {compile_s:.1f}s", file=err, flush=True)

    exporter = pump = None
    if args.export:
        from gradtui.export import ExportPump, open_exporter
        try:
            exporter = open_exporter(args.export, trainer.layer_names)
        except OSError as e:
            raise UsageError(f"--export {args.export}: {e.strerror or e}") from None
        pump = ExportPump(trainer, exporter)
    recorder = None
    if args.record:
        from gradtui.session import Recorder
        recorder = Recorder(args.record, trainer)

    t0 = last = time.perf_counter()
    last_steps = 0
    interrupted = False

    def progress(now: float) -> None:
        _, g, _ = trainer.ring.last(ACC_WINDOW)
        acc = g[:, GLOBAL_COL["train_acc"]]
        acc_s = _fix(float(np.mean(acc[np.isfinite(acc)])), 3) if np.isfinite(acc).any() else "n/a"
        loss = float(g[-1, GLOBAL_COL["loss"]]) if len(g) else float("nan")
        rate = (trainer.step_count - last_steps) / max(now - last, 1e-9)
        print(f"step {trainer.step_count}/{n_steps}  loss {loss:.4g}  acc {acc_s}  "
              f"{rate:,.0f} steps/s  {trainer.status}", file=err, flush=True)

    def after_chunk(tr) -> None:
        nonlocal last, last_steps
        if pump:
            pump.pump()
        now = time.perf_counter()
        if now - last >= 1.0:
            progress(now)
            last, last_steps = now, trainer.step_count

    try:
        with quiet_numerics(), stop_on_signals():
            if session is not None:
                from gradtui.session import replay
                replay(session, trainer, until=n_steps, after_chunk=after_chunk)
            else:
                while trainer.step_count < n_steps and not trainer.diverged:
                    trainer.run_chunk(max_steps=n_steps - trainer.step_count, seconds=0.05)
                    after_chunk(trainer)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pump:
            pump.pump()
        if exporter:
            exporter.close()
        if recorder:
            recorder.close()
    elapsed = time.perf_counter() - t0
    if interrupted:
        print(f"interrupted at step {trainer.step_count}", file=err)
    elif trainer.diverged:
        steps, _, _ = trainer.ring.last(1)
        print(f"diverged at step {int(steps[-1]) if len(steps) else trainer.step_count}", file=err)
    print(f"{trainer.step_count} steps in {elapsed:.1f}s "
          f"({trainer.step_count / max(elapsed, 1e-9):,.0f} steps/s)", file=err)
    if exporter:
        print(f"wrote {exporter.rows} rows to {args.export}", file=err)
    with quiet_numerics():
        print(summary(trainer))
    return 130 if interrupted else 0


# ----------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "bench":
            try:
                from gradtui.bench import main as bench_main
            except ImportError as e:
                return _fail(f"the benchmark is not available ({e})")
            return bench_main(argv[1:])
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help / --version
            return e.code if isinstance(e.code, int) else 0
        if args.list_presets:
            return cmd_list_presets()
        _check_args(args)
        if args.replay:
            from gradtui.session import SessionError, load_session
            try:
                session = load_session(args.replay)
            except SessionError as e:
                raise UsageError(f"--replay {e}") from None
            check_fits(*session_configs(session))
            return cmd_headless(session.config, args, session)
        cfg = load_preset(args.preset or DEFAULT_PRESET, args.overrides, args.seed)
        check_fits(cfg)
        if args.headless:
            return cmd_headless(cfg, args)
        if args.screenshot:
            return cmd_screenshot(cfg, args)
        return cmd_dashboard(cfg, args)
    except (UsageError, PresetError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gradtui --list-presets | head -1`
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
