"""Rules the UI package keeps, checked on its source: the UI thread reads snapshots, never a
trainer's fields (commands go down through a source); the pure helpers import no textual/rich."""

from __future__ import annotations

import ast
from pathlib import Path

import gradtui.ui

UI = Path(gradtui.ui.__file__).parent
MODULES = sorted(UI.rglob("*.py"))
# where a Trainer may be built or driven: the live source (its worker thread) and the fixed-step
# pipeline (synchronous, before any App exists)
TRAINER_HOMES = {"sources.py", "screenshot.py"}


def imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def drive_names(tree: ast.AST) -> set[str]:
    """Names imported from gradtui.drive other than its cadence constants (UPPER_CASE)."""
    return {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "gradtui.drive"
            for a in node.names if not a.name.isupper()} | (
        {"gradtui.drive"} if any(isinstance(n, ast.Import) and any(a.name == "gradtui.drive" for a in n.names)
                                 for n in ast.walk(tree)) else set())


def trainer_reads(tree: ast.AST) -> list[str]:
    """Every ``<x>.trainer.<attr>`` in the code."""
    return [node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "trainer"]


def test_the_modules_are_found():
    names = {p.name for p in MODULES}
    assert {"app.py", "sources.py", "run_panel.py", "views.py", "lines.py"} <= names


def test_the_ui_reads_no_trainer_fields_only_sends_commands():
    for path in MODULES:
        tree = ast.parse(path.read_text())
        reads = set(trainer_reads(tree))
        if path.name in TRAINER_HOMES:
            assert reads <= {"submit"}, f"{path.name} reads trainer fields {reads - {'submit'}}"
        else:
            assert not reads, f"{path.name} touches a trainer: {reads}"
            assert "gradtui.trainer" not in imports(tree), f"{path.name} imports the trainer"
            assert not drive_names(tree), f"{path.name} drives a trainer ({drive_names(tree)})"


def test_the_pure_helpers_import_no_textual_or_rich():
    tree = ast.parse((UI / "views.py").read_text())
    assert not {m for m in imports(tree) if m.split(".")[0] in ("textual", "rich")}


def test_no_ui_file_is_long_and_no_function_takes_many_parameters():
    for path in MODULES:
        text = path.read_text()
        assert text.count("\n") <= 400, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - (a.args[:1] != [] and a.args[0].arg in ("self", "cls"))
                assert n <= 10, f"{path.name}:{node.name} takes {n} parameters"
