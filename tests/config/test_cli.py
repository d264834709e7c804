"""The command line: exit codes, one-line errors, headless runs, export, and the preset physics."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from gradtui.cli import main
from gradtui.presets import load_preset
from gradtui.stats import GLOBAL_COL, LAYER_COL
from gradtui.trainer import Trainer


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_list_presets(capsys):
    rc, out, err = run(["--list-presets"], capsys)
    assert rc == 0 and err == ""
    names = [line.split()[0] for line in out.splitlines()]
    assert "deep-sigmoid" in names and "relu-he" in names and names == sorted(names)


def test_help_exits_zero(capsys):
    rc, out, _ = run(["--help"], capsys)
    assert rc == 0 and "--preset" in out and "--headless" in out


BAD = [
    (["--preset", "deep-sigmod"], "did you mean 'deep-sigmoid'"),
    (["--preset", "nope.toml"], "no such file"),
    (["--set", "lrr=1"], "did you mean 'lr'"),
    (["--set", "lr"], "expected key=value"),
    (["--set", "lr=-1"], "'lr'"),
    (["--set", "activation=sigmod"], "did you mean 'sigmoid'"),
    (["--set", "batch_size=5000"], "training points"),
    (["--seed", "-3"], "--seed"),
    (["--headless", "--steps", "0"], "positive"),
    (["--headless", "--steps", "-5"], "positive"),
    (["--headless", "--steps", "ten"], "positive integer"),
    (["--headless", "--export", "run.txt"], "use .jsonl or .csv"),
    (["--headless", "--export", "no/such/dir/run.jsonl"], "does not exist"),
    (["--headless", "--export", "."], "directory"),
    (["--export", "run.jsonl", "--screenshot", "out.svg"], "goes with the dashboard"),
    (["--export-hist", "--headless"], "needs --export RUN.jsonl"),
    (["--screenshot", "out.svg", "--size", "10"], "WIDTHxHEIGHT"),
    (["--screenshot", "out.svg", "--size", "5x5"], "out of range"),
    (["--screenshot", "out.png"], ".svg"),
    (["--screenshot", "no/such/dir/out.svg"], "does not exist"),
    (["--headless", "--screenshot", "out.svg"], "not allowed with"),
    (["--frobnicate"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv, fragment", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_no_files(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(argv, capsys)
    assert rc == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gradtui: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no partial or probe files left behind


@pytest.mark.parametrize("content", ["lr = = 1\n", "", b"\xff\xfe\n"])
def test_bad_preset_file(content, capsys, write_preset):
    p = write_preset(content, name="broken.toml")
    rc, out, err = run(["--preset", str(p), "--headless", "--steps", "5"], capsys)
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and "broken.toml" in err and err.startswith("gradtui: error: ")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_export_dir(capsys, tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        rc, _, err = run(["--headless", "--steps", "5", "--export", str(d / "r.jsonl")], capsys)
    finally:
        d.chmod(0o700)
    assert rc == 2 and len(err.splitlines()) == 1 and list(d.iterdir()) == []


def test_headless_run_with_export(capsys, tmp_path):
    path = tmp_path / "run.jsonl"
    rc, out, err = run(["--preset", "relu-he", "--headless", "--steps", "120", "--export", str(path),
                        "--set", "eval_every=25"], capsys)
    assert rc == 0, err
    assert "compiling kernels..." in err and "Traceback" not in err
    for name in ("h01", "h06", "out", "grad_norm", "update_ratio", "saturated", "dead",
                 "final loss", "train acc", "last test acc"):
        assert name in out
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(120))
    assert sum(r["test_acc"] is not None for r in recs) == 4


def test_headless_csv_export(capsys, tmp_path):
    path = tmp_path / "run.csv"
    rc, _, err = run(["--preset", "relu-he", "--headless", "--steps", "30", "--export", str(path)], capsys)
    assert rc == 0, err
    lines = path.read_text().splitlines()
    assert len(lines) == 31 and lines[0].startswith("t,run,step,loss,train_acc,test_acc")


def test_exploding_diverges_exit_0_without_warnings(capsys, tmp_path):
    path = tmp_path / "boom.jsonl"
    rc, out, err = run(["--preset", "exploding", "--headless", "--steps", "500", "--export", str(path)],
                       capsys)
    assert rc == 0
    assert "diverged at step" in err
    assert "Warning" not in err and "overflow" not in err and "Traceback" not in err
    assert "status: diverged" in out
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert recs[-1]["status"] == "diverged" and len(recs) < 500


def test_headless_stops_at_exactly_n_steps(capsys):
    rc, out, _ = run(["--preset", "relu-he", "--headless", "--steps", "77"], capsys)
    assert rc == 0 and "steps: 77 " in out


def test_subprocess_module_entry_point():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "gradtui", "--preset", "relu-he", "--headless", "--steps", "50"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    assert "h01" in p.stdout and "train acc" in p.stdout
    assert "Traceback" not in p.stderr and "Warning" not in p.stderr
    bad = subprocess.run([sys.executable, "-m", "gradtui", "--preset", "nope"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and bad.stdout == ""


# ------------------------------------------------------------------ delegation (fake app / bench)
def fake_module(monkeypatch, name, **attrs):
    mod = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    monkeypatch.setitem(sys.modules, name, mod)


def test_dashboard_gets_default_preset_and_mouse_flag(monkeypatch, capsys):
    calls = []
    fake_module(monkeypatch, "gradtui.ui.terminal", run_app=lambda cfg, mouse, record=None: calls.append((cfg, mouse)))
    assert run([], capsys)[0] == 0
    assert run(["--preset", "relu-he", "--no-mouse", "--set", "lr=0.2"], capsys)[0] == 0
    assert calls[0][0].name == "deep-sigmoid" and calls[0][1] is True
    assert calls[1][0].name == "relu-he" and calls[1][0].lr == 0.2 and calls[1][1] is False


def test_screenshot_delegates(monkeypatch, capsys, tmp_path):
    calls = []
    fake_module(monkeypatch, "gradtui.ui.screenshot",
                save_screenshot=lambda cfg, steps, size, path: calls.append((cfg.name, steps, size, path)))
    out = str(tmp_path / "shot.svg")
    rc, _, err = run(["--preset", "residual", "--screenshot", out, "--size", "100x30", "--steps", "40"], capsys)
    assert rc == 0, err
    assert calls == [("residual", 40, (100, 30), out)]


def test_bench_delegates(monkeypatch):
    seen = []
    fake_module(monkeypatch, "gradtui.bench", main=lambda argv: seen.append(argv) or 3)
    assert main(["bench", "--quick", "x"]) == 3
    assert seen == [["--quick", "x"]]


# ------------------------------------------------------------------ acceptance: the preset physics
def first_step_grad_ratio(name):
    tr = Trainer(load_preset(name, seed=0))
    tr.run_steps(1)
    _, _, layers = tr.ring.last(1)
    g = layers[0, :, LAYER_COL["grad_norm"]]
    assert tr.layer_names[0] == "h01" and tr.layer_names[-1] == "out"
    return g[0] / g[-1]


def test_deep_sigmoid_vanishes_at_step_0():
    cfg = load_preset("deep-sigmoid")
    assert cfg.depth >= 20 and cfg.activation == "sigmoid"
    assert first_step_grad_ratio("deep-sigmoid") < 1e-3


def test_relu_he_gradients_are_balanced_at_step_0():
    assert 0.1 <= first_step_grad_ratio("relu-he") <= 10


def test_exploding_diverges_within_a_few_hundred_steps(quiet):
    tr = Trainer(load_preset("exploding", seed=0))
    while tr.step_count < 500 and not tr.diverged:
        tr.run_steps(500 - tr.step_count)
    assert tr.diverged and tr.step_count <= 300


def test_clipped_survives_2000_steps(quiet):
    cfg = load_preset("clipped", seed=0)
    assert cfg.clip == "global_norm"
    assert cfg.replace(clip="none", clip_value=1.0, name="exploding", description="") == \
        load_preset("exploding").replace(description="", clip_value=1.0, start_paused=False)  # (the dashboard pace aside)
    tr = Trainer(cfg)
    while tr.step_count < 2000:
        assert tr.run_steps(2000 - tr.step_count) > 0
    assert not tr.diverged
    _, glob, _ = tr.ring.last(2000)
    assert np.isfinite(glob[:, GLOBAL_COL["loss"]]).all()


def test_relu_he_learns_the_spiral():
    cfg = load_preset("relu-he", seed=0)
    assert cfg.dataset == "spiral"
    tr = Trainer(cfg)
    while tr.step_count < 3000:
        tr.run_steps(3000 - tr.step_count)
    _, glob, _ = tr.ring.last(100)
    assert np.mean(glob[:, GLOBAL_COL["train_acc"]]) >= 0.9


def test_a_memory_error_the_estimate_missed_is_one_line(monkeypatch, capsys, tmp_path):
    """A ulimit -v (RLIMIT_AS) is not in MemAvailable: the allocation itself fails."""
    import gradtui.trainer as T

    def no_memory(self, *a, **k):
        raise MemoryError

    monkeypatch.setattr(T.Trainer, "_build", no_memory)
    out = tmp_path / "run.jsonl"
    assert main(["--preset", "relu-he", "--headless", "--steps", "5", "--export", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gradtui: error: out of memory")
    assert not out.exists()
