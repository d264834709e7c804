"""Undo after a divergence (gradtui/checkpoints.py): back to the last finite step, bit for bit,
wherever the checkpoints were taken; recorded in a session and replayed bit for bit."""

from __future__ import annotations

import json

import numpy as np

from gradtui import drive
from gradtui.checkpoints import Checkpoints
from gradtui.commands import Pace, SetFields, Undo
from gradtui.presets import load_preset
from gradtui.session import Recorder, load_session, replay
from gradtui.trainer import Trainer

EXPLODING = load_preset("exploding").replace(n_samples=400)  # diverges within ~10 steps


def state(tr: Trainer):
    m = tr.mlp
    steps, glob, layers = tr.ring.last(tr.ring.capacity)
    return (tr.step_count, tr.opt_t, m.theta.copy(), m.m1.copy(), m.m2.copy(), m.bnrun.copy(), steps, glob, layers)


def same(a, b) -> bool:
    return all(np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b))


def diverged(cfg=EXPLODING, every: int = 64, chunk: int = 3) -> Trainer:
    tr = Trainer(cfg)
    tr.checkpoints = Checkpoints(every=every)
    drive.run(tr, 500, chunk=chunk)
    assert tr.status == "diverged"
    return tr


def test_undo_goes_back_to_the_last_finite_step_whatever_the_checkpoints():
    # checkpoints every step (the newest is the last finite step) or only at step 0 (re-run it all)
    near, far = diverged(every=1, chunk=1), diverged(every=10**6, chunk=500)
    assert [c.step_count for c in far.checkpoints.ring] == [0]
    bad = near.step_count  # the diverged step was step bad - 1
    assert far.step_count == bad
    for tr in (near, far):
        ev = tr.apply(Undo())
        assert tr.status == "running" and tr.step_count == bad - 1 and "undone" in ev.text
    ref = Trainer(EXPLODING)
    ref.run_steps(bad - 1)  # the same run, stopped before it diverged
    assert not ref.diverged
    assert same(state(near), state(ref)) and same(state(far), state(ref))
    # the next step is the one that diverged: it does again, on the same batch
    assert near.run_steps(5) == 1 and near.diverged and near.step_count == bad


def test_undo_without_a_divergence_steps_back_but_not_past_the_last_change():
    cfg = EXPLODING.replace(lr=1e-6)
    tr = Trainer(cfg)
    tr.checkpoints = Checkpoints(every=64, slots=2)
    drive.run(tr, 300, chunk=50)  # checkpoints at 0 (kept), then only the newest
    assert [c.step_count for c in tr.checkpoints.ring] == [0, 200]
    tr.apply(Undo())
    ref = Trainer(cfg)
    ref.run_steps(300 - 64)
    assert tr.step_count == 236 and same(state(tr), state(ref))  # re-run from step 200
    for _ in range(4):
        tr.apply(Undo())
    assert tr.step_count == 0 and same(state(tr), state(Trainer(cfg)))  # not past the start
    assert "nothing to undo" in tr.apply(Undo()).text


def test_a_setting_after_the_divergence_leaves_nothing_to_undo():
    tr = diverged()
    tr.apply(SetFields.of(clip="layer_norm"))  # goes on from the finite weights; old checkpoints dropped
    assert not tr.diverged and tr.checkpoints.ring == []
    before = state(tr)
    assert "nothing to undo" in tr.apply(Undo()).text and same(state(tr), before)
    tr.run_steps(10)  # the new configuration's own history can be undone
    tr.apply(Undo())
    assert tr.step_count == before[0] and same(state(tr)[2:6], before[2:6])


def test_a_session_with_an_undo_replays_bit_for_bit(tmp_path):
    path = tmp_path / "s.jsonl"
    live = Trainer(EXPLODING)
    live.checkpoints = Checkpoints(every=1)  # the replay's are elsewhere: the result must not care
    rec = Recorder(path, live)
    drive.run(live, 500, chunk=1)
    assert live.diverged
    live.apply(Pace(5.0))
    live.apply(Undo())
    live.apply(Undo())  # not diverged now: back to the start (the explosion is in the forward pass)
    live.apply(SetFields.of(clip="layer_norm"))
    drive.run(live, live.total_steps + 150, chunk=7)
    rec.close()
    session = load_session(path)
    kinds = [c.kind for _, c in session.commands]
    assert kinds == ["pace", "undo", "undo", "set"]
    again = replay(session, Trainer(session.config))
    assert again.total_steps == live.total_steps and not live.diverged
    assert same(state(again), state(live))


def test_headless_replay_of_an_undo_exports_the_same_rows(tmp_path, capsys):
    from gradtui.cli import main

    path = tmp_path / "s.jsonl"
    live = Trainer(EXPLODING)
    rec = Recorder(path, live)
    drive.run(live, 500, chunk=2)
    live.apply(Undo())
    live.apply(Undo())  # (the last finite step's forward pass explodes: back to the start)
    live.apply(SetFields.of(lr=1e-4))
    drive.run(live, live.total_steps + 40, chunk=3)
    assert not live.diverged
    rec.close()
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        assert main(["--headless", "--replay", str(path), "--export", str(tmp_path / name)]) == 0
        outs.append((tmp_path / name).read_text())
    capsys.readouterr()
    assert outs[0] == outs[1]
    rows = [json.loads(line) for line in outs[0].splitlines()]
    assert len(rows) == 5 + live.step_count  # up to the divergence, and again from step 0 after the undos
    assert [r["step"] for r in rows] == list(range(5)) + list(range(live.step_count))
    assert [r["t"] for r in rows] == list(range(len(rows)))  # the session's step count goes on
