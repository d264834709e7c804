"""The table of bad-input and fault cases and what each must end in; ``test_bad_input.py`` runs every
row through the real CLI (``python -m gradtui`` in a fresh directory) and checks the outcome.

Every row expects the same promise unless it says otherwise: exit status ``code`` (2), exactly one
line ``gradtui: error: ...`` on stderr containing ``fragment``, nothing on stdout, no traceback, no
raw control character, and no file written (the directory holds only the row's input files).
Every row fails before any kernel is compiled, so the whole table runs in seconds.

``files`` are created in the row's directory first: ``str``/``bytes`` are file contents, ``FIFO`` a
named pipe, ``("sparse", n)`` a file of ``n`` bytes that takes no disk space.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field

from gradtui.config import FIELDS, Config

FIFO = "fifo"
TYPES = typing.get_type_hints(Config)
ESC, BEL, OSC_C1 = "\x1b", "\x07", "\x9d"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    fragment: str
    files: dict = field(default_factory=dict)
    code: int = 2


def session(config: dict | None = None, *commands: dict) -> str:
    """A session file: a header with ``config`` (default: relu-he-like defaults) and commands."""
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(Config()).items()}
    cfg.update(config or {})
    head = json.dumps({"format": "gradtui-session/1", "gradtui": "0", "config": cfg})
    return "\n".join([head, *(json.dumps(c) for c in commands)]) + "\n"


def _raw_session(config_json: str) -> str:
    """A session whose config is given as raw JSON text (for values json.dumps cannot write)."""
    return '{"format": "gradtui-session/1", "gradtui": "0", "config": ' + config_json + "}\n"


# ---------------------------------------------------------------------------- every field
def _wrong_type(key: str) -> str:
    t = TYPES[key]
    if t is bool:
        return "3"
    if t in (int, float):
        return '"many"'
    if t is str:
        return "[1, 2]"
    return '"64,64"'  # hidden: not a list


def _field_cases():
    """Every field with a wrong type, every bound crossed (an open bound: the bound itself), every
    unknown name."""
    for key, spec in FIELDS.items():
        is_int = TYPES[key] is int
        if key not in ("name", "description"):
            yield key, _wrong_type(key), "type"
        if spec.choices:
            yield key, "no_such_" + spec.choices[0][:-1], "choice"
        if spec.lo is not None:
            lo = spec.lo if spec.lo_open else spec.lo - (1 if is_int else spec.lo * 0.5 + 0.5)
            yield key, repr(int(lo) if is_int else float(lo)), "below"
        if spec.hi is not None:
            hi = spec.hi if spec.hi_open else (int(spec.hi) * 10 + 1 if is_int else float(spec.hi) * 10 + 1)
            yield key, repr(hi), "above"
    yield "hidden", "[64, 0]", "below"
    yield "no_such_field", "1", "unknown key"


FIELD_CASES = [Case(f"set-{key}-{what}", ("--preset", "relu-he", "--set", f"{key}={value}", "--headless",
                                          "--steps", "5", "--export", "out.jsonl"), key)
               for key, value, what in _field_cases()]

# ---------------------------------------------------------------------------- the command line
COMMAND_LINE = [
    Case("set-no-equals", ("--set", "lr"), "key=value"),
    Case("set-no-key", ("--set", "=3"), "missing key"),
    Case("set-no-value", ("--set", "lr="), "missing value"),
    Case("set-misspelt-key", ("--set", "lrr=1"), "did you mean 'lr'"),
    Case("set-misspelt-name", ("--set", "activation=sigmod"), "did you mean 'sigmoid'"),
    Case("set-batch-too-big", ("--preset", "relu-he", "--set", "batch_size=5000", "--headless"), "training points"),
    Case("vs-unknown-preset", ("--vs", "batchnrom", "--headless"), "batchnrom"),
    Case("vs-set-no-equals", ("--vs-set", "batchnorm", "--headless"), "key=value"),
    Case("vs-set-misspelt-key", ("--vs-set", "batchnrom=true", "--headless"), "did you mean 'batchnorm'"),
    Case("vs-set-bad-value", ("--vs-set", "lr=-1", "--headless"), "--vs-set"),
    Case("vs-set-seed", ("--vs-set", "seed=3", "--headless"), "share one seed"),
    Case("vs-set-batch-too-big", ("--vs-set", "batch_size=5000", "--headless"), "training points"),
    Case("vs-with-replay", ("--headless", "--replay", "s.jsonl", "--vs", "relu-he"), "--vs", {"s.jsonl": session()}),
    Case("ab-session-bad-run", ("--headless", "--replay", "s.jsonl"), "'run' must be",
         {"s.jsonl": '{"format": "gradtui-session-ab/1", "runs": ["A", "B"]}\n{"run": "C", "end": 3}\n'}),
    Case("ab-session-one-run", ("--headless", "--replay", "s.jsonl"), "no lines for run B",
         {"s.jsonl": '{"format": "gradtui-session-ab/1", "runs": ["A", "B"]}\n'
                     + "".join('{"run": "A", ' + line[1:] + "\n" for line in session().splitlines())}),
    Case("seed-negative", ("--seed", "-3"), "--seed"),
    Case("steps-zero", ("--headless", "--steps", "0"), "positive"),
    Case("steps-negative", ("--headless", "--steps", "-5"), "positive"),
    Case("steps-word", ("--headless", "--steps", "ten"), "positive integer"),
    Case("steps-huge-digits", ("--headless", "--steps", "9" * 5000), "positive integer"),
    Case("size-word", ("--screenshot", "x.svg", "--size", "120by40"), "WIDTHxHEIGHT"),
    Case("size-small", ("--screenshot", "x.svg", "--size", "5x5"), "out of range"),
    Case("export-no-dir", ("--headless", "--export", "nodir/out.jsonl"), "does not exist"),
    Case("export-dir", ("--headless", "--export", "."), "directory"),
    Case("export-suffix", ("--headless", "--export", "out.parquet"), "unknown export format"),
    Case("export-txt", ("--headless", "--export", "run.txt"), "use .jsonl or .csv"),
    Case("export-with-screenshot", ("--screenshot", "x.svg", "--export", "run.jsonl"), "goes with the dashboard"),
    Case("export-hist-alone", ("--headless", "--export-hist"), "needs --export RUN.jsonl"),
    Case("export-hist-csv", ("--headless", "--export", "run.csv", "--export-hist"), "needs --export RUN.jsonl"),
    Case("screenshot-no-dir", ("--screenshot", "nodir/x.svg"), "does not exist"),
    Case("screenshot-png", ("--screenshot", "x.png"), ".svg"),
    Case("headless-and-screenshot", ("--headless", "--screenshot", "out.svg"), "not allowed with"),
    Case("unknown-option", ("--frobnicate",), "unrecognized arguments"),
    Case("preset-misspelt", ("--preset", "deep-sigmod"), "did you mean"),
    Case("preset-missing-file", ("--preset", "nope.toml"), "no such file"),
    # one value per --set: a newline made a TOML document and dropped the second key
    Case("set-newline-two-keys", ("--set", "lr=0.1\nmomentum=0.5", "--headless"), "one value per --set"),
    Case("set-carriage-return", ("--set", "lr=0.1\r", "--headless"), "control character"),
    # beta1 = 1 / beta2 = 1 divide by zero in Adam's bias correction; rho = 1 never moves
    Case("adam-beta1-one", ("--set", "optimizer=adam", "--set", "beta1=1", "--headless"), "[0, 1)"),
    Case("adam-beta2-one", ("--set", "optimizer=adam", "--set", "beta2=1", "--headless"), "[0, 1)"),
    Case("rmsprop-rho-one", ("--set", "optimizer=rmsprop", "--set", "rho=1", "--headless"), "[0, 1)"),
    Case("bench-json-no-dir", ("bench", "--quick", "--json", "nodir/x.json"), "does not exist"),
    Case("bench-unknown-option", ("bench", "--frobnicate"), "unrecognized arguments"),
    Case("learn-unknown", ("learn", "99"), "no such lesson"),
    Case("learn-misspelt", ("learn", "he-int", "--headless"), "did you mean 'he-init'"),
    Case("learn-list-and-lesson", ("learn", "--list", "3"), "--list takes no lesson"),
    Case("learn-bad-field", ("learn", "./01-x.toml"), "key 'steps': must be in",
         {"01-x.toml": 'title = "t"\npreset = "relu-he"\nsteps = 0\nintro = "i"\n'}),
    Case("learn-control-char", ("learn", "./01-x.toml"), "control character (U+001B)",
         {"01-x.toml": 'title = "\\u001b]0;x\\u0007"\npreset = "relu-he"\nsteps = 1\nintro = "i"\n'}),
    Case("learn-fifo", ("learn", "./01-x.toml"), "FIFO", {"01-x.toml": FIFO}),
]

# ---------------------------------------------------------------------------- files that are not files
NOT_FILES = [
    Case("preset-fifo", ("--preset", "p.toml", "--headless"), "FIFO", {"p.toml": FIFO}),
    Case("preset-dev-zero", ("--preset", "/dev/zero", "--headless"), "character device"),
    Case("preset-directory", ("--preset", "./", "--headless"), "directory"),
    Case("preset-too-large", ("--preset", "big.toml", "--headless"), "too large", {"big.toml": ("sparse", 17 << 20)}),
    Case("preset-not-utf8", ("--preset", "broken.toml", "--headless"), "not UTF-8", {"broken.toml": b"\xff\xfe\n"}),
    Case("preset-bad-toml", ("--preset", "broken.toml", "--headless"), "invalid TOML", {"broken.toml": "lr = = 1\n"}),
    Case("preset-empty", ("--preset", "broken.toml", "--headless"), "empty preset", {"broken.toml": ""}),
    Case("replay-fifo", ("--headless", "--replay", "s.jsonl"), "FIFO", {"s.jsonl": FIFO}),
    Case("replay-dev-zero", ("--headless", "--replay", "/dev/zero"), "character device"),
    Case("replay-too-large", ("--headless", "--replay", "s.jsonl"), "too large", {"s.jsonl": ("sparse", 65 << 20)}),
    Case("replay-missing", ("--headless", "--replay", "nope.jsonl"), "no such file"),
]

# ---------------------------------------------------------------------------- terminal escapes
_TITLE = ESC + "]0;pwned" + BEL  # sets the window title
_CLIP = OSC_C1 + "52;c;cm0gLXJmIH4K" + BEL  # OSC 52 (C1 form): writes the clipboard
ESCAPES = [  # TOML refuses raw C0 characters in strings but not its own \u escapes, nor raw C1
    Case("preset-description-osc-title", ("--preset", "p.toml", "--headless"), "control character",
         {"p.toml": 'description = "\\u001b]0;pwned\\u0007"\n'}),
    Case("preset-description-osc52-c1", ("--preset", "p.toml", "--headless"), "control character",
         {"p.toml": f'description = "{OSC_C1}52;c;cm0gLXJmIH4K\\u0007"\n'}),
    Case("preset-name-csi", ("--preset", "p.toml", "--headless"), "control character",
         {"p.toml": 'description = "x"\nname = "\\u001b[2J"\n'}),
    Case("preset-description-del", ("--preset", "p.toml", "--headless"), "control character",
         {"p.toml": 'description = "a\\u007fb"\n'}),
    Case("preset-description-newline", ("--preset", "p.toml", "--headless"), "control character",
         {"p.toml": 'description = """two\nlines"""\n'}),
    Case("preset-file-stem-escape", ("--preset", f"x{ESC}[2J.toml", "--headless"), "control character",
         {f"x{ESC}[2J.toml": 'description = "x"\n'}),
    Case("set-description-escape", ("--set", f"description={_TITLE}", "--headless"), "control character"),
    Case("set-name-quoted-escape", ("--set", 'name="\\u001b]0;x\\u0007"', "--headless"), "control character"),
    Case("session-header-escape", ("--headless", "--replay", "s.jsonl"), "control character",
         {"s.jsonl": session({"description": _TITLE})}),
    Case("session-set-escape", ("--headless", "--replay", "s.jsonl"), "control character",
         {"s.jsonl": session(None, {"at": 5, "kind": "set", "value": {"name": _CLIP}})}),
    Case("session-preset-escape", ("--headless", "--replay", "s.jsonl"), "control character",
         {"s.jsonl": session(None, {"at": 5, "kind": "preset", "value": {"name": ESC + "c"}})}),
]

# ---------------------------------------------------------------------------- huge integers, deep arrays
_DIGITS = "9" * 5000  # past Python's int-string limit (4300 digits)
_BIG = "1" + "0" * 400  # an integer past float range
_DEEP = "[" * 5000 + "]" * 5000
NUMBERS = [
    Case("set-int-past-float-range", ("--set", f"lr={_BIG}", "--headless"), "401 digits"),
    Case("set-int-past-str-limit", ("--set", f"seed={_DIGITS}", "--headless"), "digits"),
    Case("set-seed-past-int64", ("--set", f"seed={_BIG}", "--headless"), "'seed'"),
    Case("set-hidden-huge-width", ("--set", f"hidden=[8, {_BIG}]", "--headless"), "'hidden'"),
    Case("preset-int-past-float-range", ("--preset", "p.toml", "--headless"), "'lr'",
         {"p.toml": f'description = "x"\nlr = {_BIG}\n'}),
    Case("preset-int-past-str-limit", ("--preset", "p.toml", "--headless"), "digits",
         {"p.toml": f'description = "x"\nseed = {_DIGITS}\n'}),
    Case("session-int-past-float-range", ("--headless", "--replay", "s.jsonl"), "'lr'",
         {"s.jsonl": session({"lr": 10**400})}),
    Case("session-int-past-str-limit", ("--headless", "--replay", "s.jsonl"), "integer too long",
         {"s.jsonl": _raw_session('{"seed": ' + _DIGITS + "}")}),
    Case("set-deep-array", ("--set", f"hidden={_DEEP}", "--headless"), "nested too deeply"),
    Case("preset-deep-array", ("--preset", "p.toml", "--headless"), "nested too deeply",
         {"p.toml": f'description = "x"\nhidden = {_DEEP}\n'}),
    Case("session-deep-array", ("--headless", "--replay", "s.jsonl"), "nested too deeply",
         {"s.jsonl": _raw_session('{"hidden": ' + "[" * 100_000 + "]" * 100_000 + "}")}),
]

# ---------------------------------------------------------------------------- too big for memory
_HUGE = ("--set", "width=8192", "--set", "depth=500")  # ~1.4 TB: refused on any machine
_BIG_BATCH = ("--set", "width=8192", "--set", "depth=4", "--set", "batch_size=65536",
              "--set", "n_samples=100000")  # ~100 GB
MEMORY = [
    Case("memory-headless", (*_HUGE, "--headless", "--export", "out.jsonl"), "needs about"),
    Case("memory-big-batch", (*_BIG_BATCH, "--headless"), "is available"),
    Case("memory-screenshot", (*_HUGE, "--screenshot", "x.svg"), "needs about"),
    Case("memory-dashboard", (*_HUGE, "--record", "s.jsonl"), "needs about"),
    Case("memory-replay-header", ("--headless", "--replay", "s.jsonl"), "needs about",
         {"s.jsonl": session({"width": 8192, "depth": 500})}),
    Case("memory-replay-set", ("--headless", "--replay", "s.jsonl", "--export", "out.jsonl"), "needs about",
         {"s.jsonl": session(None, {"at": 10, "kind": "set", "value": {"width": 8192, "depth": 500}})}),
]

CASES: list[Case] = FIELD_CASES + COMMAND_LINE + NOT_FILES + ESCAPES + NUMBERS + MEMORY
assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
