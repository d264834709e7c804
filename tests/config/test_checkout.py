"""The tests test the checkout they live in, not a copy installed in site-packages: `pip install
'.[test]' && pytest -q` followed by an edit must test the edit (pyproject's pythonpath, and
PYTHONPATH for subprocesses, set in conftest), and the shipped presets are found from there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gradtui
from gradtui.presets import list_presets, load_preset, presets_dir

ROOT = Path(__file__).resolve().parents[2]


def test_imports_the_checkout():
    assert Path(gradtui.__file__).resolve().is_relative_to(ROOT / "gradtui"), gradtui.__file__


def test_subprocesses_import_the_checkout():
    code = "import gradtui, gradtui.presets as p; print(gradtui.__file__); print(p.presets_dir())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=os.path.dirname(ROOT))  # not the checkout: '' on sys.path must not matter
    assert p.returncode == 0, p.stderr
    mod, presets = p.stdout.splitlines()
    assert Path(mod).resolve().is_relative_to(ROOT / "gradtui"), mod
    assert Path(presets).resolve() == (ROOT / "presets").resolve()


def test_shipped_presets_are_found_in_the_checkout():
    assert presets_dir().resolve() == (ROOT / "presets").resolve()
    names = list_presets()
    assert {p.stem for p in (ROOT / "presets").glob("*.toml")} == set(names) and "deep-sigmoid" in names
    assert load_preset("relu-he").name == "relu-he"
