"""Export schema: JSONL keys and nulls, events on the right step, CSV header, suffix errors."""

import csv
import json
import math

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.export import ExportError, ExportPump, csv_header, open_exporter
from gradtui.stats import GLOBAL_STATS, LAYER_STATS
from gradtui.commands import Reset, SetFields
from gradtui.trainer import Trainer

SMALL = Config(depth=2, width=8, n_samples=200, batch_size=16, eval_every=5, lr=0.05)
GLOBAL_KEYS = ["t", "run", "step", *(s.name for s in GLOBAL_STATS), "events", "side", "layers"]
LAYER_KEYS = ["name", *(s.name for s in LAYER_STATS)]


def run_with_events(path, cfg=SMALL):
    """12 steps, then lr=0.02 (applies at step 12), 8 more steps; all streamed through a pump."""
    tr = Trainer(cfg)
    ex = open_exporter(path, tr.layer_names)
    pump = ExportPump(tr, ex)
    while tr.step_count < 12:
        tr.run_chunk(max_steps=12 - tr.step_count)
        pump.pump()
    tr.submit(SetFields.of(**{"lr": 0.02}))
    while tr.step_count < 20:
        tr.run_chunk(max_steps=20 - tr.step_count)
        pump.pump()
    ex.close()
    return tr


def test_jsonl_schema_nulls_and_events(tmp_path):
    path = tmp_path / "run.jsonl"
    tr = run_with_events(path)
    lines = path.read_text().splitlines()
    assert len(lines) == 20
    recs = [json.loads(line) for line in lines]
    assert [r["step"] for r in recs] == list(range(20))
    for r in recs:
        assert list(r) == GLOBAL_KEYS
        assert r["status"] == "ok" and isinstance(r["clipped"], bool)
        assert [layer["name"] for layer in r["layers"]] == list(tr.layer_names)
        for layer in r["layers"]:
            assert list(layer) == LAYER_KEYS
    # test accuracy only every eval_every steps; null otherwise
    evaluated = [r["step"] for r in recs if r["test_acc"] is not None]
    assert evaluated and all(s % 5 == 4 or s % 5 == 0 for s in evaluated)
    assert any(r["test_acc"] is None for r in recs)
    assert sum(1 for r in recs if r["test_acc"] is None) > len(evaluated)
    # the override is recorded on the first step that ran with it
    with_events = {r["step"]: r["events"] for r in recs if r["events"]}
    assert list(with_events) == [12] and "lr=0.02" in with_events[12][0]
    assert recs[11]["lr"] == pytest.approx(0.05) and recs[12]["lr"] == pytest.approx(0.02)


def test_csv_header_and_rows(tmp_path):
    path = tmp_path / "run.csv"
    tr = run_with_events(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    n = len(tr.layer_names)
    assert header == csv_header(n)
    assert header[:13] == ["t", "run", "step", "loss", "train_acc", "test_acc", "test_loss", "lr",
                           "grad_norm", "clipped", "status", "events", "side"]
    assert f"layer_{n:02d}_dead" == header[-1] and "layer_01_grad_norm" in header
    assert len(header) == 13 + n * len(LAYER_STATS)
    assert {r[header.index("side")] for r in rows[1:]} == {"A"}  # a single run is side A
    assert len(rows) == 21 and all(len(r) == len(header) for r in rows)
    assert rows[13][:3] == ["12", "0", "12"] and "lr=0.02" in rows[13][header.index("events")]
    assert rows[1][header.index("test_acc")] == ""


def test_non_finite_becomes_null(tmp_path):
    path = tmp_path / "x.jsonl"
    ex = open_exporter(path, ("h01", "out"))
    glob = np.full((1, len(GLOBAL_STATS)), np.inf)
    layers = np.full((1, 2, len(LAYER_STATS)), np.nan)
    layers[0, 1, 0] = -np.inf
    ex.write(np.array([3]), glob, layers, {3: ["a", "b"]})
    ex.close()
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    rec = json.loads(text)
    assert rec["loss"] is None and rec["layers"][1]["grad_norm"] is None
    assert rec["events"] == ["a", "b"]


def test_diverged_run_is_valid_json(tmp_path, quiet):
    cfg = SMALL.replace(init="normal", init_std=30.0, lr=10.0, depth=6, activation="linear")
    tr = Trainer(cfg)
    path = tmp_path / "d.jsonl"
    ex = open_exporter(path, tr.layer_names)
    pump = ExportPump(tr, ex)
    while tr.step_count < 200 and not tr.diverged:
        tr.run_chunk(max_steps=200 - tr.step_count)
        pump.pump()
    ex.close()
    assert tr.diverged
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert recs[-1]["status"] == "diverged"
    assert any("diverged" in e for e in recs[-1]["events"])
    assert all(r["status"] == "ok" for r in recs[:-1])
    for r in recs:
        for v in (r["loss"], r["grad_norm"]):
            assert v is None or math.isfinite(v)


@pytest.mark.parametrize("name", ["run.txt", "run", "run.json"])
def test_unknown_suffix(tmp_path, name):
    with pytest.raises(ExportError, match="use .jsonl or .csv"):
        open_exporter(tmp_path / name, ("out",))
    assert not (tmp_path / name).exists()


# ------------------------------------------------------------------ t and run across resets
def test_t_is_monotone_and_run_counts_resets(tmp_path, quiet):
    """After a reset or a rebuild ``step`` restarts at 0; ``t`` keeps counting and ``run`` goes up."""
    path = tmp_path / "r.jsonl"
    tr = Trainer(SMALL)
    ex = open_exporter(path, tr.layer_names)
    pump = ExportPump(tr, ex)
    script = [(15, Reset()), (40, SetFields.of(**{"depth": 3})), (52, None)]
    for until, cmd in script:
        while tr.total_steps < until:
            tr.run_chunk(max_steps=until - tr.total_steps)
            pump.pump()
        if cmd:
            tr.submit(cmd)
    ex.close()
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["t"] for r in recs] == list(range(52))  # strictly increasing, one per step run
    assert [r["run"] for r in recs] == [0] * 15 + [1] * 25 + [2] * 12
    assert [r["step"] for r in recs] == [*range(15), *range(25), *range(12)]
    assert len(recs[-1]["layers"]) == 4 and len(recs[0]["layers"]) == 3


# ------------------------------------------------------------------ write errors
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
@pytest.mark.parametrize("room", [0, 1, 700, 5000, 12345])
def test_disk_full_cuts_back_to_the_last_complete_row(suffix, room, full_file):
    """A write that fails half-way leaves only complete rows (valid JSON / full CSV rows), the
    exporter's row count says how many, and nothing more is written after the failure."""
    from gradtui.outputs import OutputError

    tr = Trainer(SMALL)
    f = full_file(room)
    ex = None
    with pytest.raises(OutputError, match="No space left on device") as e:
        ex = open_exporter("run" + suffix, tr.layer_names, file=f)  # the CSV header may not fit
        pump = ExportPump(tr, ex)
        for _ in range(40):
            tr.run_steps(3)
            pump.pump()
    assert "\n" not in str(e.value)
    data = f.final  # the exporter closed the file after cutting it
    assert len(data) <= room and (data == b"" or data.endswith(b"\n"))
    lines = data.decode().splitlines()
    if suffix == ".jsonl":
        assert [json.loads(line)["t"] for line in lines] == list(range(len(lines)))
        kept = len(lines)
    else:
        rows = list(csv.reader(lines))
        assert all(len(r) == len(rows[0]) for r in rows)
        kept = max(0, len(rows) - 1)
    if ex is not None:
        assert ex.rows == kept
        with pytest.raises(OutputError):  # failed for good: no half row after the cut
            ex.write(*tr.ring.last(1))


def test_commands_just_before_a_reset_are_marked_on_the_new_networks_first_row(tmp_path):
    """lr changed, then reset, before any step ran: both events go on run 1's step 0, not on a row
    that happens to have the old network's step number."""
    path = tmp_path / "e.jsonl"
    tr = Trainer(SMALL)
    ex = open_exporter(path, tr.layer_names)
    pump = ExportPump(tr, ex)
    tr.run_steps(12)
    pump.pump()
    tr.submit(SetFields.of(**{"lr": 0.02}))
    tr.run_chunk(max_steps=0)  # applies it; no step runs
    pump.pump()
    tr.submit(Reset())
    tr.submit(SetFields.of(**{"momentum": 0.5}))
    for _ in range(4):
        tr.run_chunk(max_steps=5)
        pump.pump()
    ex.close()
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    marked = {(r["run"], r["step"]): r["events"] for r in recs if r["events"]}
    assert list(marked) == [(1, 0)]
    texts = marked[(1, 0)]
    assert "lr=0.02" in texts[0] and texts[1].startswith("reset") and "momentum=0.5" in texts[2]
