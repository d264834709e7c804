"""Preset loading: every shipped preset, overrides, and one-line errors naming file and key."""

import pytest

from gradtui.config import FIELDS, Config
from gradtui.presets import (PresetError, list_presets, load_preset, parse_override, presets_dir,
                             to_toml)

SHIPPED = ["deep-sigmoid", "deep-tanh", "relu-he", "exploding", "clipped", "exploding-tanh", "residual", "batchnorm",
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

    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    if not readme.exists():
        pytest.skip("no README next to the tests")
    keys = re.findall(r"^\| `(\w+)` \| (?:string|int|float|bool|list of ints) \|", readme.read_text(), re.M)
    assert keys == list(FIELDS)


# ------------------------------------------------------------------ each description's claims hold
# Run through the trainer's own step path (what --headless runs), seeded as shipped.
def _run(name: str, steps: int, sets=(), commands=()):
    """The trainer after ``steps`` steps of a shipped preset (stops early on divergence); each
    ``(at, Command)`` in ``commands`` is applied once ``at`` steps have run."""
    import numpy as np

    from gradtui.trainer import Trainer

    tr = Trainer(load_preset(name, list(sets)))
    pending = sorted(commands, key=lambda c: c[0])
    with np.errstate(all="ignore"):
        while True:
            while pending and (pending[0][0] <= tr.total_steps or tr.diverged):  # a key while diverged
                tr.apply(pending.pop(0)[1])
            if tr.total_steps >= steps:
                return tr
            limit = pending[0][0] if pending else steps
            if tr.run_steps(min(2000, limit - tr.total_steps)) == 0 and not pending:
                return tr  # diverged


def _acc(tr) -> float:
    import numpy as np

    from gradtui.stats import GLOBAL_COL

    _, glob, _ = tr.ring.last(100)
    return float(np.nanmean(glob[:, GLOBAL_COL["train_acc"]]))


def _regimes(tr):
    return tr.snapshot().regimes


def _grads(tr):
    return tr.snapshot().latest_layers("grad_norm")


def test_preset_table_in_readme_lists_every_shipped_preset():
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("| preset | what it shows"):]
    for name in list_presets():
        assert f"| `{name}` |" in table[: table.index("\n\n")], name


def test_deep_sigmoid_first_layer_gradient_is_1e13_of_the_last():
    tr = _run("deep-sigmoid", 1)
    g = _grads(tr)
    assert 1e-14 < g[0] / g[-1] < 1e-12
    assert _regimes(tr)[0] == "vanishing" and _regimes(tr)[-1] == "ok"
    assert _acc(_run("deep-sigmoid", 1000)) < 0.45  # near chance (1/3)


def test_deep_tanh_every_gradient_vanishes_and_it_stays_at_chance():
    tr = _run("deep-tanh", 1)
    assert _grads(tr).max() < 1e-10 and set(_regimes(tr)) == {"vanishing"}
    tr = _run("deep-tanh", 1000)
    assert _acc(tr) < 0.45 and _regimes(tr)[:10] == ("vanishing",) * 10


def test_relu_he_balanced_and_100_percent_within_300_steps():
    g = _grads(_run("relu-he", 1))
    assert g.max() / g.min() < 10
    tr = _run("relu-he", 300)
    assert _acc(tr) >= 0.99 and set(_regimes(tr)) == {"ok"}


def test_exploding_explodes_diverges_and_c_then_r_recovers():
    from gradtui.commands import Reset, SetFields

    tr = _run("exploding", 1)
    assert set(_regimes(tr)) == {"exploding"} and _grads(tr).min() > 1e2
    tr = _run("exploding", 100)
    assert tr.diverged and tr.step_count <= 10
    # c while diverged: the next step diverges again; r restarts with clipping on
    tr = _run("exploding", 2000, commands=[(10, SetFields.of(**{"clip": "value"})), (11, Reset())])
    assert not tr.diverged and tr.cfg.clip == "value" and _acc(tr) > 0.9
    # or - twice (lr 0.0025), then r
    tr = _run("exploding", 2000, commands=[(10, SetFields.of(**{"lr": 0.005})), (11, SetFields.of(**{"lr": 0.0025})),
                                           (12, Reset())])
    assert not tr.diverged and _acc(tr) > 0.9
    assert _run("exploding", 100, ["lr=0.005"]).diverged  # one press is not enough


def test_clipped_survives_and_learns():
    tr = _run("clipped", 3000)
    assert not tr.diverged and _acc(tr) > 0.85
    assert "exploding" in _regimes(tr)  # the gradients themselves stay large


def test_exploding_tanh_explodes_saturates_and_layer_norm_clipping_rescues():
    from gradtui.commands import Reset, SetFields

    tr = _run("exploding-tanh", 1)
    g = _grads(tr)
    assert g[0] > 1e2 and g[0] / g[-1] > 50 and _regimes(tr)[0] == "exploding"
    tr = _run("exploding-tanh", 3000)
    assert _acc(tr) < 0.5 and "saturated" in _regimes(tr)[:8]
    assert _acc(_run("exploding-tanh", 3000, ["clip=value"])) < 0.6  # c once: not enough
    c, r = SetFields.of(**{"clip": "value"}), Reset()
    tr = _run("exploding-tanh", 3000, commands=[(200, c), (201, SetFields.of(**{"clip": "layer_norm"})), (202, r)])
    assert tr.cfg.clip == "layer_norm" and tr.step_count == 3000 - 202 and _acc(tr) > 0.9


def test_residual_trains_30_tanh_layers():
    tr = _run("residual", 300)
    assert _acc(tr) >= 0.99 and set(_regimes(tr)) == {"ok"}


def test_batchnorm_rescues_the_deep_sigmoid_net():
    tr = _run("batchnorm", 1000)
    assert _acc(tr) > 0.9 and set(_regimes(tr)) == {"ok"}


def test_adam_rescues_what_sgd_cannot():
    assert _acc(_run("adam-rescue", 3000, ["optimizer=sgd"])) < 0.4
    assert _regimes(_run("adam-rescue", 1))[0] == "vanishing"
    assert _acc(_run("adam-rescue", 3000)) > 0.55


def test_selu_lecun_keeps_mean_0_std_1():
    import numpy as np

    snap = _run("selu-lecun", 1).snapshot()
    assert np.all(np.abs(snap.latest_layers("act_mean")[:-1]) < 0.2)
    assert np.all(np.abs(snap.latest_layers("act_std")[:-1] - 1) < 0.2)
