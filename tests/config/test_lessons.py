"""Lessons: every shipped lesson's claimed effect really happens when its steps are played headless;
the loader refuses bad files with one line naming the file and the field; ``gradtui learn``."""

import subprocess
import sys

import pytest

from gradtui.claims import MEASURES, Claim
from gradtui.tomlfields import LessonError
from gradtui.lessons import (instruction, lesson_files, load_all, load_lesson, resolve,
                             run_lesson_headless)

LESSONS = list(lesson_files())


def test_there_are_lessons_numbered_in_order():
    assert 8 <= len(LESSONS) <= 14
    assert [int(s[:2]) for s in LESSONS] == list(range(1, len(LESSONS) + 1))


@pytest.mark.parametrize("seed", [None, 1])  # the lesson's own seed, and another: not one seed's luck
@pytest.mark.parametrize("stem", LESSONS)
def test_every_claimed_effect_happens(stem, seed, quiet):
    lesson = load_lesson(lesson_files()[stem])
    results = run_lesson_headless(lesson, seed)
    assert len(results) == len(lesson.steps) + 1
    assert all(r.checks for r in results[1:]), "every step claims an effect"
    failed = [f"step {r.index}: {c.describe()}: before {b:.3g}, after {a:.3g}"
              for r in results for c, b, a, ok in r.checks if not ok]
    assert not failed, failed
    for r in results:
        assert "{" not in r.text and "nan" not in r.text, r.text
        assert r.index == 0 or r.instruction


def test_lessons_cover_every_remedy_of_the_seed_material():
    seen: dict[str, set] = {}
    for lesson in load_all():
        configs = [lesson.config] + [dict(s.set) for s in lesson.steps]
        for c in configs:
            items = c.items() if isinstance(c, dict) else vars(c).items()
            for k, v in items:
                seen.setdefault(k, set()).add(v)
    assert {"xavier_normal", "he_normal", "lecun_normal"} <= seen["init"]
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"} <= seen["activation"]
    assert True in seen["residual"] and True in seen["batchnorm"]
    assert {"value", "layer_norm"} <= seen["clip"]
    assert {"momentum", "rmsprop", "adam"} <= seen["optimizer"]
    assert seen["schedule"] - {"constant"}
    assert any(v > 0 for v in seen["l1"]) and any(v > 0 for v in seen["l2"])


def test_a_false_claim_is_reported_not_seen(tmp_path, quiet):
    p = tmp_path / "99-false.toml"
    p.write_text('title = "t"\npreset = "relu-he"\nset = { depth = 2 }\nsteps = 5\nintro = "x {loss}"\n'
                 '[[step]]\nkeys = ["+"]\nset = { lr = 0.2 }\nrun = 5\ntext = "{loss_before} -> {loss}"\n'
                 'claim = [{ measure = "loss", at_most = 1e-9 }, { measure = "diverged", at_most = 0 }]\n')
    r = run_lesson_headless(load_lesson(p))[1]
    assert [ok for *_, ok in r.checks] == [False, True] and not r.ok
    assert r.instruction == "press + 2x (lr -> 0.2)"  # relu-he: lr 0.05
    assert "->" in r.text and "{" not in r.text


@pytest.mark.parametrize("op,before,after,holds", [
    ("at_least", 0, 2, True), ("at_least", 0, 1.9, False), ("at_most", 0, 2, True), ("at_most", 0, 2.1, False),
    ("rises_by", 1, 3, True), ("rises_by", 1, 2.9, False), ("falls_by", 3, 1, True), ("falls_by", 3, 1.1, False),
    ("grows_by_factor", 1e-12, 2e-12, True), ("grows_by_factor", 1e-12, 1.9e-12, False),
    ("shrinks_by_factor", 2, 1, True), ("shrinks_by_factor", 2, 1.1, False),
    ("within_factor", 1, 2, True), ("within_factor", 1, 0.5, True), ("within_factor", 1, 2.1, False),
    ("within_factor", 1, 0.4, False), ("at_least", 0, float("nan"), False), ("rises_by", float("nan"), 5, False),
    ("grows_by_factor", 0, 1, False), ("within_factor", 1, 0, False),
])
def test_claim_comparisons(op, before, after, holds):
    assert Claim("loss", op, 2.0).holds(before, after) is holds


def test_resolve_by_number_name_and_stem():
    first = LESSONS[0]
    assert resolve("1") == resolve("01") == resolve(first) == resolve(first[3:]) == lesson_files()[first]
    with pytest.raises(LessonError, match="no such lesson"):
        resolve("99")


def test_instruction_counts_presses_and_names_keyless_changes():
    lesson = load_lesson(resolve("relu-family"))
    assert instruction(lesson.steps[0], lesson.config) == (
        "press a 2x (activation -> relu), then press i 2x (init -> he_normal), "
        "then press r (restart from fresh weights)")
    l2 = load_lesson(resolve("l1-l2"))
    assert "no dashboard key" in instruction(l2.steps[0], l2.config)
    assert "--set l2=0.01" in instruction(l2.steps[0], l2.config)


GOOD_STEP = '[[step]]\nkeys = ["a"]\nset = { activation = "tanh" }\nrun = 10\ntext = "t"\n' \
            'claim = { measure = "loss", at_most = 2 }\n'
GOOD_HEAD = 'title = "t"\npreset = "deep-sigmoid"\nsteps = 10\nintro = "i"\n'


@pytest.mark.parametrize("text,field,message", [
    (GOOD_HEAD.replace('title = "t"\n', ""), "title", "missing"),
    (GOOD_HEAD.replace("deep-sigmoid", "deep-sigmod"), "preset", "did you mean 'deep-sigmoid'"),
    (GOOD_HEAD + "set = { lr = -1 }\n", "set.lr", "must be in"),
    (GOOD_HEAD + 'set = { activaton = "relu" }\n', "set.activaton", "unknown key"),
    (GOOD_HEAD.replace("steps = 10", "steps = 0"), "steps", "must be in"),
    (GOOD_HEAD.replace("steps = 10", 'steps = "10"'), "steps", "expected int"),
    (GOOD_HEAD + 'tilte = "x"\n', "tilte", "did you mean 'title'"),
    (GOOD_HEAD, "step", "missing"),
    (GOOD_HEAD + 'claim = { measure = "loss", falls_by = 1 }\n' + GOOD_STEP, "claim[0].falls_by", "nothing to compare"),
    (GOOD_HEAD.replace('intro = "i"', 'intro = "{los}"'), "intro", "unknown placeholder {los}"),
    (GOOD_HEAD + GOOD_STEP.replace('keys = ["a"]', 'keys = ["x"]'), "step[0].keys", "unknown key 'x'"),
    (GOOD_HEAD + GOOD_STEP.replace('keys = ["a"]', 'keys = ["i"]'), "step[0].keys", "changes init"),
    (GOOD_HEAD + GOOD_STEP.replace('keys = ["a"]', 'keys = ["a", "r"]'), "step[0].reset", "go together"),
    (GOOD_HEAD + GOOD_STEP.replace('"tanh"', '"sigmoid"'), "step[0].keys", "would not change activation"),
    (GOOD_HEAD + GOOD_STEP.replace('keys = ["a"]', 'keys = ["+"]').replace('activation = "tanh"', "lr = 0.3"),
     "step[0].keys", "not a doubling by a power of 2"),
    (GOOD_HEAD + GOOD_STEP.replace('keys = ["a"]', 'keys = ["-"]').replace('activation = "tanh"', "lr = 0.4"),
     "step[0].keys", "not a halving by a power of 2"),
    (GOOD_HEAD + GOOD_STEP.replace('"tanh"', '"tahn"'), "step[0].set.activation", "did you mean 'tanh'"),
    (GOOD_HEAD + GOOD_STEP.replace("run = 10", "run = 10000000"), "step[0].run", "must be in"),
    (GOOD_HEAD + GOOD_STEP.replace('"loss"', '"los"'), "step[0].claim[0].measure", "did you mean 'loss'"),
    (GOOD_HEAD + GOOD_STEP.replace("at_most", "at_mots"), "step[0].claim[0].at_mots", "did you mean 'at_most'"),
    (GOOD_HEAD + GOOD_STEP.replace("at_most = 2", "grows_by_factor = 0.5"), "step[0].claim[0].grows_by_factor",
     "factor must be >= 1"),
    (GOOD_HEAD + GOOD_STEP.replace("at_most = 2", "at_most = nan"), "step[0].claim[0].at_most", "finite"),
    (GOOD_HEAD + GOOD_STEP.replace('text = "t"', 'text = "{loss:.2f}"'), "step[0].text", "unknown placeholder"),
    (GOOD_HEAD + GOOD_STEP.replace("run = 10", "run = 10\nextra = 1"), "step[0].extra", "unknown field"),
    (GOOD_HEAD + GOOD_STEP.replace('set = { activation = "tanh" }', 'set = { batch_size = 5000 }')
     .replace('keys = ["a"]', "keys = []"), "step[0].set", "training points"),
    (GOOD_HEAD + "step = [1]\n", "step[0]", "expected a table"),
])
def test_bad_lesson_file_is_one_line_naming_file_and_field(tmp_path, text, field, message):
    p = tmp_path / "07-bad.toml"
    p.write_text(text)
    with pytest.raises(LessonError) as e:
        load_lesson(p)
    line = str(e.value)
    assert "\n" not in line and str(p) in line and f"'{field}'" in line and message in line, line


def test_unreadable_lesson_files(tmp_path):
    bad = tmp_path / "01-x.toml"
    bad.write_text("title = \n")
    with pytest.raises(LessonError, match="invalid TOML"):
        load_lesson(bad)
    with pytest.raises(LessonError, match="01-missing.toml"):
        load_lesson(tmp_path / "01-missing.toml")


def test_good_lesson_loads(tmp_path):
    p = tmp_path / "05-good.toml"
    p.write_text(GOOD_HEAD + GOOD_STEP)
    lesson = load_lesson(p)
    assert lesson.number == 5 and lesson.config.name == "deep-sigmoid" and lesson.steps[0].set == (("activation", "tanh"),)


def test_every_measure_is_documented():
    assert all(m.help for m in MEASURES.values())


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gradtui", "learn", *args], capture_output=True, text=True,
                          timeout=600)


def test_cli_learn_list_and_one_lesson():
    p = _cli("--list")
    assert p.returncode == 0 and len(p.stdout.splitlines()) == len(LESSONS), p.stderr
    p = _cli("clipping-vs-vanishing", "--headless")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Lesson 8: Gradient clipping does not fix")
    assert "press c (clip -> value)" in p.stdout and "[ok] clipped <= 0: 0" in p.stdout
    assert "NOT SEEN" not in p.stdout and "{" not in p.stdout


@pytest.mark.parametrize("args,message", [(("99",), "no such lesson"), (("--list", "1"), "--list takes no lesson"),
                                          (("--bogus",), "unrecognized arguments")])
def test_cli_learn_bad_input(args, message):
    p = _cli(*args)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("gradtui: error: ") and message in p.stderr


def test_help_text_explains_the_formula_every_panel_and_every_regime():
    from gradtui import regimes
    from gradtui.helptext import load_help

    h = load_help()
    assert h.formula == "δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ φ'(z_l)" and h.formula in h.text
    assert {"grad_rows", "depth_profile", "loss_plot", "boundary", "status"} <= {p.id for p in h.panels}
    assert list(h.regimes) == list(regimes.PRECEDENCE)
    assert all(r.meaning and r.remedies and r.rule == regimes.RULES[r.id] for r in h.regimes.values())
    assert "do not help" in h.regimes["vanishing"].remedies  # clipping, L1/L2, lr decay


@pytest.mark.parametrize("edit,field,message", [
    (lambda s: s.replace('id = "dead"', 'id = "deadd"'), "regime[1].id", "unknown regime 'deadd'"),
    (lambda s: s.replace('id = "dead"', 'id = "nan"'), "regime[1].id", "explained twice"),
    (lambda s: s.replace('formula = ', 'formulas = '), "backprop.formulas", "unknown field"),
    (lambda s: s.replace('[[regime]]\nid = "ok"', '[[regime]]\nid = "ok"\ncolour = "green"'), "regime[5].colour",
     "unknown field"),
])
def test_bad_help_file(tmp_path, edit, field, message):
    from gradtui.helptext import help_path, load_help

    p = tmp_path / "help.toml"
    p.write_text(edit(help_path().read_text()))
    with pytest.raises(LessonError) as e:
        load_help(p)
    assert "\n" not in str(e.value) and f"'{field}'" in str(e.value) and message in str(e.value), str(e.value)


def test_help_file_missing_a_regime(tmp_path):
    from gradtui.helptext import help_path, load_help

    text = help_path().read_text()
    p = tmp_path / "help.toml"
    p.write_text(text[: text.index('[[regime]]\nid = "ok"')])
    with pytest.raises(LessonError, match="no explanation for regime ok"):
        load_help(p)


def test_step_commands_are_what_the_keys_send():
    from gradtui.commands import LoadPreset, Reset, SetFields
    from gradtui.lessons import step_commands

    relu = load_lesson(resolve("relu-family")).steps[0]
    assert step_commands(relu) == [SetFields((("activation", "relu"), ("init", "he_normal"))), Reset()]
    decay = load_lesson(resolve("lr-decay")).steps[1]
    cmds = step_commands(decay)
    assert [type(c) for c in cmds] == [LoadPreset, SetFields] and cmds[0].config.name == "deep-sigmoid"
    assert cmds[1].after(cmds[0].config).schedule == "exponential"
