"""Property-based tests: any preset file or override string gives a valid configuration (that
really trains) or one clean PresetError line, never a crash."""

import dataclasses
import string

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradtui.config import FIELDS, Config
from gradtui.presets import PresetError, load_preset, parse_override, check_value
from gradtui.trainer import Trainer

KEYS = sorted(FIELDS)
# keys users get wrong: real ones, near misses and junk
key_st = st.one_of(st.sampled_from(KEYS), st.sampled_from([k[:-1] for k in KEYS if len(k) > 2]),
                   st.text(string.ascii_letters + "_-", min_size=1, max_size=12))
toml_scalar = st.one_of(
    st.booleans(), st.integers(-10**7, 10**7), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["relu", "sigmoid", "he_normal", "adam", "global_norm", "spiral", "float32", "nope", ""]),
    st.lists(st.integers(-5, 70), max_size=4),
)


def toml_repr(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, float):
        return repr(v) if np.isfinite(v) else "0.0"
    return repr(v) if not isinstance(v, list) else "[" + ", ".join(map(str, v)) + "]"


def one_line_error(e: PresetError) -> bool:
    s = str(e)
    return bool(s) and "\n" not in s and "Traceback" not in s


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(key_st, toml_scalar, max_size=6))
def test_random_preset_files_load_or_fail_cleanly(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("p") / "random.toml"
    path.write_text("\n".join(f'"{k}" = {toml_repr(v)}' for k, v in table.items()) + "\n")
    try:
        cfg = load_preset(str(path))
    except PresetError as e:
        assert one_line_error(e)
        return
    assert isinstance(cfg, Config)
    for k, v in table.items():  # every accepted value is what the file said
        got = getattr(cfg, k)
        assert got == (tuple(v) if isinstance(v, list) else v)


@settings(max_examples=500, deadline=None)
@given(st.text(string.printable, max_size=30))
def test_random_override_strings_parse_or_fail_cleanly(item):
    try:
        key, raw = parse_override(item)
        check_value(key, raw, "--set")
    except PresetError as e:
        assert one_line_error(e)


small_override = st.one_of(
    st.tuples(st.just("activation"), st.sampled_from(list(FIELDS["activation"].choices))),
    st.tuples(st.just("init"), st.sampled_from(list(FIELDS["init"].choices))),
    st.tuples(st.just("optimizer"), st.sampled_from(list(FIELDS["optimizer"].choices))),
    st.tuples(st.just("clip"), st.sampled_from(list(FIELDS["clip"].choices))),
    st.tuples(st.just("schedule"), st.sampled_from(list(FIELDS["schedule"].choices))),
    st.tuples(st.just("dataset"), st.sampled_from(list(FIELDS["dataset"].choices))),
    st.tuples(st.just("residual"), st.booleans()),
    st.tuples(st.just("batchnorm"), st.booleans()),
    st.tuples(st.just("lr"), st.floats(1e-6, 1e6)),
    st.tuples(st.just("depth"), st.integers(1, 6)),
    st.tuples(st.just("width"), st.integers(1, 24)),
    st.tuples(st.just("batch_size"), st.integers(1, 400)),
    st.tuples(st.just("n_samples"), st.integers(8, 300)),
    st.tuples(st.just("init_std"), st.floats(1e-3, 50)),
    st.tuples(st.just("l1"), st.floats(0, 10)),
    st.tuples(st.just("l2"), st.floats(0, 10)),
    st.tuples(st.just("clip_value"), st.floats(1e-6, 1e3)),
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["deep-sigmoid", "relu-he", "exploding", "batchnorm", "residual", "selu-lecun"]),
       st.lists(small_override, max_size=6))
def test_valid_configurations_train_without_raising(preset, overrides):
    items = [f"{k}={toml_repr(v) if not isinstance(v, str) else v}" for k, v in overrides]
    items += ["depth=3", "width=8"] if not any(k in ("depth", "width") for k, _ in overrides) else []
    try:
        cfg = load_preset(preset, items)
    except PresetError as e:
        assert one_line_error(e)
        return
    cfg = dataclasses.replace(cfg, depth=min(cfg.depth, 6), width=min(cfg.width, 24), hidden=())
    tr = Trainer(cfg)
    with np.errstate(all="ignore"):
        tr.run_steps(20)
    assert tr.status in ("running", "diverged")
    assert tr.step_count >= 1
