"""``--export`` with the dashboard: the live run's export (written from the trainer's thread) has
the same records as a headless export of the same steps, histogram records included; a paused
dashboard publishes (and so redraws) nothing."""

from __future__ import annotations

import json

from gradtui import drive
from gradtui.config import Config
from gradtui.export import ExportPump, open_exporter
from gradtui.trainer import Trainer
from gradtui.ui.sources import LiveSource, make_app
from pilot_helpers import until

CFG = Config(depth=3, width=8, n_samples=200, batch_size=16, eval_every=7, lr=0.05)
STEPS, EVERY = 250, 100


def headless_export(path, hist_every=None):
    tr = Trainer(CFG)
    pump = ExportPump(tr, open_exporter(path, tr.layer_names), hist_every=hist_every)
    drive.run(tr, STEPS, on_chunk=lambda t: pump.pump(), chunk=37, align=hist_every)
    pump.exporter.close()
    return [json.loads(line) for line in path.read_text().splitlines()]


async def live_export(path, hist_every=None):
    src = LiveSource(CFG, max_steps=STEPS, export=str(path), hist_every=hist_every)
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.total_steps == STEPS
                    and app.snap.status == "paused", what="the capped run")
        app.exit()
    assert src.done.wait(30)
    src.close()
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_dashboard_export_equals_headless(tmp_path):
    live = await live_export(tmp_path / "live.jsonl")
    ref = headless_export(tmp_path / "ref.jsonl")
    assert len(ref) == STEPS and [r["t"] for r in live] == list(range(STEPS))
    assert live == ref


async def test_dashboard_export_with_histograms_equals_headless(tmp_path):
    live = await live_export(tmp_path / "live.jsonl", EVERY)
    ref = headless_export(tmp_path / "ref.jsonl", EVERY)
    hist = [r for r in ref if "hist" in r]
    assert [r["t"] for r in hist] == [EVERY - 1, 2 * EVERY - 1]  # after steps 100 and 200
    assert live == ref


def test_histogram_records_schema(tmp_path):
    recs = headless_export(tmp_path / "h.jsonl", EVERY)
    rows = [r for r in recs if "hist" not in r]
    hist = [r for r in recs if "hist" in r]
    assert len(rows) == STEPS and len(hist) == STEPS // EVERY
    names = [layer["name"] for layer in rows[0]["layers"]]
    for h in hist:
        assert set(h) == {"t", "run", "side", "hist"} and h["side"] == "A" and h["hist"]["step"] == h["t"]
        assert list(h["hist"]["layers"]) == names
        for layer in h["hist"]["layers"].values():
            assert len(layer["grad"]) == h["hist"]["bins"] + 2 and len(layer["act"]) == h["hist"]["bins"]
            assert abs(sum(layer["act"]) - 1) < 1e-4 and abs(sum(layer["grad"]) - 1) < 1e-4
    # each record follows the row of the step it measured
    idx = [i for i, r in enumerate(recs) if "hist" in r]
    assert all(recs[i - 1]["t"] == recs[i]["t"] for i in idx)


def test_histogram_records_off_by_default(tmp_path):
    assert not any("hist" in r for r in headless_export(tmp_path / "n.jsonl"))


async def test_paused_dashboard_publishes_nothing():
    """Capped (shown as paused): no snapshot arrives and the panels are not rebuilt (counted,
    no timing threshold: a wait for more than a second of the runner's 10 Hz beat)."""
    src = LiveSource(CFG, max_steps=40)
    app = make_app(src)
    seen = []
    accept = src.accept
    src.accept = lambda snap: (seen.append(snap), accept(snap))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.status == "paused", what="the cap")
        n = len(seen)
        # the idle runner wakes every 1/hz: let it wake about 15 times
        for _ in range(15):
            src.trainer.wake.set()  # an idle wake-up without news
            await pilot.pause(0.1)
        assert len(seen) == n
        app.exit()


async def test_a_failed_export_write_stops_the_export_not_the_run_and_close_raises(tmp_path):
    from gradtui.outputs import OutputError

    full = tmp_path / "full.jsonl"
    full.symlink_to("/dev/full")  # every write: ENOSPC
    src = LiveSource(CFG, max_steps=STEPS, export=str(full))
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.total_steps == STEPS
                    and app.snap.status == "paused", what="the capped run")
        assert src.export_error is not None and not src.error  # the trainer went on
        app.exit()
    assert src.done.wait(30)
    try:
        src.close()
    except OutputError as e:
        assert "full.jsonl" in str(e)
    else:
        raise AssertionError("close() did not report the failed write")


def test_headless_cli_writes_histogram_records(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run.jsonl"
    p = subprocess.run([sys.executable, "-m", "gradtui", "--preset", "relu-he", "--headless", "--steps", "250",
                        "--export", str(out), "--export-hist"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["t"] for r in recs if "hist" in r] == [99, 199]
    assert len([r for r in recs if "hist" not in r]) == 250
    assert "250 rows and 2 histogram records" in p.stderr
