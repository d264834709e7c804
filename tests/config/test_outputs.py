"""Outputs under stress: the same file as input and output, full disks and full stdout, dangling
symlinks, a closed stderr, signals during an export, and a screenshot history that stays bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradtui.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT))
SMALL = ["--preset", "relu-he", "--set", "depth=2", "--set", "width=8"]
has_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def gradtui(args, timeout=300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradtui", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=kw.pop("cwd", ROOT), **kw)


def one_error_line(err: str) -> bool:
    lines = err.splitlines()
    return len(lines) >= 1 and lines[-1].startswith("gradtui: error:") and "Traceback" not in err


@pytest.fixture
def session(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    assert main([*SMALL, "--headless", "--steps", "30", "--record", str(path)]) == 0
    capsys.readouterr()
    return path


# ------------------------------------------------------------------ the same file in and out
def overlap_cases(tmp_path: Path, session: Path):
    csv = tmp_path / "run.csv"
    csv.write_text('description = "a preset named like an export"\ndepth = 2\n')
    svg = tmp_path / "p.svg"
    svg.write_text('description = "a preset named like a screenshot"\ndepth = 2\n')
    (tmp_path / "hard.jsonl").hardlink_to(session)
    (tmp_path / "soft.jsonl").symlink_to(session)
    (tmp_path / "sub").mkdir()
    return [
        (["--headless", "--replay", str(session), "--export", str(session)], session),
        (["--headless", "--replay", str(session), "--export", str(tmp_path / "hard.jsonl")], session),
        (["--headless", "--replay", str(session), "--export", str(tmp_path / "soft.jsonl")], session),
        (["--headless", "--replay", str(session), "--export", str(tmp_path / "sub" / ".." / "s.jsonl")], session),
        (["--headless", "--replay", str(session), "--record", str(session)], session),
        (["--preset", "./run.csv", "--headless", "--export", "run.csv"], csv),
        (["--preset", "./p.svg", "--screenshot", str(tmp_path / "p.svg")], svg),
        (["--headless", *SMALL, "--record", "x.jsonl", "--export", "x.jsonl"], None),
        (["--headless", *SMALL, "--record", "x.jsonl", "--export", "./sub/../x.jsonl"], None),
    ]


def test_a_file_used_twice_is_refused_before_anything_is_written(tmp_path, session, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, victim in overlap_cases(tmp_path, session):
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2, (argv, err)
        assert one_error_line(err) and err.count("\n") == 1 and "same file" in err, (argv, err)
        after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        assert after == before, argv  # the recording / preset is intact, nothing new appeared


def test_distinct_files_are_not_an_overlap(tmp_path, session, capsys):
    out = tmp_path / "other.jsonl"
    assert main(["--headless", "--replay", str(session), "--export", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 30


# ------------------------------------------------------------------ full disks, full stdout
@has_dev_full
@pytest.mark.parametrize("what", ["--export", "--record"])
def test_output_file_on_a_full_disk_is_one_line(tmp_path, what):
    link = tmp_path / "full.jsonl"
    link.symlink_to("/dev/full")
    p = gradtui([*SMALL, "--headless", "--steps", "200", what, str(link)])
    assert p.returncode != 0 and one_error_line(p.stderr), p.stderr


@has_dev_full
def test_a_record_that_cannot_start_leaves_no_export_behind(tmp_path):
    """The export opens first; when the session header then fails (a full disk), exit 2 must not
    leave an empty export behind (exit 2 promises that no file is written)."""
    link = tmp_path / "full.jsonl"
    link.symlink_to("/dev/full")
    out = tmp_path / "run.csv"
    p = gradtui([*SMALL, "--headless", "--steps", "20", "--export", str(out), "--record", str(link)])
    assert p.returncode == 2 and one_error_line(p.stderr), p.stderr
    assert not out.exists()


@has_dev_full
def test_screenshot_on_a_full_disk_is_one_line(tmp_path):
    link = tmp_path / "full.svg"
    link.symlink_to("/dev/full")
    p = gradtui([*SMALL, "--screenshot", str(link), "--steps", "5"])
    assert p.returncode != 0 and one_error_line(p.stderr), p.stderr
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # the device is untouched


@has_dev_full
@pytest.mark.parametrize("args", [["--list-presets"], [*SMALL, "--headless", "--steps", "20"]])
def test_full_stdout_is_one_line(args):
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "gradtui", *args], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=300, env=ENV, cwd=ROOT)
    assert p.returncode == 1 and one_error_line(p.stderr) and "stdout" in p.stderr, p.stderr
    assert "Exception ignored" not in p.stderr


@pytest.mark.parametrize("what", ["--export", "--record", "--screenshot"])
def test_dangling_symlink_output_is_one_line(tmp_path, capsys, what):
    link = tmp_path / ("dangling.svg" if what == "--screenshot" else "dangling.jsonl")
    link.symlink_to(tmp_path / "no" / "such" / "dir" / "x")
    mode = [] if what == "--screenshot" else ["--headless"]
    assert main([*SMALL, *mode, what, str(link)]) == 2
    err = capsys.readouterr().err
    assert one_error_line(err) and err.count("\n") == 1
    assert not (tmp_path / "no").exists()


def test_a_screenshot_through_a_symlink_writes_its_target(tmp_path, capsys):
    target = tmp_path / "real.svg"
    link = tmp_path / "link.svg"
    link.symlink_to(target)
    assert main([*SMALL, "--screenshot", str(link), "--steps", "3", "--size", "80x24"]) == 0
    assert link.is_symlink() and target.read_text().startswith("<svg")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


# ------------------------------------------------------------------ closed stderr
def test_closed_stderr_keeps_progress_out_of_stdout(tmp_path):
    out = tmp_path / "run.jsonl"
    cmd = [sys.executable, "-m", "gradtui", *SMALL, "--headless", "--steps", "50", "--export", str(out)]
    p = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *cmd], capture_output=True, text=True,
                       timeout=300, env=ENV, cwd=ROOT)
    assert p.returncode == 0
    assert "compiling" not in p.stdout and "steps/s" not in p.stdout and "wrote" not in p.stdout
    assert p.stdout.startswith("per-layer statistics") and "steps: 50 " in p.stdout
    assert [json.loads(x)["step"] for x in out.read_text().splitlines()] == list(range(50))


# ------------------------------------------------------------------ signals during an export
def wait_for_rows(path: Path, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if path.exists() and path.stat().st_size > 0:
            return
        time.sleep(0.05)
    pytest.fail(f"no rows within {timeout}s (exit {proc.poll()})")


def test_signals_during_export_lose_no_row(tmp_path):
    """Ten runs, SIGTERM / SIGHUP / SIGINT in turn at varying moments: the export holds exactly the
    steps the summary reports, and every line is valid JSON. (A deep, narrow net: most of the time
    goes into writing rows, where the old handler struck.)"""
    sigs = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
    for i in range(10):
        out = tmp_path / f"run{i}.jsonl"
        proc = subprocess.Popen([sys.executable, "-m", "gradtui", "--preset", "relu-he", "--set", "depth=20",
                                 "--set", "width=8", "--headless", "--steps", "100000000", "--export", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        try:
            wait_for_rows(out, proc)
            time.sleep(0.1 * (i % 4))
            proc.send_signal(sigs[i % 3])
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130 and "Traceback" not in stderr, stderr
        steps = int(stdout.split("steps: ")[1].split()[0])
        rows = [json.loads(x) for x in out.read_text().splitlines()]  # every line is valid JSON
        assert len(rows) == steps and rows[-1]["step"] == steps - 1, (i, sigs[i % 3], steps, len(rows))


# ------------------------------------------------------------------ bounded screenshot history
def test_screenshot_history_is_bounded():
    """fixed_snapshot keeps at most one decimated history snapshot (<= History.cap rows) plus the
    last window, however many steps run: not one full snapshot per window."""
    from gradtui.ui.screenshot import fixed_snapshot
    from gradtui.config import Config
    from gradtui.ui.widgets.loss_plot import History

    cfg = Config(depth=2, width=4, n_samples=64, batch_size=8, eval_every=10)
    sizes = []
    for steps in (64 * 20, 64 * 120):
        _, snaps = fixed_snapshot(cfg, steps, window=64)
        assert len(snaps) <= 2
        sizes.append(sum(len(s.steps) for s in snaps))
        assert snaps[-1].step == steps and snaps[-1].boundary is not None
    assert sizes[0] == 20 * 64 and sizes[1] <= History().cap + 64  # 120 windows kept in <= cap rows


@has_dev_full
def test_bench_json_on_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    """After minutes of measuring, a full disk was a traceback (and a cut JSON file)."""
    import gradtui.bench as B

    monkeypatch.setattr(B, "run", lambda plan, log: {"rows": []})
    monkeypatch.setattr(B, "render", lambda report: "table")
    link = tmp_path / "bench.json"
    link.symlink_to("/dev/full")
    assert B.main(["--quick", "--json", str(link)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gradtui: error:"), err
    good = tmp_path / "ok.json"
    assert B.main(["--quick", "--json", str(good)]) == 0
    assert json.loads(good.read_text()) == {"rows": []}
