"""Recorded sessions replay bit for bit; bad session files fail with one line."""

import json

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.session import Recorder, SessionError, load_session, replay
from gradtui.commands import LoadPreset, Pause, Reinit, Reset, Resume, SetFields
from gradtui.trainer import Trainer

CFG = Config(depth=4, width=16, batch_size=32, n_samples=400, eval_every=20, activation="sigmoid",
             init="xavier_normal", lr=0.1, seed=3)


def live_run(path):
    """A dashboard-like run: irregular chunks, commands arriving between them, a pause, a reset
    and a divergence that a later switch recovers from."""
    tr = Trainer(CFG)
    rec = Recorder(path, tr)
    script = {
        0: [SetFields.of(**{"activation": "relu"})],
        2: [Pause(), SetFields.of(**{"optimizer": "adam", "lr": 0.01}), Resume()],
        3: [Reinit("he_normal"), SetFields.of(**{"clip": "global_norm", "clip_value": 0.5})],
        5: [Reset()],
        6: [SetFields.of(**{"lr": 1e6, "activation": "relu", "optimizer": "sgd", "clip": "none",
                                 "init": "normal", "init_std": 5.0})],  # diverges
        8: [SetFields.of(**{"lr": 0.05}), Reinit()],
        9: [LoadPreset(CFG.replace(activation="tanh", depth=3, residual=True, batchnorm=True))],
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
    ('{"format": "gradtui-session/1", "config": {}}\n{"at": 1' + "0" * 400 + ', "kind": "reset"}\n',
     "up to 1e+12"),  # a replay that would never end
    ('{"format": "gradtui-session/1", "config": {}}\n{"end": 10000000000000}\n', "bad end step"),
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
    (["--replay", "x.jsonl", "--screenshot", "a.svg"], "--replay goes with"),
    (["--replay", "x.jsonl", "--record", "r.jsonl"], "--record with --replay needs --headless"),
    (["--paused", "--headless"], "--paused goes with the dashboard"),
    (["--replay", "missing.jsonl"], "cannot read"),
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


# ------------------------------------------------------------------ load-time validation
HEAD = '{"format": "gradtui-session/1", "gradtui": "%s", "config": {"n_samples": 200, "batch_size": 32}}\n'


def head(version=None):
    from gradtui import __version__
    return HEAD % (version or __version__)


@pytest.mark.parametrize("body, line, fragment", [
    # a cross-field rule broken by a later set: 200 points * 0.8 = 160 training points
    ('{"at": 5, "kind": "set", "value": {"lr": 0.1}}\n{"at": 9, "kind": "set", "value": {"batch_size": 500}}\n',
     3, "training points"),
    # broken by shrinking the data set under the current batch
    ('{"at": 5, "kind": "set", "value": {"batch_size": 150}}\n\n'
     '{"at": 7, "kind": "set", "value": {"n_samples": 100}}\n', 4, "training points"),
    ('{"at": 5, "kind": "reinit", "value": "he_nromal"}\n', 2, "did you mean 'he_normal'"),
    ('{"at": 5, "kind": "reinit", "value": 3}\n', 2, "initialiser name"),
    ('{"at": 5, "kind": "step", "value": true}\n', 2, "positive count"),
])
def test_commands_are_checked_against_the_config_they_reach(tmp_path, body, line, fragment):
    path = tmp_path / "s.jsonl"
    path.write_text(head() + body)
    with pytest.raises(SessionError) as e:
        load_session(path)
    msg = str(e.value)
    assert f"{path}:{line}:" in msg and fragment in msg and "\n" not in msg


def test_a_valid_sequence_that_passes_through_a_preset_loads(tmp_path):
    """batch 150 is fine after a preset with 1000 points, and the reinit name is kept."""
    path = tmp_path / "s.jsonl"
    preset = json.dumps({"n_samples": 1000, "batch_size": 32})
    path.write_text(head() + f'{{"at": 3, "kind": "preset", "value": {preset}}}\n'
                    '{"at": 4, "kind": "set", "value": {"batch_size": 150}}\n'
                    '{"at": 4, "kind": "reinit", "value": "orthogonal"}\n{"end": 10}\n')
    s = load_session(path)
    assert [c.kind for _, c in s.commands] == ["preset", "set", "reinit"] and s.end == 10


@pytest.mark.parametrize("content", ["\n", "\n\n   \n\t\n", "  "])
def test_blank_session_file_is_one_line(tmp_path, content, capsys):
    from gradtui.cli import main

    path = tmp_path / "blank.jsonl"
    path.write_text(content)
    with pytest.raises(SessionError, match="empty session file"):
        load_session(path)
    out = tmp_path / "o.jsonl"
    assert main(["--headless", "--replay", str(path), "--export", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradtui: error:") and err.count("\n") == 1 and not out.exists()


def test_cli_refuses_a_session_that_would_fail_mid_replay(tmp_path, capsys):
    from gradtui.cli import main

    path = tmp_path / "s.jsonl"
    path.write_text(head() + '{"at": 50, "kind": "set", "value": {"batch_size": 500}}\n{"end": 100}\n')
    out = tmp_path / "o.jsonl"
    assert main(["--headless", "--replay", str(path), "--export", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


# ------------------------------------------------------------------ versions
@pytest.mark.parametrize("version, warned", [("0.0.1-other", True), (None, False)])
def test_replay_warns_once_when_another_version_recorded_it(tmp_path, capsys, version, warned):
    from gradtui.cli import main

    path = tmp_path / "s.jsonl"
    path.write_text(head(version) + '{"end": 20}\n')
    assert main(["--headless", "--replay", str(path)]) == 0
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "0.0.1-other" in x]
    assert len(lines) == (1 if warned else 0)
    if warned:
        assert lines[0].startswith("gradtui: warning:")
    assert load_session(path).version == (version or __import__("gradtui").__version__)


# ------------------------------------------------------------------ counting across resets
def test_cli_replay_with_resets_counts_every_step(tmp_path, capsys):
    """The export numbers rows by t (monotone) and run (0, 1, ...); the summary counts all steps."""
    from gradtui.cli import main

    path = tmp_path / "s.jsonl"
    live = live_run(path)
    out = tmp_path / "replayed.jsonl"
    assert main(["--headless", "--replay", str(path), "--export", str(out)]) == 0
    stdout, err = capsys.readouterr()
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["t"] for r in rows] == list(range(live.total_steps))
    runs = [r["run"] for r in rows]
    assert runs[0] == 0 and all(b - a in (0, 1) for a, b in zip(runs, runs[1:]))
    assert runs[-1] >= 2  # a reset, a rebuild (depth 3 preset) at least
    for a, b in zip(rows, rows[1:]):  # step restarts at 0 exactly where run goes up
        assert (b["run"] == a["run"] + 1 and b["step"] == 0) or (b["run"] == a["run"] and b["step"] == a["step"] + 1)
    assert live.step_count < live.total_steps
    assert f"steps: {live.total_steps} " in stdout
    assert f"{live.total_steps} steps in" in err and f"wrote {live.total_steps} rows" in err


def test_progress_counts_all_steps_and_never_goes_negative(capsys, quiet):
    from gradtui.headless import Progress

    tr = Trainer(CFG)
    p = Progress(tr, 300, every=0.0)
    seen = []
    for i in range(6):
        if i in (2, 4):
            tr.apply(Reset())
        tr.run_steps(50)
        p.tick()
        seen.append(tr.total_steps)
    lines = capsys.readouterr().err.splitlines()
    assert [int(x.split()[1].split("/")[0]) for x in lines] == seen == [50, 100, 150, 200, 250, 300]
    assert all(float(x.split("steps/s")[0].split()[-1].replace(",", "")) >= 0 for x in lines)


@pytest.mark.parametrize("room", [1, 2000, 2600])
def test_recorder_on_a_full_disk_keeps_complete_lines(room, full_file, quiet):
    """The header fails at once; a later failure stops recording quietly (the trainer's thread
    never sees it) and close() reports it; the file keeps only complete JSON lines."""
    from gradtui.outputs import OutputError

    tr = Trainer(CFG)
    f = full_file(room)
    if room == 1:
        with pytest.raises(OutputError, match="No space left"):
            Recorder("s.jsonl", tr, file=f)
        assert f.final == b""
        return
    rec = Recorder("s.jsonl", tr, file=f)
    for i in range(40):
        tr.apply(SetFields.of(**{"lr": 0.01 * (1 + i % 3)}))  # never raises
        tr.run_steps(5)
    with pytest.raises(OutputError, match="No space left"):
        rec.close()
    data = f.final
    assert data.endswith(b"\n") and len(data) <= room
    lines = [json.loads(x) for x in data.decode().splitlines()]
    assert lines[0]["format"] == "gradtui-session/1" and all("at" in x for x in lines[1:])


def test_a_version_with_a_terminal_escape_is_shown_escaped(tmp_path, capsys):
    """The version comes from the file: an OSC sequence there must not reach the terminal."""
    from gradtui.cli import main

    path = tmp_path / "s.jsonl"
    path.write_text(head(r"1.0\u001b]0;owned\u0007") + '{"end": 20}\n')  # JSON escapes
    assert main(["--headless", "--replay", str(path)]) in (0, 2)  # warned, or refused at load
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;owned" in err
