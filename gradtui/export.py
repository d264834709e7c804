"""Streaming export of the per-step statistics to JSON Lines or CSV.

The columns come from :data:`gradtui.stats.GLOBAL_STATS` and :data:`gradtui.stats.LAYER_STATS`;
nothing here names a statistic twice. Non-finite numbers become ``null`` (JSONL) or an empty cell
(CSV), so every line is valid JSON.

``open_exporter(path, layer_names)`` picks the format by suffix; ``.write(steps, glob, layers,
events_by_step, t=..., run=...)`` appends rows (as returned by ``StatsRing.since``) in one write of
whole lines: a failed write (disk full) cuts the file back to its last complete row and raises
:class:`~gradtui.outputs.OutputError`. ``.close()`` closes.
:class:`ExportPump` feeds an exporter from a running :class:`~gradtui.trainer.Trainer`, numbering
rows with ``t`` (steps since start, never reset) and ``run`` (+1 at every reset / rebuild).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import IO, Mapping, Sequence

import numpy as np

from gradtui.outputs import LineFile
from gradtui.stats import GLOBAL_STATS, LAYER_STATS, STATUS_NAMES, Event

SUFFIXES = (".jsonl", ".csv")
EVENT_SEP = "; "
HIST_EVERY = 100  # --export-hist: one histogram record after every this many steps (t + 1 a multiple)


class ExportError(ValueError):
    """Bad export path (suffix); one line."""


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _global_value(name: str, x: float):
    """A global statistic as exported: ``clipped`` a bool, ``status`` a name, the rest numbers."""
    if name == "clipped":
        return None if not math.isfinite(x) else bool(x)
    if name == "status":
        return STATUS_NAMES.get(int(x), "unknown") if math.isfinite(x) else "unknown"
    return _num(x)


def record(step: int, glob: np.ndarray, layers: np.ndarray, layer_names: Sequence[str],
           events: Sequence[str] = (), t: int | None = None, run: int = 0, side: str = "A") -> dict:
    """One step as a JSON-ready dict (the JSONL schema); ``t`` defaults to ``step``; ``side``: "A",
    or "B" for the second run of an A/B comparison (``--vs``)."""
    rec: dict = {"t": int(step if t is None else t), "run": int(run), "step": int(step)}
    for s in GLOBAL_STATS:
        rec[s.name] = _global_value(s.name, glob[s.col])
    rec["events"] = list(events)
    rec["side"] = side
    rec["layers"] = [
        {"name": name, **{s.name: _num(layers[i, s.col]) for s in LAYER_STATS}}
        for i, name in enumerate(layer_names)
    ]
    return rec


def csv_header(n_layers: int) -> list[str]:
    cols = ["t", "run", "step", *(s.name for s in GLOBAL_STATS), "events", "side"]
    for i in range(n_layers):
        cols += [f"layer_{i + 1:02d}_{s.name}" for s in LAYER_STATS]
    return cols


class Exporter:
    """``file``: an open binary file to write instead of ``path`` (tests)."""

    def __init__(self, path: Path, layer_names: Sequence[str], file: IO[bytes] | None = None):
        self.path = Path(path)
        self.layer_names = tuple(layer_names)
        self.rows = 0
        self.hist_records = 0
        self._out = LineFile(self.path, file)
        self._start()

    def _start(self) -> None:
        """Write what comes before the first row (the CSV header)."""

    def write(self, steps: np.ndarray, glob: np.ndarray, layers: np.ndarray,
              events_by_step: Mapping[int, Sequence[str]] | None = None,
              layer_names: Sequence[str] | None = None, *, t: np.ndarray | None = None,
              run: int = 0, side: str = "A") -> None:
        """Append rows, all or none; ``layer_names`` when the network was rebuilt with another
        depth; ``t`` (steps since start) per row, default ``steps``; ``run`` the network's number."""
        if layer_names is not None:
            self.layer_names = tuple(layer_names)
        ev = events_by_step or {}
        ts = steps if t is None else t
        lines = [self._row(int(steps[k]), glob[k], layers[k], ev.get(int(steps[k]), ()), int(ts[k]), run, side)
                 for k in range(len(steps))]
        if lines:
            self._out.write("".join(lines))
            self.rows += len(lines)

    def write_hist(self, hist, t: int, run: int = 0, side: str = "A") -> None:
        """Append one histogram record (:meth:`gradtui.histograms.Histograms.as_dict` under
        ``hist``, with the ``t``, ``run`` and ``side`` of the step it measured): JSONL only."""
        raise ExportError(f"{self.path}: histogram records need a .jsonl export")

    def _row(self, step, glob, layers, events, t, run, side) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> "Exporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonlExporter(Exporter):
    def write_hist(self, hist, t: int, run: int = 0, side: str = "A") -> None:
        rec = {"t": int(t), "run": int(run), "side": side, "hist": hist.as_dict(self.layer_names)}
        self._out.write(json.dumps(rec, allow_nan=False, separators=(",", ":")) + "\n")
        self.hist_records += 1

    def _row(self, step, glob, layers, events, t, run, side) -> str:
        rec = record(step, glob, layers, self.layer_names, events, t, run, side)
        return json.dumps(rec, allow_nan=False, separators=(",", ":")) + "\n"


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


class CsvExporter(Exporter):
    def _start(self) -> None:
        header = csv_header(len(self.layer_names))
        self._width = len(header)
        self._out.write(self._line(header))

    @staticmethod
    def _line(cells: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        return buf.getvalue()

    def _row(self, step, glob, layers, events, t, run, side) -> str:
        row = [str(t), str(run), str(step), *(_cell(_global_value(s.name, glob[s.col])) for s in GLOBAL_STATS),
               EVENT_SEP.join(events), side]
        for i in range(len(self.layer_names)):
            row += [_cell(_num(layers[i, s.col])) for s in LAYER_STATS]
        # columns follow the first network; a shallower rebuild leaves the rest empty, a deeper
        # one writes longer rows
        row += [""] * (self._width - len(row))
        return self._line(row)


def check_suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(f"{path}: unknown export format {suffix or '(no suffix)'!r}; use .jsonl or .csv")
    return suffix


def open_exporter(path: str | Path, layer_names: Sequence[str], file: IO[bytes] | None = None) -> Exporter:
    """A streaming exporter chosen by the suffix of ``path`` (``.jsonl`` or ``.csv``); ``file``: an
    open binary file to write to instead of opening ``path``."""
    suffix = check_suffix(path)
    cls = JsonlExporter if suffix == ".jsonl" else CsvExporter
    return cls(Path(path), layer_names, file)


class ExportPump:
    """Writes whatever a trainer produced since the last call, with its events on the right rows.

    Call :meth:`pump` after every chunk (from the thread driving the trainer). An event belongs to
    the first step that ran under it; an event recorded after the last written step (e.g.
    "diverged", which names the step after the failing one) goes on the newest row.

    Rows carry ``t``, the trainer's ``total_steps`` before the step (the session file's ``at``),
    and ``run``: 0, then +1 whenever the trainer was rebuilt (reset, preset, new network: ``step``
    restarts at 0). A row counts as taken only once the exporter has written it.

    ``hist_every``: after the rows, a histogram record of the newest step whenever ``t + 1`` of it
    is a multiple of ``hist_every`` (the driving loop's ``align`` makes chunks end there, so the
    records do not depend on chunking).
    """

    def __init__(self, trainer, exporter: Exporter, side: str = "A", hist_every: int | None = None):
        self.trainer = trainer
        self.exporter = exporter
        self.side = side  # the ``side`` column: two pumps (A, B) may feed one exporter
        self.hist_every = hist_every
        self._hist_at = -1
        self._ring = trainer.ring
        self._count = trainer.ring.count
        self._events_seen = trainer.n_events
        self._pending: list = []
        self.run = 0

    def pump(self) -> int:
        tr = self.trainer
        new = min(tr.n_events - self._events_seen, len(tr.events))  # the deque keeps the newest
        events = list(tr.events)[-new:] if new > 0 else []
        self._events_seen = tr.n_events
        if tr.ring is not self._ring:  # rebuilt (reset / preset / new network): a fresh ring
            self._ring, self._count = tr.ring, 0
            self.run += 1
            events = self._restamp(events)
        self._pending += events
        if self._ring.rewound is not None:  # an undo took rows back: on from there
            self._count, self._ring.rewound = min(self._count, self._ring.rewound), None
        count = self._ring.count
        steps, glob, layers = self._ring.since(self._count)
        if len(steps) == 0:
            return 0
        first, last = int(steps[0]), int(steps[-1])
        by_step: dict[int, list[str]] = defaultdict(list)
        keep = []
        for ev in self._pending:
            if ev.step > last + 1:
                keep.append(ev)
            elif ev.step == last + 1 and not tr.diverged:
                keep.append(ev)  # applies to the next chunk's first step
            else:
                by_step[min(max(ev.step, first), last)].append(ev.text)
        self._pending = keep
        t = steps + (tr.total_steps - tr.step_count)  # rows of the current ring: a constant offset
        self.exporter.write(steps, glob, layers, by_step, tr.layer_names, t=t, run=self.run, side=self.side)
        self._count = count
        self._pump_hist(int(t[-1]))
        return len(steps)

    def _pump_hist(self, t_last: int) -> None:
        every, tr = self.hist_every, self.trainer
        if not every or (t_last + 1) % every or t_last == self._hist_at or tr.step_count == 0:
            return
        hist = tr.histograms()  # of the newest step, the row just written (t_last)
        if hist is not None:
            self.exporter.write_hist(hist, t_last, self.run, self.side)
        self._hist_at = t_last

    def _restamp(self, events: list) -> list:
        """After a rebuild: events still waiting for a step of the old network, and new ones from
        before the rebuild (numbered in the old network's steps), took effect at the new network's
        step 0. The rebuild's own event is the last one at step 0 (commands apply in one batch
        before a chunk's steps, so nothing after it uses old numbers)."""
        zeros = [i for i, ev in enumerate(events) if ev.step == 0]
        cut = zeros[-1] if zeros else 0
        old, self._pending = self._pending + events[:cut], []
        return [Event(0, ev.text) for ev in old] + events[cut:]
