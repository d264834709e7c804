"""drive.run, the one loop that drives a trainer, and the Runner built on it: schedules, stops,
divergence, chunk independence; the thread boundary (commands down, snapshots up); one cadence."""

import io
import threading
import time

import numpy as np
import pytest

from gradtui import drive
from gradtui.commands import Command, LoadPreset, Pause, Reinit, Reset, Resume, SetFields, Step, TogglePause
from gradtui.config import Config
from gradtui.export import ExportPump, open_exporter
from gradtui.stats import Snapshot
from gradtui.trainer import Trainer

CFG = Config(depth=3, width=16, batch_size=32, n_samples=400, eval_every=20, activation="tanh",
             init="xavier_normal", lr=0.05, seed=5)
BLOW_UP = SetFields.of(lr=1e6, activation="relu", init="normal", init_std=5.0, optimizer="sgd",
                       clip="none")  # diverges within a few steps
REVIVE = (SetFields.of(lr=0.05, activation="tanh", init="xavier_normal"), Reinit())


def same_run(a: Trainer, b: Trainer) -> None:
    assert (a.total_steps, a.step_count, a.cfg, a.diverged) == (b.total_steps, b.step_count, b.cfg, b.diverged)
    np.testing.assert_array_equal(a.mlp.theta, b.mlp.theta)
    n = min(a.step_count, a.ring.capacity)
    for x, y in zip(a.ring.last(n), b.ring.last(n)):
        np.testing.assert_array_equal(x, y)
    assert [(e.step, e.text) for e in a.events] == [(e.step, e.text) for e in b.events]


def by_hand(cfg: Config, script: list[tuple[int, list[Command]]], until: int) -> Trainer:
    """The reference: run_steps and apply, one step at a time (no drive involved)."""
    tr = Trainer(cfg)
    todo: dict[int, list[Command]] = {}
    for at, cmds in script:
        todo.setdefault(at, []).extend(cmds)
    while True:
        for cmd in todo.pop(tr.total_steps, []):
            tr.apply(cmd)
        if tr.total_steps >= until or tr.run_steps(1) == 0:
            return tr


def divergence_step() -> int:
    """The total step at which CFG under BLOW_UP (from step 0) diverges."""
    tr = Trainer(CFG)
    tr.apply(BLOW_UP)
    with np.errstate(all="ignore"):
        while tr.run_steps(1):
            pass
    assert tr.diverged and 0 < tr.total_steps < 200
    return tr.total_steps


# ------------------------------------------------------------------------------ drive.run
def test_a_command_scheduled_at_step_0_applies_before_the_first_step():
    tr = drive.run(Trainer(CFG), 60, schedule=[(0, SetFields.of(lr=0.5))])
    fresh = drive.run(Trainer(CFG.replace(lr=0.5)), 60)  # as if the config had it from the start
    assert tr.events[0].step == 0 and tr.cfg.lr == 0.5
    np.testing.assert_array_equal(tr.mlp.theta, fresh.mlp.theta)
    np.testing.assert_array_equal(tr.ring.last(60)[1], fresh.ring.last(60)[1])


def test_two_commands_at_the_same_step_apply_in_their_order_before_that_step():
    script = [(10, [SetFields.of(activation="relu"), Reinit("he_normal")])]
    sched = [(at, c) for at, cmds in script for c in cmds]
    tr = drive.run(Trainer(CFG), 40, schedule=sched, chunk=7)
    same_run(tr, by_hand(CFG, script, 40))
    assert [e.step for e in tr.events] == [10, 10]
    # the other order is another run (the re-init draws from the same stream, then relu vs he):
    other = drive.run(Trainer(CFG), 40, schedule=sched[::-1], chunk=7)
    assert [e.text.split()[0] for e in other.events] == ["re-initialised", "activation=relu"]
    # a schedule given out of order is sorted by step, same-step commands keep their order
    late_first = drive.run(Trainer(CFG), 40, schedule=[(25, Reset()), *sched], chunk=7)
    same_run(late_first, by_hand(CFG, [*script, (25, [Reset()])], 40))


def test_divergence_then_a_reviving_command_at_that_step_goes_on():
    d = divergence_step()
    script = [(0, [BLOW_UP]), (d, list(REVIVE))]
    with np.errstate(all="ignore"):
        tr = drive.run(Trainer(CFG), d + 50, schedule=[(at, c) for at, cmds in script for c in cmds])
        ref = by_hand(CFG, script, d + 50)
    assert tr.total_steps == d + 50 and not tr.diverged
    assert any(e.text.startswith("diverged") for e in tr.events)
    same_run(tr, ref)


def test_a_diverged_run_returns_early_when_no_command_at_that_step_can_revive_it():
    d = divergence_step()
    seen = []
    with np.errstate(all="ignore"):
        tr = drive.run(Trainer(CFG), d + 500, schedule=[(0, BLOW_UP), (d + 1, REVIVE[1])],
                       on_chunk=lambda t: seen.append(t.total_steps))
    assert tr.diverged and tr.total_steps == d  # the revival at d + 1 can never be reached
    assert seen[-1] == d and len(seen) < 10  # it returned, it did not spin


def test_should_stop_is_asked_between_chunks():
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    tr = drive.run(Trainer(CFG), 10_000, chunk=5, should_stop=stop)
    assert tr.total_steps == 15  # three chunks of 5, then stopped
    # asked before any step, after the commands due at that step applied
    tr = drive.run(Trainer(CFG), 10_000, schedule=[(0, SetFields.of(lr=0.2))], should_stop=lambda: True)
    assert tr.total_steps == 0 and tr.cfg.lr == 0.2


def test_until_reached_or_passed_runs_nothing_more():
    tr = drive.run(Trainer(CFG), 30)
    assert drive.run(tr, 30).total_steps == 30 and drive.run(tr, 10).total_steps == 30


def test_a_paused_trainer_returns_and_a_queued_command_applies_between_chunks():
    tr = drive.run(Trainer(CFG), 50, schedule=[(20, Pause())])
    assert tr.total_steps == 20 and tr.paused  # synchronously, a pause cannot be lifted: it returns
    tr.submit(Resume())  # the queue is read between chunks, as the dashboard's runner reads it
    assert drive.run(tr, 50).total_steps == 50 and not tr.paused


def script_of_everything(d: int) -> list[tuple[int, Command]]:
    """Every kind of command, a rebuild, a reset and a divergence revived at its step."""
    return [(0, SetFields.of(optimizer="adam", lr=0.01)), (13, Reinit("he_normal")),
            (13, SetFields.of(activation="relu", clip="global_norm", clip_value=0.5)),
            (40, SetFields.of(depth=4)), (41, Reset()), (60, BLOW_UP), (60 + d, REVIVE[0]),
            (60 + d, REVIVE[1]), (90 + d, LoadPreset(CFG.replace(batchnorm=True, residual=True, depth=2))),
            (90 + d, Pause()), (90 + d, Resume()), (95 + d, Step(3)), (95 + d, TogglePause()),
            (95 + d, TogglePause())]


def exported(chunk: int, seconds=None, d: int = 0) -> tuple[bytes, Trainer]:
    tr = Trainer(CFG)
    out = io.BytesIO()
    out.close = lambda: None  # keep the bytes readable after the exporter closes
    ex = open_exporter("run.jsonl", tr.layer_names, file=out)
    pump = ExportPump(tr, ex)
    with np.errstate(all="ignore"):
        drive.run(tr, 130 + d, schedule=script_of_everything(d), on_chunk=lambda t: pump.pump(),
                  chunk=chunk, seconds=seconds)
    ex.close()
    return out.getvalue(), tr


def test_results_do_not_depend_on_chunking():
    with np.errstate(all="ignore"):
        upto = [(at, [c]) for at, c in script_of_everything(0) if at < 60] + [(60, [BLOW_UP])]
        d = by_hand(CFG, upto, 1000).total_steps - 60  # where it diverges in this script
    assert 0 < d < 100
    base, tr = exported(2048, d=d)
    assert tr.total_steps == 130 + d and not tr.diverged and tr.cfg.depth == 2
    assert base.count(b"\n") == 130 + d and b"diverged" in base
    for chunk, seconds in ((1, None), (7, None), (2048, 1e-9), (2048, drive.CHUNK_SECONDS)):
        data, other = exported(chunk, seconds, d)
        same_run(other, tr)
        assert data == base, f"chunk={chunk} seconds={seconds}: export differs"


def test_single_steps_asked_for_while_paused_survive_a_capped_chunk():
    tr = drive.run(Trainer(CFG), 20)  # (timed: its chunks could hold all five)
    tr.submit(Pause())
    tr.submit(Step(5))
    assert tr.run_chunk(max_steps=2) == 2  # capped (a drive.run's `until`, the runner's max_steps)
    assert drive.run(tr, 100, seconds=drive.CHUNK_SECONDS).total_steps == 25  # the other three, then paused
    assert tr.paused and tr.run_chunk() == 0


# ------------------------------------------------------------------------------ live: the Runner
def wait_for(cond, what, timeout=60.0):  # a hang bound, not a speed target
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_runner_publishes_only_snapshots_and_caps_at_max_steps():
    got = []
    tr = Trainer(CFG)
    runner = drive.Runner(tr, got.append, hz=50, max_steps=300)
    th = threading.Thread(target=runner.run, daemon=True)
    th.start()
    try:
        wait_for(lambda: got and got[-1].status == "paused" and got[-1].total_steps == 300, "capped at 300")
        tr.submit(SetFields.of(lr=0.2))  # still taking commands while capped, never past the cap
        wait_for(lambda: got[-1].config.lr == 0.2, "the change published")
        tr.submit(Resume())
        tr.submit(Step(5))
        tr.submit(Reset())  # step restarts at 0; the cap counts every step run
        wait_for(lambda: got[-1].step == 0 and got[-1].total_steps == 300, "reset published")
    finally:
        runner.stop()
        th.join(30)
    assert not th.is_alive()
    assert tr.total_steps == 300
    assert all(type(s) is Snapshot for s in got)
    assert got[0].status == "compiling" and got[-1].status == "paused"
    # published warm: what every view reads was computed in the runner's thread, not the UI's
    assert all("regimes" in s.__dict__ and ("finite", "grad_norm") in s._memo for s in got)


def test_runner_stops_while_compiling_and_reraises_a_compile_error():
    release = threading.Event()

    class SlowCompile(Trainer):
        def warm_up(self):
            release.wait(60)
            return 0.0

    tr = SlowCompile(CFG)
    got = []
    runner = drive.Runner(tr, got.append)
    th = threading.Thread(target=runner.run, daemon=True)
    th.start()
    wait_for(lambda: got, "the compiling snapshot")
    runner.stop()
    th.join(30)
    release.set()
    assert not th.is_alive() and tr.total_steps == 0 and [s.status for s in got] == ["compiling"]

    class BadCompile(Trainer):
        def warm_up(self):
            raise RuntimeError("no locator available")

    with pytest.raises(RuntimeError, match="no locator"):
        drive.Runner(BadCompile(CFG), got.append).run()


# ------------------------------------------------------------------------------ the thread boundary
@pytest.mark.parametrize("thing", ["pause", None, {"kind": "pause"}, Pause, Command(), ("set", {"lr": 1})])
def test_submit_takes_only_command_objects(thing):
    tr = Trainer(CFG)
    with pytest.raises(TypeError, match="takes a command"):
        tr.submit(thing)
    assert tr.commands.empty()  # nothing reached the trainer's queue


def test_snapshots_carry_total_steps_across_resets():
    tr = drive.run(Trainer(CFG), 30, schedule=[(20, Reset())])
    snap = tr.snapshot()
    assert (snap.step, snap.total_steps) == (10, 30)


# ------------------------------------------------------------------------------ one cadence
def test_cadence_constants_are_the_ones_in_drive():
    from gradtui import headless

    tr = Trainer(CFG)
    assert tr.chunk_seconds == drive.CHUNK_SECONDS
    r = drive.Runner(tr, print)
    assert r.period == 1 / drive.UI_HZ and r.boundary_period == 1 / drive.BOUNDARY_HZ
    assert headless.Progress(tr, 10).every == drive.PROGRESS_SECONDS
