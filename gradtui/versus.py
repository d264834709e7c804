"""Two runs side by side (A/B): B's configuration, the comparison table, the A/B session record
and the headless mode of ``--vs`` / ``--vs-set``. No UI here (the dashboard's half is
:mod:`gradtui.ui.compare`).

Both runs start from the same seed, so they draw the same data, the same initial weights (where
the two architectures have the same parameters) and the same batch order: two runs whose
configurations are equal are bit-identical step for step.

A/B session file (``gradtui-session-ab/1``): a header line naming the runs, then every line of
each run's own ``gradtui-session/1`` record (its header included) with a ``"run": "A"|"B"`` key::

    {"format": "gradtui-session-ab/1", "gradtui": "0.1.0", "runs": ["A", "B"]}
    {"run": "A", "format": "gradtui-session/1", "gradtui": "0.1.0", "config": {...}}
    {"run": "B", "format": "gradtui-session/1", "gradtui": "0.1.0", "config": {...}}
    {"run": "B", "at": 120, "kind": "set", "value": {"lr": 0.5}}
    {"run": "A", "end": 1000}
    {"run": "B", "end": 1000}

An older gradtui rejects it with its usual "not a gradtui session" line; this one replays
``gradtui-session/1`` files as before.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from gradtui import __version__, drive
from gradtui.config import Config, shorten
from gradtui.numfmt import num
from gradtui.outputs import LineFile, OutputError, UsageError, emit, note, quiet_numerics
from gradtui.presets import PresetError, check_config, check_value, load_preset, parse_override

SIDES = ("A", "B")
PAIR_FORMAT = "gradtui-session-ab/1"


# ----------------------------------------------------------------------------------- B's config
def config_b(cfg_a: Config, vs: str | None = None, vs_sets: Sequence[str] = ()) -> Config:
    """Run B: the preset ``vs`` (on A's seed) or a copy of A, with the ``--vs-set`` overrides.
    Raises :class:`PresetError` (one line) for a bad preset, key or value."""
    if vs is not None:
        cfg = load_preset(vs, seed=cfg_a.seed)
    else:
        cfg = cfg_a
    changes = {}
    for item in vs_sets:
        key, raw = parse_override(item, "--vs-set")
        changes[key] = check_value(key, raw, f"--vs-set {shorten(repr(item))}")
    if "seed" in changes:
        raise PresetError(f"--vs-set seed={changes['seed']}", "both runs share one seed (use --seed)", "seed")
    cfg = cfg.replace(**changes)
    check_config(cfg, "--vs" + ("-set" if vs is None else f" {shorten(repr(vs))}"))
    return cfg


# ----------------------------------------------------------------------------------- comparison
def compare_table(ta, tb) -> str:
    """Per-layer gradient norms of the newest finite step of each run and ``log10(B/A)``."""
    from gradtui.stats import LAYER_COL

    def latest(tr) -> tuple[np.ndarray, int | None]:
        steps, _, layers = tr.ring.last(tr.ring.capacity)
        g = layers[:, :, LAYER_COL["grad_norm"]] if len(steps) else np.zeros((0, tr.mlp.n_layers))
        ok = np.flatnonzero(np.isfinite(g).all(1))
        return (g[ok[-1]], int(steps[ok[-1]])) if len(ok) else (np.full(tr.mlp.n_layers, np.nan), None)

    ga, sa = latest(ta)
    gb, sb = latest(tb)
    lines = [f"A/B per-layer gradient norms (A at step {sa}, B at step {sb}; input side first):"]
    hdr = f"{'layer':<6} {'grad_norm A':>12} {'grad_norm B':>12} {'log10 B/A':>10}"
    lines += [hdr, "-" * len(hdr)]
    names_a, names_b = ta.layer_names, tb.layer_names
    longer = names_a if len(names_a) >= len(names_b) else names_b
    for i, name in enumerate(longer):  # hidden layers paired from the input side, out with out
        ia = -1 if name == "out" else (i if i < len(names_a) - 1 else None)
        ib = -1 if name == "out" else (i if i < len(names_b) - 1 else None)
        a = ga[ia] if ia is not None else np.nan
        b = gb[ib] if ib is not None else np.nan
        na, nb = (num(x) if i is not None else "–" for x, i in ((a, ia), (b, ib)))
        lines.append(f"{name:<6} {na:>12} {nb:>12} {log_ratio_text(b, a):>10}")
    if names_a != names_b:
        lines.append("(different depths: hidden layers paired from the input side, – where one has none)")
    return "\n".join(lines)


def log_ratio(b: float, a: float) -> float:
    """log10(b / a) for two positive finite numbers, else NaN."""
    with np.errstate(all="ignore"):
        r = np.log10(np.float64(b)) - np.log10(np.float64(a))
    return float(r) if np.isfinite(r) else float("nan")


def log_ratio_text(b: float, a: float) -> str:
    r = log_ratio(b, a)
    return "–" if not np.isfinite(r) else f"{r:+.2f}"


# ----------------------------------------------------------------------------------- session
class _Tagged:
    """One run's view of a shared :class:`LineFile`: every line gets ``"run": tag``; the file
    closes once every run closed its view."""

    def __init__(self, pair: "PairRecorder", tag: str):
        self.pair, self.tag, self.closed = pair, tag, False

    def write(self, text: str) -> None:
        self.pair.out.write("".join(json.dumps({"run": self.tag, **json.loads(line)}) + "\n"
                                    for line in text.splitlines()))

    def close(self) -> None:
        self.closed = True
        if all(v.closed for v in self.pair.views):
            self.pair.out.close()


class PairRecorder:
    """Record runs A and B (``trainers``, in order) to one A/B session file; :meth:`close` writes
    both end lines (raises OutputError when a write failed)."""

    def __init__(self, path: str | Path, trainers: Sequence, file=None):
        from gradtui.session import Recorder

        self.out = LineFile(path, file)
        self.out.write(json.dumps({"format": PAIR_FORMAT, "gradtui": __version__,
                                   "runs": list(SIDES[:len(trainers)])}) + "\n")
        self.views = [_Tagged(self, tag) for tag in SIDES[:len(trainers)]]
        self.recorders = [Recorder(path, tr, out=v) for tr, v in zip(trainers, self.views)]

    @property
    def error(self) -> OutputError | None:
        return next((r.error for r in self.recorders if r.error), None)

    def close(self) -> None:
        errors = []
        for r in self.recorders:
            try:
                r.close()
            except OutputError as e:
                errors.append(e)
        if errors:
            raise errors[0]


def load_pair(path: str | Path):
    """The two sessions (A, B) of an A/B session file, or None when ``path`` is not one (a plain
    session). Raises :class:`gradtui.session.SessionError` (one line)."""
    from gradtui.session import SessionError, _json_lines, parse_session

    p = Path(path)
    records = _json_lines(p)
    n0, head = records[0]
    if head.get("format") != PAIR_FORMAT:
        return None
    groups: dict[str, list] = {tag: [] for tag in SIDES}
    for n, obj in records[1:]:
        tag = obj.pop("run", None)
        if tag not in groups:
            raise SessionError(f"{p}:{n}: 'run' must be \"A\" or \"B\"")
        groups[tag].append((n, obj))
    for tag, recs in groups.items():
        if not recs:
            raise SessionError(f"{p}:{n0}: no lines for run {tag}")
    return tuple(parse_session(groups[tag], p) for tag in SIDES)


# ----------------------------------------------------------------------------------- headless
def run_headless_vs(cfgs: Sequence[Config], args, sessions=None, default_steps: int = 1000) -> int:
    """``--headless --vs``: train A, then B, each for the same steps (the same loop as a single
    run), into one export (``side`` column) and one A/B record; print both summaries and the
    per-layer comparison. ``sessions``: the two sessions of an A/B replay."""
    from gradtui.headless import Progress, _steps_to_run, stop_on_signals, summary
    from gradtui.trainer import Trainer

    n_steps = _steps_to_run(args, sessions[0] if sessions else None, default_steps)
    try:
        trainers = [Trainer(c) for c in cfgs]
    except ValueError as e:
        raise UsageError(str(e)) from None
    note("compiling kernels...")
    note(f"kernels ready in {trainers[0].warm_up():.1f}s")
    elapsed = []
    with stop_on_signals() as stop, contextlib.ExitStack() as stack:
        pumps, recorder = _open_outputs(trainers, args, stack)
        for k, tr in enumerate(trainers):
            progress = Progress(tr, n_steps)
            t0 = time.perf_counter()

            def after_chunk(t, pump=pumps[k], progress=progress) -> None:
                if pump:
                    pump.pump()
                if recorder and recorder.error:
                    raise recorder.error
                progress.tick()

            with quiet_numerics():
                if sessions:
                    from gradtui.session import replay
                    replay(sessions[k], tr, until=n_steps, after_chunk=after_chunk,
                           seconds=drive.CHUNK_SECONDS, should_stop=stop.is_set)
                else:
                    drive.run(tr, n_steps, on_chunk=after_chunk, should_stop=stop.is_set,
                              seconds=drive.CHUNK_SECONDS)
            elapsed.append(time.perf_counter() - t0)
        interrupted = stop.is_set()
    for side, tr, dt in zip(SIDES, trainers, elapsed):
        note(f"{side}: {tr.total_steps} steps in {dt:.1f}s ({tr.total_steps / max(dt, 1e-9):,.0f} steps/s)")
    if interrupted:
        note(f"interrupted at step {trainers[0].total_steps} (A) / {trainers[1].total_steps} (B)")
    if pumps[0]:
        note(f"wrote {pumps[0].exporter.rows} rows to {args.export}")
    with quiet_numerics():
        parts = [f"=== run {side}: {tr.cfg.name} ===\n{summary(tr)}" for side, tr in zip(SIDES, trainers)]
        emit("\n\n".join(parts + [compare_table(*trainers)]))
    return 130 if interrupted else 0


def _open_outputs(trainers, args, stack: contextlib.ExitStack):
    """One exporter fed by a pump per run, and the A/B recorder (None when not asked for)."""
    from gradtui.headless import open_writer, outputs_or_nothing

    pumps, recorder = [None] * len(trainers), None
    with outputs_or_nothing(args, stack):
        if args.export:
            from gradtui.export import ExportPump, open_exporter
            exporter = open_writer(lambda: open_exporter(args.export, trainers[0].layer_names), "--export")
            stack.callback(exporter.close)
            pumps = [ExportPump(tr, exporter, side) for tr, side in zip(trainers, SIDES)]
            for p in pumps:
                stack.callback(p.pump)
        if args.record:
            recorder = open_writer(lambda: PairRecorder(args.record, trainers), "--record")
            stack.callback(recorder.close)
    return pumps, recorder

