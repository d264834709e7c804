"""Recorded sessions replay bit for bit; bad session files fail with one line."""

import json

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.session import Recorder, SessionError, load_session, replay
from gradtui.trainer import Command, Trainer

CFG = Config(depth=4, width=16, batch_size=32, n_samples=400, eval_every=20, activation="sigmoid",
             init="xavier_normal", lr=0.1, seed=3)


def live_run(path):
    """A dashboard-like run: irregular chunks, commands arriving between them, a pause, a reset
    and a divergence that a later switch recovers from."""
    tr = Trainer(CFG)
    rec = Recorder(path, tr)
    script = {
        0: [Command("set", {"activation": "relu"})],
        2: [Command("pause"), Command("set", {"optimizer": "adam", "lr": 0.01}), Command("resume")],
        3: [Command("reinit", "he_normal"), Command("set", {"clip": "global_norm", "clip_value": 0.5})],
        5: [Command("reset")],
        6: [Command("set", {"lr": 1e6, "activation": "relu", "optimizer": "sgd", "clip": "none",
                                 "init": "normal", "init_std": 5.0})],  # diverges
        8: [Command("set", {"lr": 0.05}), Command("reinit", None)],
        9: [Command("preset", CFG.replace(activation="tanh", depth=3, residual=True, batchnorm=True))],
    }
    sizes = [37, 1, 120, 64, 250, 90, 33, 71, 12, 300, 45]
    with np.errstate(all="ignore"):
        for i, n in enumerate(sizes):
            for cmd in script.get(i, []):
                tr.submit(cmd)
            tr.apply_pending()
            tr.run_steps(n)
    rec.close()
    return tr


def test_replay_reproduces_a_live_session_bit_for_bit(tmp_path):
    path = tmp_path / "s.jsonl"
    live = live_run(path)
    assert any("diverged" in e.text for e in live.events)
    session = load_session(path)
    assert session.end == live.total_steps
    with np.errstate(all="ignore"):
        again = replay(session, Trainer(session.config))
    assert again.total_steps == live.total_steps and again.step_count == live.step_count
    assert again.cfg == live.cfg
    np.testing.assert_array_equal(again.mlp.theta, live.mlp.theta)
    n = min(live.step_count, 500)
    for a, b in zip(live.ring.last(n), again.ring.last(n)):
        np.testing.assert_array_equal(a, b)


def test_session_file_is_readable_json_lines(tmp_path):
    path = tmp_path / "s.jsonl"
    live_run(path)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["format"] == "gradtui-session/1" and lines[0]["config"]["seed"] == 3
    assert lines[-1] == {"end": lines[-1]["end"]}
    kinds = [x.get("kind") for x in lines[1:-1]]
    assert kinds[:2] == ["set", "pause"] and "reset" in kinds and "preset" in kinds


@pytest.mark.parametrize("content, fragment", [
    ("", "empty"),
    ("not json\n", "not JSON"),
    ('{"format": "other"}\n', "not a gradtui session"),
    ('{"format": "gradtui-session/1", "config": {"activaton": "relu"}}\n', "did you mean"),
    ('{"format": "gradtui-session/1", "config": {}}\n{"at": 5, "kind": "explode"}\n', "unknown command"),
    ('{"format": "gradtui-session/1", "config": {}}\n{"at": 5, "kind": "set", "value": {"lr": -1}}\n', "lr"),
    ('{"format": "gradtui-session/1", "config": {}}\n{"at": 9, "kind": "reset"}\n{"at": 2, "kind": "reset"}\n',
     "not before"),
])
def test_bad_session_files_fail_with_one_line(tmp_path, content, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(SessionError) as e:
        load_session(path)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_missing_session_file(tmp_path):
    with pytest.raises(SessionError, match="cannot read"):
        load_session(tmp_path / "nope.jsonl")


def test_cli_replay_reproduces_the_recorded_statistics(tmp_path, capsys):
    from gradtui.cli import main
    from gradtui.stats import LAYER_COL

    path = tmp_path / "s.jsonl"
    live = live_run(path)
    out = tmp_path / "replayed.jsonl"
    assert main(["--headless", "--replay", str(path), "--export", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == live.total_steps
    steps, glob, layers = live.ring.last(live.step_count)  # the final preset's segment
    tail = rows[-len(steps):]
    assert [r["step"] for r in tail] == steps.tolist()
    assert [r["layers"][0]["grad_norm"] for r in tail] == layers[:, 0, LAYER_COL["grad_norm"]].tolist()
    assert any(r["events"] for r in rows)


def test_cli_record_then_replay_headless(tmp_path, capsys):
    from gradtui.cli import main

    rec = tmp_path / "r.jsonl"
    assert main(["--preset", "relu-he", "--set", "depth=3", "--headless", "--steps", "120",
                 "--record", str(rec)]) == 0
    first = capsys.readouterr().out
    assert load_session(rec).end == 120
    assert main(["--headless", "--replay", str(rec)]) == 0
    assert capsys.readouterr().out == first  # the same summary, to the last digit


@pytest.mark.parametrize("argv, fragment", [
    (["--replay", "x.jsonl"], "--replay needs --headless"),
    (["--headless", "--replay", "x.jsonl", "--preset", "relu-he"], "drop --preset"),
    (["--headless", "--replay", "missing.jsonl"], "cannot read"),
    (["--screenshot", "a.svg", "--record", "r.jsonl"], "--record goes with"),
])
def test_cli_session_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, fragment):
    from gradtui.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
