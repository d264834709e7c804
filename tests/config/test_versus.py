"""A/B runs (gradtui/versus.py, Trainer.clone): run B's configuration, determinism of two runs on
one seed and of a fork, the headless comparison, the export's side column and the A/B session
record and its bit-exact replay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradtui.cli import main
from gradtui.commands import SetFields
from gradtui.config import Config
from gradtui.presets import PresetError, load_preset
from gradtui.session import SessionError, load_session
from gradtui.trainer import Trainer
from gradtui.versus import compare_table, config_b, load_pair, log_ratio

SMALL = Config(name="tiny", depth=4, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)


def rings_equal(a: Trainer, b: Trainer) -> None:
    sa, ga, la = a.ring.last(a.ring.capacity)
    sb, gb, lb = b.ring.last(b.ring.capacity)
    assert np.array_equal(sa, sb)
    assert np.array_equal(ga, gb, equal_nan=True)
    assert np.array_equal(la, lb, equal_nan=True)


def state_equal(a: Trainer, b: Trainer) -> None:
    for name in ("theta", "m1", "m2", "bnrun"):
        assert getattr(a.mlp, name).tobytes() == getattr(b.mlp, name).tobytes(), name
    assert (a.step_count, a.total_steps, a.opt_t) == (b.step_count, b.total_steps, b.opt_t)
    rings_equal(a, b)


# ------------------------------------------------------------------ run B's configuration
def test_vs_set_changes_only_the_named_fields_of_a_copy_of_a():
    a = load_preset("deep-sigmoid", seed=7)
    b = config_b(a, None, ["batchnorm=true", "lr=0.5"])
    assert b == a.replace(batchnorm=True, lr=0.5) and a.batchnorm is False


def test_vs_preset_runs_on_a_seed():
    a = load_preset("deep-sigmoid", seed=11)
    b = config_b(a, "relu-he", ["lr=0.01"])
    assert b == load_preset("relu-he", ["lr=0.01"], seed=11)


@pytest.mark.parametrize("vs, sets, fragment", [
    ("no-such-preset", [], "no-such-preset"),
    (None, ["lrr=1"], "did you mean 'lr'"),
    (None, ["seed=4"], "share one seed"),
    (None, ["batch_size=500"], "training points"),
])
def test_bad_vs_input_is_a_preset_error(vs, sets, fragment):
    with pytest.raises(PresetError, match=fragment):
        config_b(SMALL, vs, sets)


# ------------------------------------------------------------------ determinism
def test_a_and_b_that_change_nothing_are_bit_identical_step_for_step():
    a, b = Trainer(SMALL), Trainer(config_b(SMALL, None, [f"lr={SMALL.lr}"]))
    for n in (1, 7, 64, 300):  # different chunkings on both sides
        a.run_steps(n)
        b.run_steps(n)
        state_equal(a, b)


def test_b_with_batchnorm_shares_data_initial_weights_and_batch_order():
    a, b = Trainer(SMALL), Trainer(config_b(SMALL, None, ["batchnorm=true"]))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.t, b.t)
    for l in range(a.mlp.n_layers):
        assert np.array_equal(a.mlp.weight(l), b.mlp.weight(l))
    assert np.array_equal(a._batches(40), b._batches(40))
    a.run_steps(50)
    b.run_steps(50)
    ga, gb = (t.ring.last(1)[2][0, :, 0] for t in (a, b))
    assert not np.array_equal(ga, gb)  # and they do differ once trained


@pytest.mark.parametrize("at", [0, 1, 137])
def test_a_fork_is_bit_identical_up_to_its_step_and_continues_identically(at):
    tr = Trainer(SMALL.replace(optimizer="adam", lr=0.01))
    tr.run_steps(at)
    fork = tr.clone()
    state_equal(tr, fork)
    for n in (1, 50, 199):  # the epoch's permutation and the RNGs continue in step
        tr.run_steps(n)
        fork.run_steps(n)
    state_equal(tr, fork)


def test_a_fork_is_independent_of_its_original():
    tr = Trainer(SMALL)
    tr.run_steps(20)
    fork = tr.clone()
    before = tr.mlp.theta.copy()
    fork.submit(SetFields.of(lr=0.8))
    fork.run_chunk(max_steps=30)
    assert tr.cfg.lr == SMALL.lr and fork.cfg.lr == 0.8
    assert np.array_equal(tr.mlp.theta, before) and tr.total_steps == 20 and fork.total_steps == 50
    assert tr.commands.empty() and fork.on_command is None
    tr.run_steps(30)
    assert not np.array_equal(tr.mlp.theta, fork.mlp.theta)  # another lr: another path


# ------------------------------------------------------------------ the comparison table
def test_compare_table_lists_both_norms_and_their_log_ratio():
    a, b = Trainer(SMALL), Trainer(SMALL.replace(batchnorm=True))
    a.run_steps(10)
    b.run_steps(10)
    text = compare_table(a, b)
    ga, gb = a.ring.last(1)[2][0, :, 0], b.ring.last(1)[2][0, :, 0]
    for name, x, y in zip(a.layer_names, ga, gb):
        row = next(line for line in text.splitlines() if line.startswith(name + " "))
        assert row.split()[-1] == f"{np.log10(y) - np.log10(x):+.2f}"
    assert log_ratio(100.0, 1.0) == 2.0 and np.isnan(log_ratio(0.0, 1.0)) and np.isnan(log_ratio(1.0, np.inf))


def test_compare_table_pairs_layers_of_different_depths_from_the_input():
    a, b = Trainer(SMALL), Trainer(SMALL.replace(depth=6))
    a.run_steps(3)
    b.run_steps(3)
    text = compare_table(a, b)
    assert "different depths" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[3:-1]}
    assert list(rows) == list(b.layer_names)
    assert rows["h05"][0] == "–" and rows["h05"][2] == "–" and rows["h05"][1] != "–"
    ga, gb = a.ring.last(1)[2][0, :, 0], b.ring.last(1)[2][0, :, 0]
    assert rows["out"][2] == f"{np.log10(gb[-1]) - np.log10(ga[-1]):+.2f}"


# ------------------------------------------------------------------ headless, export, record, replay
def _rows(path):
    return [json.loads(line) for line in open(path)]


def test_headless_vs_prints_both_summaries_exports_both_and_replays_both_bit_for_bit(tmp_path, capsys):
    out, rec, again = tmp_path / "ab.jsonl", tmp_path / "s.jsonl", tmp_path / "again.jsonl"
    argv = ["--preset", "relu-he", "--set", "depth=3", "--vs-set", "activation=tanh", "--headless",
            "--steps", "150", "--export", str(out), "--record", str(rec)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "=== run A: relu-he ===" in text and "=== run B: relu-he ===" in text
    assert "log10 B/A" in text and text.count("per-layer statistics at step 149") == 2
    rows = _rows(out)
    assert [r["side"] for r in rows] == ["A"] * 150 + ["B"] * 150
    assert [r["t"] for r in rows if r["side"] == "B"] == list(range(150))
    a, b = load_pair(rec)
    assert a.config.activation == "relu" and b.config.activation == "tanh" and a.end == b.end == 150
    with pytest.raises(SessionError, match="not a gradtui session"):  # an old reader refuses it
        load_session(rec)
    assert main(["--headless", "--replay", str(rec), "--export", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_an_a_b_session_records_each_runs_commands():
    from gradtui import drive
    from gradtui.versus import PairRecorder

    import io

    buf = io.BytesIO()
    buf.close = lambda: None  # keep the bytes readable after the recorder closed its file
    a, b = Trainer(SMALL), Trainer(SMALL.replace(lr=0.2))
    rec = PairRecorder("mem.jsonl", [a, b], file=buf)
    drive.run(a, 30, schedule=[(10, SetFields.of(lr=0.05))])
    drive.run(b, 20, schedule=[(5, SetFields.of(clip="global_norm"))])
    rec.close()
    lines = [json.loads(x) for x in buf.getvalue().decode().splitlines()]
    assert lines[0]["format"] == "gradtui-session-ab/1"
    assert [(x["run"], x.get("at"), x.get("end")) for x in lines[1:]] == [
        ("A", None, None), ("B", None, None), ("A", 10, None), ("B", 5, None), ("A", None, 30), ("B", None, 20)]


def test_old_single_sessions_still_replay(tmp_path, capsys):
    rec = tmp_path / "one.jsonl"
    assert main(["--preset", "relu-he", "--set", "depth=3", "--headless", "--steps", "40", "--record", str(rec)]) == 0
    assert load_pair(rec) is None and load_session(rec).end == 40
    assert main(["--headless", "--replay", str(rec)]) == 0
    assert "=== run" not in capsys.readouterr().out


# ------------------------------------------------------------------ the dashboard and the screenshot get run B
def test_dashboard_and_screenshot_get_run_b(monkeypatch, capsys, tmp_path):
    import sys
    import types

    calls = []
    for name, fn in (("gradtui.ui.terminal", "run_app"), ("gradtui.ui.screenshot", "save_screenshot")):
        mod = types.ModuleType(name)
        setattr(mod, fn, lambda cfg, *a, vs=None, fn=fn, **kw: calls.append((fn, cfg, vs)) or 0)
        monkeypatch.setitem(sys.modules, name, mod)
    assert main(["--preset", "relu-he", "--vs", "deep-sigmoid", "--seed", "5"]) == 0
    assert main(["--vs-set", "batchnorm=true", "--screenshot", str(tmp_path / "x.svg")]) == 0
    (f1, a1, b1), (f2, a2, b2) = calls
    assert f1 == "run_app" and a1.name == "relu-he" and b1 == load_preset("deep-sigmoid", seed=5)
    assert f2 == "save_screenshot" and b2 == a2.replace(batchnorm=True)


def test_headless_vs_changing_nothing_exports_two_identical_runs(tmp_path, capsys):
    out = tmp_path / "same.jsonl"
    assert main(["--preset", "deep-sigmoid", "--set", "depth=6", "--vs-set", "lr=0.1", "--headless",
                 "--steps", "300", "--export", str(out)]) == 0
    rows = _rows(out)
    a = [{k: v for k, v in r.items() if k != "side"} for r in rows if r["side"] == "A"]
    b = [{k: v for k, v in r.items() if k != "side"} for r in rows if r["side"] == "B"]
    assert len(a) == 300 and a == b
    table = capsys.readouterr().out.split("log10 B/A")[1]
    assert table.count("+0.00") == 7  # every layer: the same norm
