"""Lessons in the dashboard: ``L`` opens the picker; the chosen lesson's preset loads and a panel at
the bottom of the screen says what to look at, which key to press next, and, once the run has done
the step's steps, what changed with the live numbers (:class:`gradtui.ui.lesson_run.LessonRun`).
``L`` again: another lesson, or close the panel."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from gradtui.commands import SetFields
from gradtui.lessons import show_value
from gradtui.ui.keys import key
from gradtui.ui.lesson_run import DONE, RUNNING, WAITING, LessonRun
from gradtui.ui.screens.pickers import Picker

CLOSE, APPLY = "-close-", "-apply-"


def lesson_list() -> dict[str, str]:
    """``{stem: "N  title"}`` of the shipped lessons ({} when none can be read)."""
    from gradtui.lessons import LessonError, lesson_files, load_lesson

    out = {}
    for stem, p in lesson_files().items():
        try:
            out[stem] = f"{int(stem[:2]):>2}  {load_lesson(p).title}"
        except (LessonError, OSError):
            continue
    return out


class LessonPicker(Picker):
    DEFAULT_CSS = """
    LessonPicker { align: center middle; }
    LessonPicker > OptionList { width: 80%; max-width: 90; height: auto; max-height: 90%; border: round $accent; }
    """
    BINDINGS = [Binding("escape,q,L", "dismiss_none", "close")]

    def __init__(self, lessons: dict[str, str], active: bool, apply: dict | None = None) -> None:
        super().__init__()
        self.lessons, self.active, self.apply = lessons, active, apply or {}

    def compose(self) -> ComposeResult:
        opts = [Option(title, id=stem) for stem, title in self.lessons.items()]
        if self.apply:  # first: the one a learner in the middle of a step came for
            what = ", ".join(f"{k} = {show_value(v)}" for k, v in self.apply.items())
            opts.insert(0, Option(f"[b]apply this step's settings: {what}[/b]", id=APPLY))
        if self.active:
            opts.append(Option("[dim]close the lesson panel[/dim]", id=CLOSE))
        ol = OptionList(*opts)
        ol.border_title = "lessons (enter starts one: its preset loads; esc closes)"
        yield ol



def lesson_text(run: LessonRun, snap) -> Text:
    les = run.lesson
    n = len(les.steps)
    t = Text()
    where = "start" if run.index == 0 else f"step {run.index}/{n}"
    t.append(f"Lesson {les.number}: {les.title}", "bold")
    t.append(f"  ({where}, {key('lessons')}: lessons)\n", "dim")
    if run.state == RUNNING:
        what = "the lesson's preset" if run.index == 0 else "the change"
        t.append(f"Running {run.run_len} steps with {what}… {min(run.progress, run.run_len)}/{run.run_len}"
                 f"{run.paused_note(snap)}", "italic cyan")
    elif run.state == WAITING:
        t.append("Now: ", "bold magenta")
        t.append(run.todo[0].upper() + run.todo[1:], "bold")
    elif run.state == DONE:
        t.append(f"Lesson done. {key('lessons')} picks another; {key('diagnosis')} says what the numbers mean now.",
                 "bold green")
    if run.text:  # below what to do next, which must not be cut off on a small terminal
        t.append("\n" + run.text)
    return t


class LessonPanel(Static):
    DEFAULT_CSS = """
    LessonPanel { dock: bottom; height: auto; max-height: 40%; border-top: solid $accent;
                  background: $surface; padding: 0 1; margin-bottom: 1; }
    """

    def __init__(self, run: LessonRun) -> None:
        super().__init__()
        self.run = run
        self._closing = False

    def refresh_text(self) -> None:
        self.update(lesson_text(self.run, self.app.snap))


def current(app) -> LessonPanel | None:
    try:
        # (mounted on the main screen itself: its children, not the whole tree, every snapshot)
        panels = [p for p in app.screen_stack[0].query_children(LessonPanel) if p.is_attached and not p._closing]
    except (NoMatches, IndexError):
        return None
    return panels[-1] if panels else None


def open_lessons(app) -> None:
    lessons = lesson_list()
    if not lessons:
        app.notify("no lessons found (presets/lessons)", severity="warning")
        return
    panel = current(app)
    apply = panel.run.keyless(app.intent) if panel is not None else {}
    app.push_screen(LessonPicker(lessons, panel is not None, apply), lambda stem: start_lesson(app, stem))


def start_lesson(app, stem: str | None) -> None:
    if not stem:
        return
    panel = current(app)
    if stem == APPLY:
        if panel is not None and panel.run.keyless(app.intent):
            app.submit(SetFields.of(**panel.run.keyless(app.intent)))
        return
    if panel is not None:
        panel._closing = True
        panel.remove()
    if stem == CLOSE:
        return
    from gradtui.lessons import LessonError, load_lesson, resolve

    from gradtui.memory import MemoryLimitError, check_memory

    try:
        run = LessonRun(load_lesson(resolve(stem)))
        check_memory(run.lesson.config, fresh_process=False)  # refused here, as the preset picker does
    except (LessonError, MemoryLimitError, OSError) as exc:
        app.notify(str(exc), title="lesson", severity="error")
        return
    panel = LessonPanel(run)
    app.screen_stack[0].mount(panel)
    for cmd in run.begin():  # (not through app.submit: the lesson does not wait for its own commands)
        app.source.submit(cmd)
    run.started(app.source.submitted)
    panel.refresh_text()


def on_command(app, cmd) -> None:
    """Every command the keys send (the lesson notices the presses it asked for)."""
    panel = current(app)
    if panel is not None:
        panel.run.observe(cmd)
        on_snapshot(app)


def on_snapshot(app) -> None:
    panel = current(app)
    if panel is not None and panel.run.update(app.source):
        panel.refresh_text()
