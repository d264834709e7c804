"""Command line: ``gradtui [--preset NAME|PATH] [--set k=v ...] [--headless | --screenshot F] ...``.

Argument parsing, input checks and dispatch only: the headless mode (``--replay``, ``--export``,
``--record`` wiring included) is :mod:`gradtui.headless`, the dashboard and the screenshot
:mod:`gradtui.ui`, the benchmark :mod:`gradtui.bench`. Every bad input ends as one line
``gradtui: error: ...`` on stderr and exit status 2, before any output file is created.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: the UI keeps its core

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from gradtui import __version__
from gradtui.config import printable, shorten
from gradtui.outputs import OutputError, UsageError, check_no_overlap, emit, note, quiet_numerics, reserve_std_fds
from gradtui.presets import PresetError, list_presets, load_preset

PROG = "gradtui"
DEFAULT_PRESET = "deep-sigmoid"
DEFAULT_HEADLESS_STEPS = 1000
DEFAULT_SCREENSHOT_STEPS = 300
DEFAULT_SIZE = (120, 40)


def _fail(msg: str, status: int = 2) -> int:
    """The one error line; control characters (from a path or a file) are shown escaped."""
    note(f"{PROG}: error: {printable(' '.join(str(msg).split()))}")
    return status


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
                    f"'{PROG} bench ...' runs the benchmark; '{PROG} theory ...' prints the "
                    f"signal-propagation prediction; '{PROG} learn' walks through the lessons.",
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
                   help="stream per-step statistics to a .jsonl or .csv file (headless or while the dashboard runs)")
    p.add_argument("--export-hist", action="store_true",
                   help="with --export RUN.jsonl: add a per-layer histogram record every 100 steps")
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help=f"screenshot size in cells (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    p.add_argument("--no-mouse", action="store_true", help="dashboard without mouse tracking (e.g. over SSH)")
    p.add_argument("--record", metavar="SESSION.jsonl", default=None,
                   help="record the seed, the preset and every command with its step, to share or replay")
    p.add_argument("--vs", metavar="NAME|PATH", default=None,
                   help="A/B: a second run B from this preset on the same seed, side by side with A")
    p.add_argument("--vs-set", dest="vs_sets", metavar="KEY=VALUE", action="append", default=[],
                   help="A/B: run B is a copy of A with this field changed, e.g. --vs-set batchnorm=true "
                        "(repeatable; after --vs's preset when both are given)")
    p.add_argument("--replay", metavar="SESSION.jsonl", default=None,
                   help="play a recorded session in the dashboard, or with --headless reproduce it bit for bit "
                   "(its config replaces --preset)")
    p.add_argument("--paused", action="store_true",
                   help="dashboard: start at step 0, paused (n takes one step, space runs; as a preset's start_paused)")
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
    real_parent = Path(os.path.realpath(path)).parent  # where a symlink's target is created
    if not real_parent.is_dir():
        raise UsageError(f"{what} {path_text}: a symlink into {str(real_parent)!r}, which does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=real_parent, prefix=".gradtui-probe-"):
            pass
    except OSError as e:
        raise UsageError(f"{what} {path_text}: cannot write in {str(parent)!r} ({e.strerror or e})") from None
    return path


def check_overlap(args) -> None:
    """No file is both read and written, or written twice (paths, symlinks, hard links)."""
    inputs = [("--replay", args.replay)] if args.replay else []
    if not args.replay and not args.list_presets:
        from gradtui.presets import resolve
        with contextlib.suppress(PresetError):  # a bad preset is reported when it is loaded
            inputs.append(("--preset", str(resolve(args.preset or DEFAULT_PRESET))))
            if args.vs:
                inputs.append(("--vs", str(resolve(args.vs))))
    outputs = [(opt, path) for opt, path in (("--record", args.record), ("--export", args.export),
                                             ("--screenshot", args.screenshot)) if path]
    try:
        check_no_overlap(inputs, outputs)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _check_args(args) -> None:
    if args.export and args.screenshot:
        raise UsageError("--export goes with the dashboard or --headless")
    if args.export_hist and not (args.export and args.export.lower().endswith(".jsonl")):
        raise UsageError("--export-hist needs --export RUN.jsonl")
    if args.size and not args.screenshot:
        raise UsageError("--size needs --screenshot")
    if args.steps is not None and not (args.headless or args.screenshot):
        raise UsageError("--steps needs --headless or --screenshot")
    if args.replay and args.screenshot:
        raise UsageError("--replay goes with the dashboard or --headless")
    if args.replay and args.record and not args.headless:
        raise UsageError("--record with --replay needs --headless (the dashboard's replay is a record already)")
    if args.paused and (args.headless or args.screenshot or args.replay):
        raise UsageError("--paused goes with the dashboard (a live run)")
    if args.replay and (args.preset or args.overrides or args.seed is not None):
        raise UsageError("--replay takes the session's own configuration: drop --preset/--set/--seed")
    if args.replay and (args.vs or args.vs_sets):
        raise UsageError("--replay takes the session's own runs: drop --vs/--vs-set")
    if args.export and (args.vs or args.vs_sets) and not args.headless:
        raise UsageError("--export with --vs writes both runs with --headless; the dashboard exports one run")
    if args.record and args.screenshot:
        raise UsageError("--record goes with the dashboard or --headless")
    check_overlap(args)
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


# ----------------------------------------------------------------------------------- modes
def cmd_list_presets() -> int:
    presets = list_presets()
    w = max((len(n) for n in presets), default=0)
    if presets:
        emit("\n".join(f"{name:<{w}}  {desc}" for name, desc in presets.items()))
    return 0


def cmd_dashboard(cfg, args, session=None) -> int:
    from gradtui.ui.terminal import run_app

    with quiet_numerics():
        extra = {"record": args.record} if args.record else {}
        if args.vs_cfg is not None:
            extra["vs"] = args.vs_cfg
        if args.export:
            from gradtui.headless import hist_every
            extra.update(export=args.export, hist_every=hist_every(args))
        extra.update({"paused": True} if args.paused else {}, **({"session": session} if session else {}))
        rc = run_app(cfg, mouse=not args.no_mouse, **extra)
    return rc if isinstance(rc, int) else 0


def cmd_screenshot(cfg, args) -> int:
    from gradtui.ui.screenshot import save_screenshot

    steps = args.steps or DEFAULT_SCREENSHOT_STEPS
    with quiet_numerics():
        try:
            extra = {"vs": args.vs_cfg} if args.vs_cfg is not None else {}
            save_screenshot(cfg, steps=steps, size=args.size or DEFAULT_SIZE, path=args.screenshot, **extra)
        except OSError as e:
            raise OutputError(f"--screenshot {args.screenshot}: write failed ({e.strerror or e})") from None
    note(f"wrote {args.screenshot} ({steps} steps)")
    return 0


# ----------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    reserve_std_fds()
    try:
        if argv and argv[0] == "bench":
            from gradtui.bench import main as bench_main

            return bench_main(argv[1:])
        if argv and argv[0] == "theory":
            from gradtui.theory_cli import main as theory_main

            return theory_main(argv[1:])
        if argv and argv[0] == "learn":
            from gradtui.learn import main as learn_main

            return learn_main(argv[1:])
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help / --version
            return e.code if isinstance(e.code, int) else 0
        if args.list_presets:
            return cmd_list_presets()
        _check_args(args)
        from gradtui.headless import run_headless

        args.vs_cfg = None  # run B's configuration (--vs, --vs-set)
        if args.replay:
            from gradtui.session import SessionError, load_session
            from gradtui.versus import load_pair, run_headless_vs
            try:
                pair = load_pair(args.replay)
                session = load_session(args.replay) if pair is None else None
            except SessionError as e:
                raise UsageError(f"--replay {e}") from None
            if pair is not None:
                if not args.headless:
                    raise UsageError("an A/B session replays with --headless (the dashboard plays one run)")
                check_fits(*pair[0].configs(), *pair[1].configs())
                return run_headless_vs([s.config for s in pair], args, pair, default_steps=DEFAULT_HEADLESS_STEPS)
            check_fits(*session.configs())
            if not args.headless:
                return cmd_dashboard(session.config, args, session)
            return run_headless(session.config, args, session, default_steps=DEFAULT_HEADLESS_STEPS)
        cfg = load_preset(args.preset or DEFAULT_PRESET, args.overrides, args.seed)
        if args.vs is not None or args.vs_sets:
            from gradtui.versus import config_b, run_headless_vs
            args.vs_cfg = config_b(cfg, args.vs, args.vs_sets)
            check_fits(cfg, args.vs_cfg)
            if args.headless:
                return run_headless_vs([cfg, args.vs_cfg], args, default_steps=DEFAULT_HEADLESS_STEPS)
        check_fits(cfg)
        if args.headless:
            return run_headless(cfg, args, default_steps=DEFAULT_HEADLESS_STEPS)
        if args.screenshot:
            return cmd_screenshot(cfg, args)
        return cmd_dashboard(cfg, args)
    except (UsageError, PresetError) as e:
        return _fail(str(e))
    except OutputError as e:  # a write failed while running (disk full, I/O error)
        return _fail(str(e), 1)
    except MemoryError:  # what the estimate could not see coming, e.g. a ulimit -v
        return _fail("out of memory: this configuration needs more than the process may have "
                     "(a ulimit -v?); reduce width, depth, batch_size or n_samples")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gradtui --list-presets | head -1`
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
