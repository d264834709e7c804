"""The rules the code keeps (issue 15), each checked over every module of the package:

- only the UI imports textual / rich (or the plotting libraries built on them);
- only ``kernels.py`` imports numba;
- no source file over ``MAX_LINES`` lines (``kernels.py`` aside: numba caches per file, so the
  kernels stay one module);
- no function with more than ``MAX_PARAMS`` parameters. Every parameter counts (positional,
  keyword-only, ``*args``, ``**kwargs``) except the ``self`` / ``cls`` of a method, which no caller
  writes. numba kernels count like any other function.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "gradtui"

# The UI wing: the only modules that may import UI_LIBS. After the move into gradtui/ui/ this
# becomes just ("gradtui/ui/",).
UI_PATHS = ("gradtui/ui/",)
UI_LIBS = ("textual", "rich", "plotext", "textual_plotext")
NUMBA_LIBS = ("numba", "llvmlite")
# numba_cache.py names numba's cache files and frames but never imports numba (it must run before
# numba reads NUMBA_CACHE_DIR), so it needs no exception here.
NUMBA_ALLOWED = ("gradtui/kernels.py",)
MAX_LINES = 400
LONG_FILES_ALLOWED = ("gradtui/kernels.py",)
MAX_PARAMS = 10


def _sources() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in_ui(rel: str) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in UI_PATHS)


def _imported_roots(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports anywhere (also inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            roots.add(node.args[0].value.split(".")[0])
    return roots


# ----------------------------------------------------------------------------- textual / rich
_PROBE = """
import sys
import {mod}
bad = sorted({{m for m in sys.modules if m.split('.')[0] in {libs!r}}})
print(' '.join(bad))
"""


def test_nothing_outside_the_ui_imports_textual_or_rich():
    """Each module imported alone in a fresh interpreter: sys.modules must hold no UI library.
    (gradtui/__main__.py runs the CLI when imported; it imports only gradtui.cli, checked here.)"""
    mods = [_module(p) for p in _sources() if not _in_ui(_rel(p)) and p.name != "__main__.py"]
    assert "gradtui.trainer" in mods and "gradtui.cli" in mods
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    found, failed = {}, {}
    for i in range(0, len(mods), 4):  # a few at a time: the machine may have 2 cores
        procs = {m: subprocess.Popen([sys.executable, "-c", _PROBE.format(mod=m, libs=UI_LIBS)], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for m in mods[i:i + 4]}
        for m, p in procs.items():
            out, err = p.communicate(timeout=600)  # a hang bound, not a speed target
            if p.returncode != 0:
                failed[m] = err.strip().splitlines()[-1:]
            elif out.strip():
                found[m] = out.split()
    assert not failed, failed
    assert not found, f"UI libraries imported outside {UI_PATHS}: {found}"


def test_the_import_probe_sees_a_ui_import():
    """The probe above is not blind: a UI module does pull textual in."""
    out = subprocess.run([sys.executable, "-c", _PROBE.format(mod="textual.app", libs=UI_LIBS)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600).stdout
    assert "textual" in out.split()


# ------------------------------------------------------------------------------------- numba
def test_only_kernels_imports_numba():
    offenders = {_rel(p): sorted(_imported_roots(p) & set(NUMBA_LIBS)) for p in _sources()
                 if _rel(p) not in NUMBA_ALLOWED}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, offenders
    assert "numba" in _imported_roots(PKG / "kernels.py")  # the check sees an import where there is one


def test_import_scan_sees_every_form(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import numba.core as c\ndef f():\n    from llvmlite import ir\n"
                   "    importlib.import_module('textual.app')\n", encoding="utf-8")
    assert _imported_roots(src) == {"numba", "llvmlite", "textual"}


# ------------------------------------------------------------------------------ size of things
def test_no_source_file_over_the_line_limit():
    long = {_rel(p): n for p in _sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES and _rel(p) not in LONG_FILES_ALLOWED}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def _n_params(fn: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> int:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    if is_method and positional and positional[0].arg in ("self", "cls") and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list):
        positional = positional[1:]
    return len(positional) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)


def _functions(tree: ast.AST):
    """(qualified name, node, is_method) of every function and method, nested ones included."""
    def walk(node, prefix, in_class):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{prefix}{child.name}", child, in_class
                yield from walk(child, f"{prefix}{child.name}.", False)
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.", True)
            else:
                yield from walk(child, prefix, in_class)
    yield from walk(tree, "", False)


def test_no_function_with_more_than_the_parameter_limit():
    many = {}
    for p in _sources():
        for name, fn, is_method in _functions(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if (n := _n_params(fn, is_method)) > MAX_PARAMS:
                many[f"{_rel(p)}:{fn.lineno} {name}"] = n
    assert not many, f"functions with more than {MAX_PARAMS} parameters: {many}"


def test_parameter_count_rule():
    tree = ast.parse("class C:\n    def m(self, a, *b, c, **d): pass\n    @staticmethod\n    def s(self, a): pass\n"
                     "def f(a, /, b, *, c): pass\n")
    got = {name: _n_params(fn, m) for name, fn, m in _functions(tree)}
    assert got == {"C.m": 4, "C.s": 2, "f": 3}
