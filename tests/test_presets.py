"""Preset loading: every shipped preset, overrides, and one-line errors naming file and key."""

import pytest

from gradtui.config import FIELDS, Config
from gradtui.presets import (PresetError, list_presets, load_preset, parse_override, presets_dir,
                             to_toml)

SHIPPED = ["deep-sigmoid", "deep-tanh", "relu-he", "exploding", "clipped", "residual", "batchnorm",
           "adam-rescue", "selu-lecun"]


def test_presets_dir_has_the_shipped_presets():
    assert presets_dir().is_dir()
    assert set(SHIPPED) <= set(list_presets())
    assert list(list_presets()) == sorted(list_presets())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_preset_loads_with_a_description(name):
    cfg = load_preset(name)
    assert isinstance(cfg, Config)
    assert cfg.name == name
    assert cfg.description and "\n" not in list_presets()[name]


def test_every_file_in_presets_dir_loads():
    for name in list_presets():
        load_preset(name)


def test_load_by_path_and_name_defaults_to_stem(write_preset):
    p = write_preset('description = "x"\nlr = 1\nhidden = [8, 4]\nresidual = true\n', name="mine.toml")
    cfg = load_preset(str(p))
    assert cfg.name == "mine"
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)  # ints are accepted for floats
    assert cfg.hidden == (8, 4) and cfg.hidden_sizes == (8, 4)
    assert cfg.residual is True


def test_overrides_and_seed():
    cfg = load_preset("relu-he", ["lr=0.1", "residual=true", "hidden=[64,32]", "activation=tanh",
                                  'name="x y"'], seed=7)
    assert (cfg.lr, cfg.residual, cfg.hidden, cfg.activation, cfg.name, cfg.seed) == \
        (0.1, True, (64, 32), "tanh", "x y", 7)


@pytest.mark.parametrize("item, value", [("lr=0.5", 0.5), ("depth=3", 3), ("residual=false", False),
                                         ("activation=relu", "relu"), ("hidden=[]", []),
                                         ("init= he_normal ", "he_normal")])
def test_parse_override(item, value):
    assert parse_override(item)[1] == value


def one_line_error(fn, *args, **kw) -> str:
    with pytest.raises(PresetError) as ei:
        fn(*args, **kw)
    msg = str(ei.value)
    assert "\n" not in msg and msg.strip() == msg and len(msg) < 300
    return msg


@pytest.mark.parametrize("text, key, fragment", [
    ('actvation = "relu"', "actvation", "did you mean 'activation'"),
    ('activation = "sigmod"', "activation", "did you mean 'sigmoid'"),
    ('optimizer = "adamm"', "optimizer", "did you mean 'adam'"),
    ("lr = -0.1", "lr", "must be in (0"),
    ("lr = 0", "lr", "must be in (0"),
    ("depth = 0", "depth", "must be in [1"),
    ("momentum = 1.5", "momentum", "must be in [0"),
    ("lr = nan", "lr", "finite"),
    ('lr = "fast"', "lr", "expected a number"),
    ("depth = 2.5", "depth", "expected an integer"),
    ("depth = true", "depth", "expected an integer"),
    ("residual = 1", "residual", "expected true or false"),
    ("hidden = [8, 0]", "hidden", "every width"),
    ("hidden = [8, 2.0]", "hidden", "list of positive integers"),
    ("hidden = 8", "hidden", "list of positive integers"),
    ("activation = 3", "activation", "expected a string"),
    ("[model]\ndepth = 3", "model", "flat"),
    ("n_samples = 100\nbatch_size = 90", "batch_size", "larger than the 80 training points"),
])
def test_bad_values_name_file_and_key(write_preset, text, key, fragment):
    p = write_preset('description = "bad"\n' + text + "\n", name="bad.toml")
    msg = one_line_error(load_preset, str(p))
    assert str(p) in msg
    assert repr(key) in msg
    assert fragment in msg


@pytest.mark.parametrize("content, fragment", [
    ("lr = = 3\n", "invalid TOML"),
    ("description = 'unterminated\n", "invalid TOML"),
    ("", "empty preset"),
    ("# only a comment\n", "empty preset"),
    (b'description = "caf\xe9"\n', "not UTF-8"),
])
def test_unreadable_files(write_preset, content, fragment):
    p = write_preset(content)
    msg = one_line_error(load_preset, str(p))
    assert str(p) in msg and fragment in msg


def test_missing_file_and_directory(tmp_path):
    msg = one_line_error(load_preset, str(tmp_path / "nope.toml"))
    assert "nope.toml" in msg and "no such file" in msg
    d = tmp_path / "dir.toml"
    d.mkdir()
    msg = one_line_error(load_preset, str(d))
    assert "dir.toml" in msg and "directory" in msg


def test_unknown_preset_name_hint():
    msg = one_line_error(load_preset, "deep-sigmod")
    assert "deep-sigmod" in msg and "did you mean 'deep-sigmoid'" in msg
    msg = one_line_error(load_preset, "zzzzzz")
    assert "available:" in msg and "relu-he" in msg


@pytest.mark.parametrize("item, fragment", [
    ("lr", "expected key=value"),
    ("=3", "missing key"),
    ("lr=", "missing value"),
    ("lrr=0.1", "did you mean 'lr'"),
    ("lr=abc", "expected a number"),
    ("activation=sigmod", "did you mean 'sigmoid'"),
    ("batch_size=5000", "training points"),
])
def test_bad_overrides(item, fragment):
    msg = one_line_error(load_preset, "relu-he", [item])
    assert fragment in msg


def test_bad_seed():
    assert "'seed'" in one_line_error(load_preset, "relu-he", seed=-1)


def test_a_preset_with_every_field_loads(write_preset):
    """Every Config field is accepted with a value of its own type (nothing left unchecked)."""
    cfg = Config(name="all", description="every field", hidden=(16, 8), clip="value", dtype="float32")
    text = to_toml(cfg, only_changed=False)
    assert len(text.splitlines()) == len(FIELDS)
    assert load_preset(str(write_preset(text, name="all.toml"))) == cfg


def test_to_toml_round_trip(write_preset):
    cfg = load_preset("residual", ["hidden=[16,16]", "batchnorm=true"])
    back = load_preset(str(write_preset(to_toml(cfg), name="residual.toml")))
    assert back == cfg


def test_readme_preset_table_lists_every_field():
    import pathlib
    import re

    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("no README next to the tests")
    keys = re.findall(r"^\| `(\w+)` \| (?:string|int|float|bool|list of ints) \|", readme.read_text(), re.M)
    assert keys == list(FIELDS)
