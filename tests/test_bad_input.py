"""The bad-input matrix, generated from the field table so no field is forgotten: every field with
a wrong type, every bound crossed, every unknown name; through the real CLI: exit status 2, one
line on stderr, no traceback, no output file left behind."""

from __future__ import annotations

import typing

import pytest

from gradtui.cli import main
from gradtui.config import FIELDS, Config

TYPES = typing.get_type_hints(Config)


def wrong_type(key: str) -> str:
    t = TYPES[key]
    if t is bool:
        return "3"
    if t in (int, float):
        return '"many"'
    if t is str:
        return "[1, 2]"
    return '"64,64"'  # hidden: not a list


def cases():
    for key, spec in FIELDS.items():
        if key in ("name", "description"):
            continue  # free text
        yield key, wrong_type(key), "type"
        if spec.choices:
            yield key, "no_such_" + spec.choices[0][:-1], "choice"
        if spec.lo is not None:
            lo = spec.lo if spec.lo_open else spec.lo - (1 if TYPES[key] is int else spec.lo * 0.5 + 0.5)
            yield key, repr(int(lo) if TYPES[key] is int else float(lo)), "below"
        if spec.hi is not None:
            yield key, repr(int(spec.hi) * 10 + 1 if TYPES[key] is int else float(spec.hi) * 10 + 1), "above"
    yield "hidden", "[64, 0]", "below"
    yield "batch_size", "5000", "batch larger than the data set"
    yield "no_such_field", "1", "unknown key"


CASES = list(cases())


@pytest.mark.parametrize("key, value, what", CASES, ids=[f"{k}-{w}" for k, _, w in CASES])
def test_every_bad_override_is_one_clean_line(tmp_path, capsys, monkeypatch, key, value, what):
    monkeypatch.chdir(tmp_path)
    code = main(["--preset", "relu-he", "--set", f"{key}={value}", "--headless", "--steps", "5",
                 "--export", "out.jsonl"])
    err = capsys.readouterr().err
    assert code == 2, f"{key}={value} ({what}) was accepted"
    assert err.startswith("gradtui: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert key in err or (what == "batch larger than the data set" and "batch_size" in err)
    assert list(tmp_path.iterdir()) == []  # no partial output file


@pytest.mark.parametrize("argv, fragment", [
    (["--set", "lr"], "key=value"),
    (["--set", "=3"], "missing key"),
    (["--headless", "--steps", "0"], "positive"),
    (["--headless", "--steps", "-5"], "positive"),
    (["--screenshot", "x.svg", "--size", "120by40"], "WIDTHxHEIGHT"),
    (["--screenshot", "x.svg", "--size", "5x5"], "out of range"),
    (["--headless", "--export", "nodir/out.jsonl"], "does not exist"),
    (["--headless", "--export", "out.parquet"], "unknown export format"),
    (["--screenshot", "nodir/x.svg"], "does not exist"),
    (["--screenshot", "x.png"], ".svg"),
    (["--preset", "deep-sigmod"], "did you mean"),
])
def test_bad_command_lines(tmp_path, capsys, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
