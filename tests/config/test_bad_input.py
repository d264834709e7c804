"""Every row of the bad-input table (``bad_input_cases.py``) through the real CLI, with this
checkout first on the path: ``gradtui/__main__.py`` run as ``python -m`` runs it, each row in its own
directory. The rows run in two batch processes (``cli_batch.py``: the interpreter and NumPy load
once, so the table takes seconds); a few rows also run as separate ``python -m gradtui`` processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from bad_input_cases import CASES, FIFO, Case
from cli_batch import limit_memory

REPO = Path(__file__).resolve().parents[2]
BATCH = Path(__file__).resolve().parents[1] / "cli_batch.py"
ENV = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1", PYTHONUTF8="1")
TIMEOUT = 60  # per row; only a regression gets near it (a blocked FIFO, a real run); nothing is timed
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # anything but the line's own newline


class Outcome(NamedTuple):
    code: int | None  # None: still running at the time limit
    out: bytes
    err: str
    before: list[str]  # the row's directory before and after
    after: list[str]


def _make_files(case: Case, cwd: Path) -> None:
    cwd.mkdir(parents=True)
    for name, content in case.files.items():
        path = cwd / name
        if content == FIFO:
            os.mkfifo(path)
        elif isinstance(content, tuple):  # ("sparse", size)
            with open(path, "wb") as f:
                f.truncate(content[1])
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_separately(case: Case, cwd: Path) -> Outcome:
    """One row as its own ``python -m gradtui`` process."""
    _make_files(case, cwd)
    before = sorted(os.listdir(cwd))
    try:
        proc = subprocess.run([sys.executable, "-m", "gradtui", *case.argv], cwd=cwd, env=ENV,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT,
                              preexec_fn=limit_memory)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired:
        code, out, err = None, b"", b""
    return Outcome(code, out, err.decode("utf-8", "replace"), before, sorted(os.listdir(cwd)))


def run_batch(cases: list[Case], root: Path) -> dict[str, Outcome]:
    """Rows in one process (``cli_batch.py``), each in its own directory, its output in files beside
    it. A row that kills the process is reported as such and the batch goes on after it."""
    jobs, dirs = [], []
    for case in cases:
        cwd = root / f"case{len(dirs)}"
        _make_files(case, cwd)
        dirs.append((cwd, sorted(os.listdir(cwd))))
        jobs.append([str(cwd), f"{cwd}.out", f"{cwd}.err", list(case.argv)])
    done: dict[int, int | None] = {}
    while len(done) < len(jobs):
        todo = [i for i in range(len(jobs)) if i not in done]
        (root / "jobs.json").write_text(json.dumps([jobs[i] for i in todo]), encoding="utf-8")
        proc = subprocess.run([sys.executable, str(BATCH), str(root / "jobs.json")], cwd=root, env=ENV,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT * len(todo) + 60)
        for i in todo:
            code_file = Path(jobs[i][1] + ".code")
            if not code_file.exists():  # this row ended the process: its status is the process's
                done[i] = proc.returncode if proc.returncode else None
                break
            done[i] = json.loads(code_file.read_text())
    return {case.id: Outcome(done[i], Path(f"{cwd}.out").read_bytes(),
                             Path(f"{cwd}.err").read_bytes().decode("utf-8", "replace"), before,
                             sorted(os.listdir(cwd)))
            for i, (case, (cwd, before)) in enumerate(zip(cases, dirs))}


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Run the rows this session selected (all of them unless ``-k`` narrows it): two batches."""
    wanted = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is request.module and "case" in params:
            wanted[params["case"].id] = params["case"]
    cases = list(wanted.values())
    roots = [tmp_path_factory.mktemp("bad-input") for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = pool.map(run_batch, [cases[0::2], cases[1::2]], roots)
    return {k: v for part in parts for k, v in part.items()}


def check(case: Case, r: Outcome) -> None:
    assert r.code is not None, f"{case.id}: still running after {TIMEOUT} s (blocked, or ran instead of refusing)"
    assert "Traceback" not in r.err, r.err[-2000:]
    assert r.code == case.code, f"{case.id}: exit {r.code}: {r.err[-500:]}"
    assert r.out == b""
    assert r.err.count("\n") == 1 and r.err.startswith("gradtui: error: "), r.err[-500:]
    assert case.fragment in r.err, r.err
    assert not RAW_CONTROL.search(r.err), f"raw control character reached the terminal: {r.err!r}"
    assert r.after == r.before, f"{case.id} left files behind: {sorted(set(r.after) - set(r.before))}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(case, results):
    check(case, results[case.id])


SEPARATE = ["preset-fifo", "replay-dev-zero", "set-newline-two-keys", "memory-headless", "bench-json-no-dir",
            "preset-description-osc-title"]


@pytest.mark.parametrize("case_id", SEPARATE)
def test_rows_as_separate_processes(case_id, tmp_path):
    """A few rows as their own ``python -m gradtui`` process: the batch runs the same CLI."""
    case = next(c for c in CASES if c.id == case_id)
    check(case, run_separately(case, tmp_path / "run"))
