"""The command protocol: every command round-trips through the session codec, and a
``gradtui-session/1`` file written before the command classes existed still decodes."""

import json

import pytest

from gradtui import commands as C
from gradtui.config import Config

CFG = Config(depth=3, width=8, n_samples=64, batch_size=16)

EXAMPLES = [C.SetFields.of(activation="relu", lr=0.5), C.Reinit("he_normal"), C.Reinit(), C.LoadPreset(CFG),
            C.Reset(), C.Pause(), C.Resume(), C.TogglePause(), C.Step(3), C.Backend("numpy"), C.Backend("kernels"),
            C.Pace(12.5), C.Pace(None), C.Undo()]


def test_every_command_class_has_an_example_and_a_unique_kind():
    assert {type(c) for c in EXAMPLES} == set(C.ALL)
    assert len(C.BY_KIND) == len(C.ALL)


@pytest.mark.parametrize("cmd", EXAMPLES, ids=lambda c: type(c).__name__)
def test_round_trip_through_json(cmd):
    line = json.loads(json.dumps({"at": 5, **C.encode(cmd)}))
    assert C.decode(line["kind"], line["value"], "x:1") == cmd


def test_only_numeric_commands_change_what_is_computed():
    assert {c.kind for c in C.ALL if c.numeric} == {"set", "reinit", "preset", "reset", "backend", "undo"}


@pytest.mark.parametrize("value", ["torch", None, 1, ["numpy"], "NumPy"])
def test_backend_takes_only_known_names(value):
    with pytest.raises(C.CommandError, match="x:1: 'backend' takes one of numpy, kernels"):
        C.decode("backend", value, "x:1")


def test_after_gives_the_configuration_each_command_reaches():
    assert C.SetFields.of(lr=0.5).after(CFG).lr == 0.5
    assert C.Reinit("orthogonal").after(CFG).init == "orthogonal"
    assert C.Reinit().after(CFG) == CFG and C.Pause().after(CFG) == CFG
    other = CFG.replace(depth=5)
    assert C.LoadPreset(other).after(CFG) == other


def test_old_session_lines_decode():  # written by gradtui 0.1.0, before the command classes
    old = ['{"at": 0, "kind": "set", "value": {"activation": "relu", "hidden": [8, 4]}}',
           '{"at": 3, "kind": "reinit", "value": null}', '{"at": 4, "kind": "toggle_pause", "value": null}',
           '{"at": 4, "kind": "step", "value": 2}', '{"at": 9, "kind": "reset", "value": null}']
    got = [C.decode(o["kind"], o["value"], "s") for o in map(json.loads, old)]
    assert got == [C.SetFields((("activation", "relu"), ("hidden", (8, 4)))), C.Reinit(), C.TogglePause(),
                   C.Step(2), C.Reset()]


@pytest.mark.parametrize("kind,value,fragment", [
    ("jump", None, "unknown command kind 'jump'"), ("set", [1], "needs an object"),
    ("set", {"lr": "fast"}, "lr"), ("reinit", 3, "initialiser name"), ("step", 0, "positive count"),
    ("step", True, "positive count"), ("pace", 0, "positive number"), ("pace", "fast", "positive number"),
    ("pace", True, "positive number"), ("pace", 1e400, "positive number"), ("preset", "relu-he", "object of config fields"), (None, None, "unknown"),
])
def test_bad_values_are_one_line_errors(kind, value, fragment):
    with pytest.raises(C.CommandError) as e:
        C.decode(kind, value, "s.jsonl:2")
    assert fragment in str(e.value) and str(e.value).startswith("s.jsonl:2") and "\n" not in str(e.value)
