"""``gradtui learn [--list] [N|NAME] [--headless]``: the guided lessons.

``gradtui learn N`` in a terminal opens the dashboard on lesson N (its lesson panel asks for the
keys and explains with the live numbers; ``L`` picks another). With ``--headless``, without a
lesson, or without a terminal, each lesson is played headless
(:func:`gradtui.lessons.run_lesson_headless`) and printed with the numbers it measured filled in.
"""

from __future__ import annotations

import sys

from gradtui.config import FIELDS
from gradtui.lessons import (Lesson, LessonError, StepResult, lesson_files, load_all, load_lesson, resolve,
                             run_lesson_headless, show_value)
from gradtui.numfmt import num
from gradtui.presets import load_preset


def main(argv: list[str]) -> int:
    from gradtui.cli import UsageError, _fail, _Parser, _seed, quiet_numerics
    from gradtui.outputs import OutputError, emit, note

    ap = _Parser(prog="gradtui learn", description="Guided lessons on vanishing and exploding gradients.")
    ap.add_argument("lesson", nargs="?", metavar="N|NAME", help="lesson number or name (default: all, in order)")
    ap.add_argument("--list", action="store_true", help="list the lessons and exit")
    ap.add_argument("--headless", action="store_true", help="print the lesson as text with the measured numbers")
    ap.add_argument("--seed", type=_seed, default=None, help="play with another seed (the effects do not depend on it)")
    try:
        args = ap.parse_args(argv)
        if args.list:
            if args.lesson:
                raise UsageError("--list takes no lesson")
            emit("\n".join(f"{int(stem[:2]):>2}  {stem[3:]:<24}  {load_lesson(p).title}"
                           for stem, p in lesson_files().items()))
            return 0
        lessons = [load_lesson(resolve(args.lesson))] if args.lesson else load_all()
        if args.lesson and not args.headless and _in_terminal():
            from gradtui.ui.terminal import run_app

            return run_app(lessons[0].config, lesson=lessons[0].name)  # (--seed: the text version's)
        with quiet_numerics():
            for k, lesson in enumerate(lessons):
                note(f"gradtui: playing lesson {lesson.number} ({lesson.name})")
                emit(("\n" if k else "") + render(lesson, run_lesson_headless(lesson, args.seed)).rstrip())
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except (UsageError, LessonError) as e:
        return _fail(str(e))
    except OutputError as e:
        return _fail(str(e), 1)
    return 0


def _in_terminal() -> bool:
    from gradtui.watchdog import no_terminal

    return not no_terminal()


def render(lesson: Lesson, results: list[StepResult]) -> str:
    """A played lesson as plain text: what to look at, what to do, what happened and whether each
    claimed effect was measured."""
    lines = [f"Lesson {lesson.number}: {lesson.title}  ({lesson.name})",
             f"  preset {lesson.config.name}" + "".join(
                 f", {k} = {show_value(getattr(lesson.config, k))}" for k in _start_overrides(lesson)),
             ""]
    for r in results:
        ran = int(r.after.get("steps", 0))
        head = "Start" if r.index == 0 else f"Step {r.index}: {r.instruction}"
        lines.append(f"{head}; run {r.run} steps" + (f" (diverged after {ran})" if ran < r.run else ""))
        lines.append("  " + r.text)
        for c, b, a, ok in r.checks:
            was = f"{num(b)} -> " if c.relative else ""
            lines.append(f"  [{'ok' if ok else 'NOT SEEN'}] {c.describe()}: {was}{num(a)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _start_overrides(lesson: Lesson) -> list[str]:
    base = load_preset(lesson.config.name)
    return [k for k in FIELDS if getattr(base, k) != getattr(lesson.config, k)]


if __name__ == "__main__":  # python -m gradtui.learn
    raise SystemExit(main(sys.argv[1:]))
