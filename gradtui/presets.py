"""Presets: flat TOML files whose keys are :class:`~gradtui.config.Config` field names.

Everything is validated against :data:`gradtui.config.FIELDS` (choices, bounds) and the field types
of :class:`Config`; every problem becomes one :class:`PresetError` whose message is a single line
naming the file and the key (with a "did you mean ..." hint for misspelt keys and names).

No Textual and no Numba here: loading a preset must be instant and safe to do before the UI starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import math
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from gradtui.config import FIELDS, Config, control_char, printable, shorten
from gradtui.data import n_train
from gradtui.inputs import PRESET_MAX_BYTES, InputFileError, read_regular_file

SUFFIX = ".toml"
_TYPES: dict[str, Any] = typing.get_type_hints(Config)
_DEFAULTS = Config()


class PresetError(Exception):
    """A preset or an override could not be used. ``str()`` is one line: file, key, problem, hint."""

    def __init__(self, source: str, message: str, key: str | None = None):
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: key {shorten(repr(key))}" if key else source
        super().__init__(printable(f"{where}: {message}"))  # a path may hold control characters


# --------------------------------------------------------------------------------------- finding
def presets_dir() -> Path:
    """The shipped presets: ``gradtui/presets`` inside an installed wheel, else ``<repo>/presets``."""
    try:
        installed = importlib.resources.files("gradtui") / "presets"
        if installed.is_dir():
            return Path(str(installed))
    except (ModuleNotFoundError, OSError, TypeError):  # pragma: no cover - exotic loaders
        pass
    return Path(__file__).resolve().parent.parent / "presets"


def _preset_files() -> dict[str, Path]:
    d = presets_dir()
    if not d.is_dir():
        return {}
    return {p.stem: p for p in sorted(d.glob("*" + SUFFIX)) if p.is_file()}


def _hint(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def _describe(path: Path) -> str:
    try:
        desc = _read_toml(path).get("description", "")
    except PresetError:
        return "(unreadable)"
    if not isinstance(desc, str) or control_char(desc):
        return "(unreadable)"
    return " ".join(desc.split()) or "(no description)"


def list_presets() -> dict[str, str]:
    """Shipped presets, sorted by name: name (file stem) -> one-line description."""
    return {name: _describe(path) for name, path in sorted(_preset_files().items())}


def resolve(name_or_path: str) -> Path:
    """A shipped preset's file for a name, or the given path to a ``.toml`` file."""
    s = str(name_or_path)
    files = _preset_files()
    if s in files:
        return files[s]
    looks_like_path = s.endswith(SUFFIX) or "/" in s or "\\" in s or s.startswith(".")
    if looks_like_path or Path(s).exists():
        return Path(s)
    raise PresetError(f"preset {s!r}", "no such preset" + (_hint(s, list(files)) or
                                                           f"; available: {', '.join(files) or 'none'}"))


# --------------------------------------------------------------------------------------- reading
def _toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads``; the failures it does not wrap in a ``TOMLDecodeError`` (an integer past
    Python's int-string limit, arrays nested past the recursion limit) become a one-line
    ``ValueError``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise
    except RecursionError:
        raise ValueError("arrays nested too deeply") from None
    except ValueError as e:
        if "integer string conversion" in str(e):
            limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python >= 3.10.7
            raise ValueError(f"an integer has more than {limit} digits") from None
        raise ValueError("invalid value: " + shorten(" ".join(str(e).split()), 100)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    src = str(path)
    try:
        raw = read_regular_file(path, PRESET_MAX_BYTES, "preset file")
    except InputFileError as e:
        raise PresetError(src, str(e)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PresetError(src, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from None
    try:
        data = _toml_loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(src, "invalid TOML: " + " ".join(str(e).split())) from None
    except ValueError as e:
        raise PresetError(src, str(e)) from None
    if not data:
        raise PresetError(src, "empty preset (no keys); at least a description is expected")
    return data


def _parse_value(text: str) -> Any:
    """An override's value: a TOML value when it parses as one (``0.1``, ``true``, ``[64, 32]``,
    ``"x"``), else the bare string (``relu``). One value only: a line break is refused before
    parsing (``0.1\\nmomentum = 0.5`` is a two-key TOML document whose second key was dropped)."""
    if control_char(text):
        raise ValueError(f"the value contains a control character ({control_char(text)}); "
                         "one value per --set, on one line")
    try:
        data = _toml_loads("v = " + text)
    except tomllib.TOMLDecodeError:
        return text.strip()
    if list(data) != ["v"]:  # pragma: no cover - one line holds one key; kept as a guard
        raise ValueError("one value per --set")
    return data["v"]


def parse_override(item: str, source: str = "--set") -> tuple[str, Any]:
    where = f"{source} {shorten(repr(item))}"
    if "=" not in item:
        raise PresetError(where, "expected key=value, e.g. lr=0.1")
    key, _, value = item.partition("=")
    key = key.strip()
    if not key:
        raise PresetError(where, "missing key before '='")
    if value.strip() == "":
        raise PresetError(where, "missing value after '='", key)
    try:
        return key, _parse_value(value)
    except ValueError as e:
        raise PresetError(where, str(e), key) from None


# --------------------------------------------------------------------------------------- checking
def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return f"the string {shorten(repr(v))}"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _number(v: int | float) -> str:
    """A number for an error message: ``1e+400``-sized integers as a digit count, not 400 digits."""
    if isinstance(v, int) and abs(v) >= 10**16:
        return f"an integer of {len(str(abs(v)))} digits"
    return f"{v:g}"


def range_text(key: str) -> str:
    """The allowed range of a numeric field, e.g. ``in [0, 1)`` or ``>= 0``."""
    spec = FIELDS[key]
    g = (lambda x: str(x) if isinstance(x, int) and x >= 10**16 else f"{x:g}")  # 2^63 - 1 exactly
    lo = "" if spec.lo is None else ("(" if spec.lo_open else "[") + g(spec.lo)
    hi = "" if spec.hi is None else g(spec.hi) + (")" if spec.hi_open else "]")
    if spec.lo is not None and spec.hi is not None:
        return f"in {lo}, {hi}"
    if spec.lo is not None:
        return f"{'>' if spec.lo_open else '>='} {g(spec.lo)}"
    return f"{'<' if spec.hi_open else '<='} {g(spec.hi)}"


def _in_bounds(key: str, v: float, source: str) -> None:
    spec = FIELDS[key]
    if isinstance(v, float) and not math.isfinite(v):
        raise PresetError(source, f"must be a finite number, got {v}", key)
    lo_ok = spec.lo is None or (v > spec.lo if spec.lo_open else v >= spec.lo)
    hi_ok = spec.hi is None or (v < spec.hi if spec.hi_open else v <= spec.hi)
    if not (lo_ok and hi_ok):
        raise PresetError(source, f"must be {range_text(key)}, got {_number(v)}", key)


def check_value(key: str, v: Any, source: str) -> Any:
    """Validate one field's value; returns it converted to the Config field's type."""
    if key not in FIELDS:
        raise PresetError(source, "unknown key" + _hint(key, list(FIELDS)), key)
    spec, typ = FIELDS[key], _TYPES[key]
    if typ is bool:
        if not isinstance(v, bool):
            raise PresetError(source, f"expected true or false, got {_kind(v)}", key)
        return v
    if typ is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise PresetError(source, f"expected an integer, got {_kind(v)}", key)
        _in_bounds(key, v, source)
        return v
    if typ is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PresetError(source, f"expected a number, got {_kind(v)}", key)
        try:
            v = float(v)
        except OverflowError:  # an integer beyond float range
            raise PresetError(source, f"must be {range_text(key)}, got {_number(v)}", key) from None
        _in_bounds(key, v, source)
        return v
    if typ is str:
        if not isinstance(v, str):
            raise PresetError(source, f"expected a string, got {_kind(v)}", key)
        if control_char(v):
            raise PresetError(source, f"contains a control character ({control_char(v)}); text fields "
                                      "must be printable, on one line", key)
        if spec.choices and v not in spec.choices:
            raise PresetError(source, f"unknown value {shorten(repr(v))}" + (_hint(v, spec.choices) or
                                                              f"; choose from {', '.join(spec.choices)}"), key)
        return v
    if key == "hidden":  # tuple[int, ...]
        if not isinstance(v, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in v):
            raise PresetError(source, f"expected a list of positive integers like [64, 32], got {_kind(v)}", key)
        wmax, dmax = int(FIELDS["width"].hi), int(FIELDS["depth"].hi)
        if any(not 1 <= x <= wmax for x in v):
            raise PresetError(source, f"every width must be in [1, {wmax}], got {shorten(repr(v))}", key)
        if len(v) > dmax:
            raise PresetError(source, f"at most {dmax} hidden layers, got {len(v)}", key)
        return tuple(v)
    raise PresetError(source, f"unsupported field type {typ}", key)  # pragma: no cover


def check_config(cfg: Config, source: str) -> None:
    """Cross-field checks that need no data."""
    nt = n_train(cfg.n_samples, cfg.test_fraction)
    if cfg.batch_size > nt:
        raise PresetError(source, f"{cfg.batch_size} is larger than the {nt} training points "
                                  f"(n_samples={cfg.n_samples}, test_fraction={cfg.test_fraction:g})",
                          "batch_size")
    if nt < 1:  # pragma: no cover - bounds already exclude it
        raise PresetError(source, "no training points left", "test_fraction")


def config_from_dict(data: dict[str, Any], source: str, default_name: str = "custom") -> dict[str, Any]:
    """Validated field values of a preset table (not yet a Config)."""
    values: dict[str, Any] = {}
    if "name" not in data:  # the file stem: checked like any name
        values["name"] = check_value("name", default_name, source)
    for key, v in data.items():
        if isinstance(v, dict):
            raise PresetError(source, "tables are not supported: presets are flat key = value files"
                              + _hint(key, list(FIELDS)), key)
        values[key] = check_value(key, v, source)
    return values


def load_preset(name_or_path: str, overrides: Sequence[str] = (), seed: int | None = None) -> Config:
    """Load a shipped preset by name or a ``.toml`` file by path, apply ``key=value`` overrides and
    the seed, validate everything, and return the Config. Raises :class:`PresetError`."""
    path = resolve(name_or_path)
    source = path.name if path.parent == presets_dir() else str(path)
    values = config_from_dict(_read_toml(path), source, default_name=path.stem)
    for item in overrides:
        key, raw = parse_override(item)
        values[key] = check_value(key, raw, f"--set {shorten(repr(item))}")
    if seed is not None:
        values["seed"] = check_value("seed", seed, "--seed")
    cfg = Config(**values)
    check_config(cfg, source + (" with --set" if overrides else ""))
    return cfg


def to_toml(cfg: Config, only_changed: bool = True) -> str:
    """A preset file for ``cfg`` (fields that differ from the defaults, plus name and description)."""
    lines = []
    for f in dataclasses.fields(Config):
        v = getattr(cfg, f.name)
        if only_changed and f.name not in ("name", "description") and v == getattr(_DEFAULTS, f.name):
            continue
        lines.append(f"{f.name} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'
