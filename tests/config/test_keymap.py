"""The one key table: unique keys, every setting key's press is the change its field's registry
order and bounds give, and the users of the table (bindings, remedies, lessons) agree with it."""

import pytest

from gradtui.commands import Reinit, SetFields
from gradtui.config import FIELDS, Config
from gradtui.keymap import BY_SHOWN, KEYMAP, LR_MAX, LR_MIN, key_for, setting_key

CFG = Config()


def test_keys_are_unique_and_every_setting_key_names_a_config_field():
    names = [n for k in KEYMAP for n in k.key.split(",")]
    assert len(names) == len(set(names))
    for k in KEYMAP:
        if k.field:
            assert k.field in FIELDS and k.how in ("cycle", "toggle", "scale", "add")


@pytest.mark.parametrize("k", [k for k in KEYMAP if k.how == "cycle"], ids=lambda k: k.shown)
def test_cycling_visits_every_choice_in_registry_order_and_comes_back(k):
    cfg, seen = CFG, []
    for _ in FIELDS[k.field].choices:
        cmd = k.command(cfg)
        cfg = cmd.after(cfg)
        seen.append(getattr(cfg, k.field))
        assert isinstance(cmd, Reinit if k.field == "init" else SetFields)
    assert seen[-1] == getattr(CFG, k.field) and sorted(seen) == sorted(FIELDS[k.field].choices)


def test_toggles_and_the_learning_rate_bounds():
    assert BY_SHOWN["R"].command(CFG) == SetFields.of(residual=not CFG.residual)
    up, down = setting_key("lr"), setting_key("lr", up=False)
    assert up.command(CFG.replace(lr=0.1)) == SetFields.of(lr=0.2)
    assert up.command(CFG.replace(lr=LR_MAX)).after(CFG).lr == LR_MAX
    assert down.command(CFG.replace(lr=LR_MIN)).after(CFG).lr == LR_MIN


def test_depth_keys_add_one_layer_within_the_bounds():
    more, less = BY_SHOWN[">"], BY_SHOWN["<"]
    assert more.command(CFG.replace(depth=4)) == SetFields.of(depth=5)
    assert less.command(CFG.replace(depth=4)) == SetFields.of(depth=3)
    assert less.command(CFG.replace(depth=1)) == SetFields.of(depth=1)  # never below the bound
    assert more.command(CFG.replace(depth=FIELDS["depth"].hi)) == SetFields.of(depth=int(FIELDS["depth"].hi))
    # explicit widths: their count is the depth, and they give way
    assert more.command(CFG.replace(hidden=(8, 4))) == SetFields.of(depth=3, hidden=())
    assert setting_key("depth") is more and setting_key("depth", up=False) is less


def test_the_dashboard_bindings_are_the_table():
    from gradtui.ui.keys import BINDINGS

    assert [(b.key, b.action) for b in BINDINGS] == [(k.key, k.action) for k in KEYMAP]
    assert key_for("reset") == "r" and key_for("lr") == "+"


def test_presses_count_what_pressing_does():
    a, back = setting_key("activation"), setting_key("activation", up=False)
    opts = list(FIELDS["activation"].choices)
    for target in opts:
        n, cfg = a.presses(CFG.activation, target), CFG
        for _ in range(n):
            cfg = a.command(cfg).after(cfg)
        assert cfg.activation == target
        m, cfg = back.presses(CFG.activation, target), CFG
        for _ in range(m):
            cfg = back.command(cfg).after(cfg)
        assert cfg.activation == target and n + m in (0, len(opts))
    assert setting_key("lr").presses(0.1, 0.8) == 3 and setting_key("lr", up=False).presses(0.8, 0.1) == 3
    assert BY_SHOWN["R"].presses(False, True) == 1 and BY_SHOWN["R"].presses(True, True) == 0
