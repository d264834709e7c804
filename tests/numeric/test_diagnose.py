"""The diagnosis in words (gradtui/diagnose.py): every shipped preset is diagnosed as what it
demonstrates, each finding on constructed snapshots (extremes included), the top remedies really
cure what they are offered for, and the headless summary's ``diagnosis:`` section."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest

from gradtui import diagnose as D
from gradtui import evidence as E
from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.numfmt import num
from gradtui.presets import list_presets, load_preset
from gradtui.remedies import KEYS
from gradtui.stats import GLOBAL_COL, LAYER_COL, Snapshot
from gradtui.commands import Reinit, Reset, SetFields
from gradtui.trainer import Trainer


# ------------------------------------------------------------------------------ running presets
def run(name: str, steps: int, sets=(), commands=()) -> Trainer:
    """The trainer after ``steps`` steps of a shipped preset (stops early when it diverges);
    ``commands``: (at, command) applied once ``at`` steps have run."""
    tr = Trainer(load_preset(name, list(sets)))
    pending = sorted(commands, key=lambda c: c[0])
    with np.errstate(all="ignore"):
        while True:
            while pending and (pending[0][0] <= tr.total_steps or tr.diverged):
                tr.apply(pending.pop(0)[1])
            if tr.total_steps >= steps:
                return tr
            limit = pending[0][0] if pending else steps
            if tr.run_steps(min(2000, limit - tr.total_steps)) == 0 and not pending:
                return tr


@lru_cache(maxsize=None)
def findings(name: str, steps: int, sets: tuple = ()) -> tuple[D.Finding, ...]:
    return D.diagnose(run(name, steps, sets).snapshot())


def regimes_of(fs) -> list[str]:
    return [f.regime for f in fs]


# Each preset, after a realistic number of steps, and what its description says it shows:
# (preset, steps, --set, the first finding, findings that must be there, findings that must not).
CAUSES = {"vanishing", "exploding", "exploding_growing", "dead", "saturated", "diverged", "chance"}
PRESET_CASES = [
    ("deep-sigmoid", 1000, (), "vanishing", {"chance"}, set()),
    ("deep-tanh", 1000, (), "vanishing", {"chance"}, set()),
    ("relu-he", 300, (), "healthy", set(), CAUSES),
    ("exploding", 1, (), "exploding", set(), {"diverged"}),
    ("exploding", 100, (), "diverged", set(), set()),
    ("clipped", 3000, (), "exploding", {"clipping_always"}, {"diverged", "chance"}),
    ("exploding-tanh", 1, (), "exploding", set(), {"diverged"}),
    ("exploding-tanh", 3000, (), "saturated", set(), {"diverged"}),
    ("residual", 300, (), "healthy", set(), CAUSES),
    ("batchnorm", 1000, (), "healthy", set(), CAUSES),
    ("adam-rescue", 1, (), "vanishing", set(), set()),
    ("adam-rescue", 3000, (), "healthy", set(), CAUSES),
    ("adam-rescue", 3000, ("optimizer=sgd",), "vanishing", {"chance"}, set()),  # what Adam rescues from
    ("selu-lecun", 1000, (), "healthy", set(), CAUSES),
    ("relu-he", 300, ("dataset=regression",), "dead", {"chance"}, set()),  # README: loses its units
]


def test_every_shipped_preset_has_a_case():
    assert set(list_presets()) <= {c[0] for c in PRESET_CASES}


@pytest.mark.parametrize("name, steps, sets, first, present, absent", PRESET_CASES,
                         ids=[f"{c[0]}{'+' + ','.join(c[2]) if c[2] else ''}@{c[1]}" for c in PRESET_CASES])
def test_preset_is_diagnosed_as_what_it_demonstrates(name, steps, sets, first, present, absent):
    fs = findings(name, steps, sets)
    got = regimes_of(fs)
    assert got[0] == first, D.format_findings(fs)
    assert present <= set(got) and not absent & set(got), got
    assert got == sorted(got, key=D.ORDER.index)  # most important first
    assert (first == "healthy") == (got == ["healthy"])
    text = D.format_findings(fs)
    assert text.startswith("diagnosis:") and max(len(line) for line in text.splitlines()) <= 80
    for f in fs:
        assert f.title in text.replace("\n    ", " ") or len(f.title) > 70
        assert f.evidence and (f.mechanism or f.regime == "no_data")
        if f.regime != "healthy":
            assert f.remedies, f
            assert all(r.action.startswith(r.key + " ") for r in f.remedies)  # the key comes first
    assert all(f"try {x.remedies[0].key} " in text for x in fs if x.remedies)


def test_deep_sigmoid_mechanism_numbers_come_from_the_registry_and_the_weights():
    f = findings("deep-sigmoid", 1000)[0]
    assert f.layers[0] == "h01" and "h01-h" in f.title
    slope = ACTIVATIONS["sigmoid"].max_slope
    assert f"*{num(slope)} =" in f.mechanism and "19 layers" in f.mechanism
    # the measured ratio quoted is the snapshot's own, and near the ~1e-12 the README promises
    measured = float(f.mechanism.split("per layer, ")[1].split(" ")[0])
    assert 1e-14 < measured < 1e-11
    assert "Clipping (c)" in f.not_helping and "L1/L2" in f.not_helping and "decay" in f.not_helping
    assert [r.key for r in f.remedies][:2] == ["a", "b"]


def test_adam_rescue_vanishing_says_adam_compensates():
    f = findings("adam-rescue", 1)[0]
    assert "adam scales each weight's step" in f.mechanism
    assert "o" not in [r.key for r in f.remedies]  # already adaptive: not offered again


def test_exploding_at_init_and_clipping_keeps_it_alive():
    f = findings("exploding", 1)[0]
    assert "since initialisation" in f.title and f.remedies[0].key == "i"
    clipped = {x.regime: x for x in findings("clipped", 3000)}
    assert "Clipping (global_norm) is on" in clipped["exploding"].mechanism
    assert "c" not in [r.key for r in clipped["exploding"].remedies]  # clipping is on already


# ------------------------------------------------------------------------------ remedies work
def commands_for(remedy, at: int):
    if remedy.key == KEYS["init"]:
        cmds = [(at, Reinit(dict(remedy.sets)["init"]))]
    else:
        cmds = [(at, SetFields.of(**dict(remedy.sets)))]
    return cmds + ([(at, Reset())] if remedy.reset else [])


@pytest.mark.parametrize("name, steps, sets, regime, more", [
    ("deep-sigmoid", 1000, (), "vanishing", 1000),
    ("deep-tanh", 1000, (), "vanishing", 1000),
    ("exploding", 100, (), "diverged", 2000),
    ("exploding-tanh", 3000, (), "saturated", 1000),
    ("relu-he", 300, ("dataset=regression",), "dead", 1000),
])
def test_the_top_remedy_cures_the_finding(name, steps, sets, regime, more):
    """Press what the first remedy says (the same commands the keys send): the finding is gone."""
    f = next(x for x in findings(name, steps, sets) if x.regime == regime)
    at = run(name, steps, sets).total_steps
    tr = run(name, at + more, sets, commands_for(f.remedies[0], at))
    after = regimes_of(D.diagnose(tr.snapshot()))
    assert regime not in after and "chance" not in after, (f.remedies[0], after)


@pytest.mark.parametrize("change", [{"clip": "global_norm"}, {"l2": 1e-3}, {"schedule": "exponential"}])
def test_what_the_vanishing_finding_says_does_not_help_does_not(change):
    """Clipping, L2 and learning-rate decay, named under not_helping, leave deep-sigmoid vanishing."""
    f = findings("deep-sigmoid", 1000)[0]
    assert f.regime == "vanishing"
    tr = run("deep-sigmoid", 2000, (), [(1000, SetFields.of(**change))])
    assert regimes_of(D.diagnose(tr.snapshot()))[:2] == ["vanishing", "chance"]


def test_every_remedy_key_is_bound_in_the_dashboard_to_its_action():
    from gradtui.ui.app import GradApp

    bound = {(b.key_display or b.key): b.action for b in GradApp.BINDINGS}
    expected = {"activation": "activation(1)", "init": "init", "clip": "clip", "optimizer": "optimizer",
                "lr_up": "lr(2.0)", "lr_down": "lr(0.5)", "residual": "residual", "batchnorm": "batchnorm",
                "reset": "reset"}
    for what, key in KEYS.items():
        assert bound.get(key) == expected[what], (what, key)


# ------------------------------------------------------------------------------ constructed snapshots
TINY = Config(name="tiny", dataset="gaussian", depth=3, width=8, n_samples=200, batch_size=16,
              activation="tanh", init="xavier_normal", lr=0.1)  # healthy after 300 steps


@lru_cache(maxsize=None)
def base(cfg: Config = TINY, steps: int = 300) -> Snapshot:
    tr = Trainer(cfg)
    with np.errstate(all="ignore"):
        tr.run_steps(steps)
    return tr.snapshot()


def edit(snap: Snapshot, cfg=None, step=None, rows=slice(-1, None), glob=None, **stats) -> Snapshot:
    """A copy of ``snap`` with statistics set in ``rows``: per layer ``grad_norm={0: 1e-9}``,
    every layer ``grad_norm=1e-9``, global ``glob={"loss": 1.1, "clipped": 1}``."""
    layers, g = np.array(snap.layers), np.array(snap.glob)
    for key, v in (glob or {}).items():
        g[rows, GLOBAL_COL[key]] = v
    for key, v in stats.items():
        if isinstance(v, dict):
            for i, x in v.items():
                layers[rows, i, LAYER_COL[key]] = x
        else:
            layers[rows, :, LAYER_COL[key]] = v
    return Snapshot.build(cfg or snap.config, snap.layer_names, snap.step if step is None else step,
                          snap.status, np.array(snap.steps), g, layers, task=snap.task)


def only(fs, regime):
    return next(f for f in fs if f.regime == regime)


def test_the_base_snapshot_is_healthy():
    fs = D.diagnose(base())
    assert regimes_of(fs) == ["healthy"], D.format_findings(fs)


def test_no_steps_yet():
    s = base()
    empty = Snapshot.build(s.config, s.layer_names, 0, "running", s.steps[:0], s.glob[:0], s.layers[:0])
    assert regimes_of(D.diagnose(empty)) == ["no_data"]
    assert "diagnosis:" in D.format_findings(D.diagnose(empty))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_gradient_is_diverged_and_judges_the_last_finite_row(bad):
    s = base()
    fs = D.diagnose(edit(s, grad_norm=bad, glob={"loss": bad}))
    assert regimes_of(fs)[0] == "diverged"
    assert f"last finite step {int(s.steps[-2])}" in fs[0].evidence
    # the last finite row is the healthy base: nothing else is claimed
    assert regimes_of(fs) == ["diverged"]
    assert fs[0].remedies and "press r" in fs[0].not_helping


def test_all_statistics_nan_everywhere_does_not_raise():
    s = base()
    nan = Snapshot.build(s.config, s.layer_names, s.step, "diverged", np.array(s.steps),
                         np.full_like(s.glob, np.nan), np.full_like(s.layers, np.nan))
    fs = D.diagnose(nan)
    assert regimes_of(fs) == ["diverged"] and "last finite" not in fs[0].evidence
    D.format_findings(fs)


def test_diverged_after_exploding_names_both():
    s = base()
    grew = edit(edit(s, grad_norm=1e3, rows=slice(-3, -1)), grad_norm=np.nan, glob={"loss": np.nan})
    got = regimes_of(D.diagnose(grew))
    assert got[0] == "diverged" and got[1].startswith("exploding")


def test_exploding_growing_versus_at_init():
    s = base()
    growing = edit(edit(s, grad_norm={1: 0.5}, rows=slice(0, 1)), grad_norm={1: 80.0})
    f = D.diagnose(growing)[0]
    assert f.regime == "exploding_growing" and f.layers == ("h02",) and "grew from 0.5 to 80" in f.evidence
    big = D.diagnose(edit(edit(s, grad_norm={1: 400.0}, rows=slice(0, 1)), grad_norm={1: 500.0}))[0]
    assert big.regime == "exploding" and "growing" not in big.title


def test_vanishing_with_a_prediction_cites_it_beside_the_measurement():
    @dataclass(frozen=True)
    class Layer:
        name: str
        pred_delta_log10: float
        pred_grad_log10: float

    @dataclass(frozen=True)
    class Prediction:
        chi1: float
        phase: str
        modelled: bool
        layers: tuple

    s = edit(base(), grad_norm={0: 1e-9}, delta_norm={0: 1e-9})
    layers = (Layer("h01", -8.0, -7.5), Layer("h02", -4.0, -3.9), Layer("h03", 0.0, 0.0))
    f = only(D.diagnose(s, Prediction(0.06, "ordered", True, layers)), "vanishing")
    assert "theory 1.0e-08" in f.evidence and "theory 3.2e-08" in f.evidence
    assert "ordered phase, chi1 = 0.06" in f.evidence and "(theory)" in f.mechanism
    plain = only(D.diagnose(s, Prediction(0.06, "ordered", False, layers)), "vanishing")
    assert "theory" not in plain.evidence + plain.mechanism  # not modelled: not quoted
    assert plain == only(D.diagnose(s), "vanishing")


def test_mechanism_follows_the_activation_registry():
    s = edit(base(), grad_norm={0: 1e-9}, delta_norm={0: 1e-9})
    for act in ("sigmoid", "tanh", "selu"):
        f = only(D.diagnose(edit(s, cfg=TINY.replace(activation=act))), "vanishing")
        assert f"*{num(ACTIVATIONS[act].max_slope)} = " in f.mechanism and act in f.mechanism


def test_one_hidden_layer_net():
    s = base(TINY.replace(depth=1))
    assert s.layer_names == ("h01", "out")
    f = only(D.diagnose(edit(s, grad_norm={0: 1e-9})), "vanishing")
    assert f.layers == ("h01",) and "per layer" not in f.mechanism  # no layer-to-layer factor to quote
    D.format_findings(D.diagnose(edit(s, grad_norm=np.nan)))


def test_saturated_and_dead():
    s = base()
    sat = only(D.diagnose(edit(s, saturated={1: 0.8})), "saturated")
    assert sat.layers == ("h02",) and "80%" in sat.evidence and sat.remedies[0].key == "b"
    relu = edit(base(TINY.replace(activation="relu", init="he_normal", lr=0.05)), dead={2: 0.9})
    dead = only(D.diagnose(relu), "dead")
    assert dead.layers == ("h03",) and dead.remedies[0].sets == (("activation", "leaky_relu"),)
    assert dead.remedies[0].reset


def test_chance_classification_needs_enough_steps():
    s = base()
    stuck = edit(s, rows=slice(None), glob={"loss": math.log(3), "test_loss": math.log(3)})
    f = only(D.diagnose(stuck), "chance")
    assert "ln 3 = 1.099" in f.evidence and "(chance 33%)" in f.evidence
    early = edit(stuck, step=E.MIN_STEPS_CHANCE - 1)
    assert "chance" not in regimes_of(D.diagnose(early))  # a fresh net starts at chance
    off = edit(s, rows=slice(None), glob={"loss": math.log(3) * (1 + 2 * E.CHANCE_LOSS_TOL),
                                          "test_loss": math.log(3) * (1 + 2 * E.CHANCE_LOSS_TOL)})
    assert "chance" not in regimes_of(D.diagnose(off))
    # an L2 penalty lifts the training objective above ln K: the held-out data loss decides
    penalised = edit(stuck, cfg=TINY.replace(l2=0.1), rows=slice(None), glob={"loss": 2 * math.log(3)})
    assert "chance" in regimes_of(D.diagnose(penalised))
    # fits its training batches but not the test set: overfitting, not chance
    overfit = edit(stuck, rows=slice(None), glob={"loss": 0.01})
    assert "chance" not in regimes_of(D.diagnose(overfit))
    # ... and before the first evaluation nothing says what the data loss is: no claim
    no_eval = edit(penalised, rows=slice(None), glob={"test_loss": np.nan})
    assert "chance" not in regimes_of(D.diagnose(no_eval))


def test_chance_two_classes_and_regression():
    two = edit(base(TINY.replace(dataset="moons")), rows=slice(None),
               glob={"loss": math.log(2), "test_loss": math.log(2)})
    assert "ln 2" in only(D.diagnose(two), "chance").evidence
    reg = base(TINY.replace(dataset="regression"))
    stuck = edit(reg, rows=slice(None), glob={"loss": E.REGRESSION_CHANCE_LOSS, "test_loss": 1.0})
    f = only(D.diagnose(stuck), "chance")
    assert "mean squared error" in f.evidence and "accuracy" not in f.evidence
    assert "chance" not in regimes_of(D.diagnose(edit(stuck, rows=slice(None), glob={"loss": math.log(3)})))


def test_update_ratio_far_from_1e3_in_either_direction():
    s = base()
    high = only(D.diagnose(edit(s, rows=slice(None), update_ratio=0.5)), "update_ratio_high")
    assert high.remedies[0].key == "-" and "x5" in high.remedies[0].action  # 500x: capped presses
    low_snap = edit(s, rows=slice(None), update_ratio=1e-7, glob={"loss": 0.7})
    low = only(D.diagnose(low_snap), "update_ratio_low")
    assert low.remedies[0].key == "+"
    # converged (loss far below chance): small steps are expected, not a finding
    converged = edit(s, rows=slice(None), update_ratio=1e-7, glob={"loss": 1e-4})
    assert regimes_of(D.diagnose(converged)) == ["healthy"]
    # with L2 the objective carries the penalty: the held-out loss says whether it has learnt
    l2 = edit(s, cfg=TINY.replace(l2=0.1), rows=slice(None), update_ratio=1e-7, glob={"loss": 0.7})
    assert regimes_of(D.diagnose(edit(l2, rows=slice(None), glob={"test_loss": 1e-3}))) == ["healthy"]
    assert "update_ratio_low" in regimes_of(D.diagnose(edit(l2, rows=slice(None), glob={"test_loss": 0.7})))
    near = edit(s, rows=slice(None), update_ratio=E.HEALTHY_UPDATE_RATIO * E.UPDATE_RATIO_FAR / 2)
    assert regimes_of(D.diagnose(near)) == ["healthy"]


def test_clipping_on_nearly_every_step():
    s = edit(base(), cfg=TINY.replace(clip="global_norm"), rows=slice(None), glob={"clipped": 1.0})
    f = only(D.diagnose(s), "clipping_always")
    assert "100%" in f.title and "global_norm" in f.evidence
    rare = edit(s, rows=slice(None, None, 2), glob={"clipped": 0.0})
    assert "clipping_always" not in regimes_of(D.diagnose(rare))
    off = edit(s, cfg=TINY)  # clip = none: the column cannot mean clipping
    assert "clipping_always" not in regimes_of(D.diagnose(off))


# ------------------------------------------------------------------------------ headless
def test_headless_summary_has_the_diagnosis(capsys):
    from gradtui.cli import main

    rc = main(["--preset", "deep-sigmoid", "--headless", "--steps", "300"])
    out = capsys.readouterr().out
    assert rc == 0
    section = out[out.index("\ndiagnosis:\n") + 1:]
    assert "* Vanishing gradients in h01-" in section and "try a (activation sigmoid -> " in section
    assert "Stuck at chance after 300 steps" in section
    assert max(len(line) for line in section.splitlines()) <= 80
    rc = main(["--preset", "exploding", "--headless", "--steps", "100"])
    out = capsys.readouterr().out
    assert rc == 0 and "\ndiagnosis:\n  * Diverged: the loss or a gradient is NaN/inf\n" in out
