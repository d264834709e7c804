"""Streaming export of the per-step statistics to JSON Lines or CSV.

The columns come from :data:`gradtui.stats.GLOBAL_STATS` and :data:`gradtui.stats.LAYER_STATS`;
nothing here names a statistic twice. Non-finite numbers become ``null`` (JSONL) or an empty cell
(CSV), so every line is valid JSON.

``open_exporter(path, layer_names)`` picks the format by suffix; ``.write(steps, glob, layers,
events_by_step)`` appends rows (as returned by ``StatsRing.since``); ``.close()`` flushes.
:class:`ExportPump` feeds an exporter from a running :class:`~gradtui.trainer.Trainer`.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import IO, Mapping, Sequence

import numpy as np

from gradtui.stats import GLOBAL_STATS, LAYER_STATS, STATUS_NAMES

SUFFIXES = (".jsonl", ".csv")
EVENT_SEP = "; "


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
           events: Sequence[str] = ()) -> dict:
    """One step as a JSON-ready dict (the JSONL schema)."""
    rec: dict = {"step": int(step)}
    for s in GLOBAL_STATS:
        rec[s.name] = _global_value(s.name, glob[s.col])
    rec["events"] = list(events)
    rec["layers"] = [
        {"name": name, **{s.name: _num(layers[i, s.col]) for s in LAYER_STATS}}
        for i, name in enumerate(layer_names)
    ]
    return rec


def csv_header(n_layers: int) -> list[str]:
    cols = ["step", *(s.name for s in GLOBAL_STATS), "events"]
    for i in range(n_layers):
        cols += [f"layer_{i + 1:02d}_{s.name}" for s in LAYER_STATS]
    return cols


class Exporter:
    def __init__(self, path: Path, layer_names: Sequence[str]):
        self.path = Path(path)
        self.layer_names = tuple(layer_names)
        self.rows = 0
        self._f: IO[str] = open(self.path, "w", encoding="utf-8", newline="")

    def write(self, steps: np.ndarray, glob: np.ndarray, layers: np.ndarray,
              events_by_step: Mapping[int, Sequence[str]] | None = None,
              layer_names: Sequence[str] | None = None) -> None:
        """Append rows; ``layer_names`` when the network was rebuilt with another depth."""
        if layer_names is not None:
            self.layer_names = tuple(layer_names)
        ev = events_by_step or {}
        for k in range(len(steps)):
            step = int(steps[k])
            self._write_row(step, glob[k], layers[k], ev.get(step, ()))
            self.rows += 1
        self._f.flush()

    def _write_row(self, step, glob, layers, events) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> "Exporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonlExporter(Exporter):
    def _write_row(self, step, glob, layers, events) -> None:
        rec = record(step, glob, layers, self.layer_names, events)
        self._f.write(json.dumps(rec, allow_nan=False, separators=(",", ":")) + "\n")


class CsvExporter(Exporter):
    def __init__(self, path: Path, layer_names: Sequence[str]):
        super().__init__(path, layer_names)
        self._w = csv.writer(self._f, lineterminator="\n")
        header = csv_header(len(self.layer_names))
        self._width = len(header)
        self._w.writerow(header)

    def _write_row(self, step, glob, layers, events) -> None:
        def cell(v):
            if v is None:
                return ""
            if isinstance(v, bool):
                return "true" if v else "false"
            return repr(v) if isinstance(v, float) else str(v)

        row = [str(step), *(cell(_global_value(s.name, glob[s.col])) for s in GLOBAL_STATS),
               EVENT_SEP.join(events)]
        for i in range(len(self.layer_names)):
            row += [cell(_num(layers[i, s.col])) for s in LAYER_STATS]
        # columns follow the first network; a shallower rebuild leaves the rest empty, a deeper
        # one writes longer rows
        row += [""] * (self._width - len(row))
        self._w.writerow(row)


def check_suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(f"{path}: unknown export format {suffix or '(no suffix)'!r}; use .jsonl or .csv")
    return suffix


def open_exporter(path: str | Path, layer_names: Sequence[str]) -> Exporter:
    """A streaming exporter chosen by the suffix of ``path`` (``.jsonl`` or ``.csv``)."""
    suffix = check_suffix(path)
    cls = JsonlExporter if suffix == ".jsonl" else CsvExporter
    return cls(Path(path), layer_names)


class ExportPump:
    """Writes whatever a trainer produced since the last call, with its events on the right rows.

    Call :meth:`pump` after every chunk (from the thread driving the trainer). An event belongs to
    the first step that ran under it; an event recorded after the last written step (e.g.
    "diverged", which names the step after the failing one) goes on the newest row.
    """

    def __init__(self, trainer, exporter: Exporter):
        self.trainer = trainer
        self.exporter = exporter
        self._ring = trainer.ring
        self._count = trainer.ring.count
        self._events_seen = trainer.n_events
        self._pending: list = []

    def pump(self) -> int:
        tr = self.trainer
        if tr.ring is not self._ring:  # rebuilt (reset / preset / new network): a fresh ring
            self._ring, self._count = tr.ring, 0
        new = min(tr.n_events - self._events_seen, len(tr.events))  # the deque keeps the newest
        if new > 0:
            self._pending += list(tr.events)[-new:]
        self._events_seen = tr.n_events
        steps, glob, layers = self._ring.since(self._count)
        self._count = self._ring.count
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
        self.exporter.write(steps, glob, layers, by_step, tr.layer_names)
        return len(steps)
