"""The dashboard's frames: with two runs, one frame shows both runs' news and frames come at most
UI_HZ times a second (:class:`gradtui.ui.frames.FramePacer`, driven here by a fake clock and a fake
timer, so nothing depends on the machine's speed); the garbage collector is kept off the
dashboard's long-lived objects while it runs and given back afterwards."""

from __future__ import annotations

import dataclasses
import gc

import numpy as np

from gradtui.drive import UI_HZ
from gradtui.ui.compare import RunDiff
from gradtui.ui.frames import GC_GEN0, FramePacer, QuietCollector
from gradtui.ui.messages import SnapshotMessage
from ui_fakes import EchoSource, snapshot_of
from test_ab import SMALL, echo_pair


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list = []  # (when, fn) asked for and not fired yet

    def schedule(self, delay, fn) -> None:
        self.timers.append((self.now + delay, fn))

    def fire(self) -> None:
        """The first timer fires (the time moves on to when it was due)."""
        when, fn = self.timers.pop(0)
        self.now = max(self.now, when)
        fn()

    def advance(self, dt: float) -> None:
        """Time passes; the timers due by then fire, each at its time."""
        end = self.now + dt
        while self.timers and self.timers[0][0] <= end:
            self.fire()
        self.now = end


def pacer(shown: list) -> tuple[FramePacer, FakeTime]:
    t = FakeTime()
    return FramePacer(lambda: shown.append(t.now), t.schedule, 0.1, clock=lambda: t.now), t


def test_news_after_a_quiet_spell_is_shown_at_once():
    shown = []
    p, t = pacer(shown)
    p.ask()
    assert shown == [100.0] and t.timers == []
    t.now += 0.5
    p.ask()
    assert shown == [100.0, 100.5] and t.timers == []


def test_news_within_the_period_waits_for_one_frame_that_shows_everything_since():
    shown = []
    p, t = pacer(shown)
    p.ask()
    t.now += 0.03
    p.ask()  # run B, 30 ms after run A's frame
    t.now += 0.02
    p.ask()  # run A again: joins the frame already scheduled
    assert shown == [100.0] and len(t.timers) == 1
    assert abs(t.timers[0][0] - 100.1) < 1e-9  # one period after the last frame
    t.fire()
    assert shown == [100.0, t.now] and abs(t.now - 100.1) < 1e-9 and t.timers == []


def test_frames_never_come_closer_than_the_period_under_a_stream_of_news():
    shown = []
    p, t = pacer(shown)
    for _ in range(300):  # news every 7 ms (two runs' snapshots and key presses)
        t.advance(0.007)
        p.ask()
    t.advance(1.0)
    gaps = np.diff(shown)
    assert (gaps >= 0.1 - 1e-9).all() and (gaps < 0.1 + 0.007 + 1e-9).all()  # and no news waits longer
    assert shown[-1] >= 100 + 300 * 0.007 - 1e-9  # the last news was shown


def test_the_collector_is_given_back_as_it_was():
    before = gc.get_threshold()
    q = QuietCollector()
    q.start()
    try:
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == max(GC_GEN0, before[0])
        q.start()  # twice: still one freeze, the thresholds saved once
    finally:
        q.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    q.stop()  # (idempotent)
    assert gc.get_threshold() == before


def test_a_disabled_collector_stays_as_it_is():
    gc.disable()
    try:
        q = QuietCollector()
        q.start()
        assert gc.get_freeze_count() == 0 and not gc.isenabled()
        q.stop()
    finally:
        gc.enable()


async def test_two_runs_snapshots_within_a_frame_share_the_next_frame():
    app, a, b = echo_pair()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        t = FakeTime()
        app._frames.clock, app._frames.schedule = (lambda: t.now), t.schedule
        app._frames.last = -1e9
        snap_a = dataclasses.replace(a.snap, step=111)
        snap_b = dataclasses.replace(b.snap, step=222)
        app.post_message(SnapshotMessage("A", snap_a))
        await pilot.pause()
        assert app.panel("A").snap is snap_a  # after a quiet spell: at once
        t.now += 0.02
        app.post_message(SnapshotMessage("B", snap_b))
        await pilot.pause()
        assert b.snap is snap_b  # what the keys act on follows at once
        assert app.panel("B").snap is not snap_b and len(t.timers) == 1  # the panel: next frame
        snap_a2 = dataclasses.replace(a.snap, step=333)
        app.post_message(SnapshotMessage("A", snap_a2))
        await pilot.pause()
        assert len(t.timers) == 1 and app.panel("A").snap is snap_a
        t.fire()
        await pilot.pause()
        assert app.panel("A").snap is snap_a2 and app.panel("B").snap is snap_b
        assert app.query_one(RunDiff).pair == (snap_a2, snap_b)


async def test_one_run_shows_every_snapshot_at_once():
    src = EchoSource(snapshot_of(SMALL), "run")
    from gradtui.ui.sources import make_app

    app = make_app(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for step in (5, 6, 7):  # well within one period
            snap = dataclasses.replace(src.snap, step=step)
            app.post_message(SnapshotMessage("run", snap))
            await pilot.pause()
            assert app.panel("run").snap is snap
