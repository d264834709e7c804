"""The shared validators behind presets, ``--set`` and sessions: control characters, input files,
huge integers, deep arrays, one value per ``--set``, the ranges the README documents."""

import os
import pathlib
import re
import threading

import pytest

from gradtui.config import FIELDS, control_char, printable
from gradtui.inputs import InputFileError, read_regular_file
from gradtui.presets import PresetError, load_preset, parse_override, range_text


@pytest.mark.parametrize("text, found", [("plain é ü", None), ("a\x1b]0;x\x07", "U+001B"), ("tab\there", "U+0009"),
                                         ("del\x7f", "U+007F"), ("c1 \x9b2J", "U+009B"), ("nl\n", "U+000A")])
def test_control_characters_are_found(text, found):
    assert control_char(text) == found
    assert control_char(printable(text)) is None


def test_a_preset_error_never_carries_a_raw_control_character():
    with pytest.raises(PresetError) as ei:
        load_preset("no/such/\x1b]0;x\x07.toml")
    assert control_char(str(ei.value)) is None and "\\x1b" in str(ei.value)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: the check must come first. The read
    runs in a thread so that a regression fails the test instead of hanging it."""
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    box = {}

    def read():
        try:
            read_regular_file(fifo, 1 << 20, "preset file")
        except InputFileError as e:
            box["error"] = str(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():  # unblock the reader so the thread ends
        with open(fifo, "wb"):
            pass
    assert box.get("error") == "is a FIFO, not a preset file (a regular file is needed)"


def test_size_limit_is_exact(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"a" * 100)
    assert read_regular_file(p, 100, "x") == b"a" * 100
    with pytest.raises(InputFileError, match="too large"):
        read_regular_file(p, 99, "x")


@pytest.mark.parametrize("item, fragment", [
    ("lr=0.1\nmomentum=0.5", "one value per --set"),
    ("hidden=" + "[" * 3000 + "]" * 3000, "nested too deeply"),
    ("seed=" + "7" * 5000, "more than 4300 digits"),
    ("description=\x1b[2J", "control character"),
])
def test_one_value_per_set(item, fragment):
    with pytest.raises(PresetError, match=re.escape(fragment)) as ei:
        parse_override(item)
    assert "\n" not in str(ei.value) and len(str(ei.value)) < 300


def test_the_readme_documents_each_range():
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    if not readme.exists():
        pytest.skip("no README next to the tests")
    allowed = dict(re.findall(r"^\| `(\w+)` \| (?:int|float) \| [^|]* \| ([^|]*) \|", readme.read_text(), re.M))
    for key, spec in FIELDS.items():
        if spec.lo is not None or spec.hi is not None:
            assert allowed[key].strip() == range_text(key).removeprefix("in "), key
