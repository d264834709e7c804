"""``gradtui learn [--list] [N|NAME] [--headless]``: the guided lessons as text.

Each lesson is played headless (:func:`gradtui.lessons.run_lesson_headless`) and printed with the
numbers it measured filled in, so it reads without a terminal UI. The dashboard's lesson view comes
with the dashboard integration; until then the text version runs with or without ``--headless``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from gradtui.cli import UsageError, _fail, _Parser, quiet_numerics
    from gradtui.lessons import LessonError, lesson_files, load_all, load_lesson, render, resolve, run_lesson_headless
    from gradtui.outputs import OutputError, emit

    ap = _Parser(prog="gradtui learn", description="Guided lessons on vanishing and exploding gradients.")
    ap.add_argument("lesson", nargs="?", metavar="N|NAME", help="lesson number or name (default: all, in order)")
    ap.add_argument("--list", action="store_true", help="list the lessons and exit")
    ap.add_argument("--headless", action="store_true", help="print the lesson as text with the measured numbers")
    try:
        args = ap.parse_args(argv)
        if args.list:
            if args.lesson:
                raise UsageError("--list takes no lesson")
            emit("\n".join(f"{int(stem[:2]):>2}  {stem[3:]:<24}  {load_lesson(p).title}"
                           for stem, p in lesson_files().items()))
            return 0
        lessons = [load_lesson(resolve(args.lesson))] if args.lesson else load_all()
        with quiet_numerics():
            for k, lesson in enumerate(lessons):
                emit(("\n" if k else "") + render(lesson, run_lesson_headless(lesson)).rstrip())
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except (UsageError, LessonError) as e:
        return _fail(str(e))
    except OutputError as e:
        return _fail(str(e), 1)
    return 0


if __name__ == "__main__":  # python -m gradtui.learn
    raise SystemExit(main(sys.argv[1:]))
