"""Two-line status bar: run state on top, the configuration the trainer is running below."""

from __future__ import annotations

import math

from rich.text import Text

from gradtui.numfmt import num, pct
from gradtui.setters import pace_text
from gradtui.stats import Snapshot
from gradtui.ui.keys import key
from gradtui.ui.widgets.lines import TextLines

STATE_STYLE = {
    "compiling": "bold black on yellow",
    "running": "bold black on green",
    "paused": "bold black on cyan",
    "diverged": "bold white on red",
    "error": "bold white on red",
}

# What recovers a diverged run: a switch alone leaves the blown-up weights (the next step diverges
# again); r restarts from fresh weights with the switches made so far (- then r works too).
DIVERGED_HINT = f"{key('clip')} (clip), then {key('reset')} (restart) · {key('undo')} (undo)"
PAUSED_HINT = f"{key('pause')} resume · {key('step')} step"
# each setting is labelled with the key that cycles it (the learning rate has two: lr)
SETTINGS = (("activation", key("activation")), ("init", key("init")), ("optimizer", key("optimizer")),
            ("clip", key("clip")), ("lr", "lr"), ("dataset", key("dataset")))


def status_text(snap: Snapshot | None, hide_wallclock: bool = False, error: str = "") -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    if error:
        t.append(" ERROR ", STATE_STYLE["error"])
        t.append(f" trainer crashed: {error}", "bold red")
        t.append(f"\n {key('quit')} quit · the traceback is printed when gradtui exits", "red")
        return t
    if snap is None:
        t.append(" STARTING ", STATE_STYLE["compiling"])
        return t.append("\n")
    st = snap.status
    t.append(f" {st.upper()} ", STATE_STYLE.get(st, "reverse"))
    if st == "compiling":
        t.append(" compiling kernels… (first start ~20 s, cached afterwards)", "yellow")
    else:
        t.append(f" step {snap.step:,}", "bold")
        if not hide_wallclock and st == "running":
            t.append(f"  {snap.steps_per_sec:,.0f} steps/s", "dim")
        if snap.pace is not None:  # a speed limit ([ / ]); unthrottled says nothing
            t.append(f"  pace ≤{pace_text(snap.pace)}", "yellow")
        if len(snap.steps) == 0:  # a fresh start: nothing measured yet (not a NaN loss)
            t.append("  loss –", "dim")
        else:
            loss = snap.latest("loss")
            t.append(f"  loss {num(loss, 3)}", "" if math.isfinite(loss) else "red")
        if snap.task == "classify":
            t.append(f"  test acc {pct(snap.last_finite('test_acc'), 0)}")
        if st == "diverged":
            t.append(f"  {DIVERGED_HINT}", "bold red")
        elif st == "paused":
            t.append(f"  {PAUSED_HINT}", "cyan")
        if snap.message and st not in ("diverged",):
            t.append(f"  {snap.message}", "dim italic")
    c = snap.config
    t.append("\n")
    t.append(f" {c.name} ", "reverse")
    lr = num(c.lr) + ("" if c.schedule == "constant" else f" {c.schedule}")
    for field, k in SETTINGS:
        t.append(f" {k}:", "dim")
        t.append(lr if field == "lr" else f"{getattr(c, field)}", "bold")
    if c.residual:
        t.append(" +res", "bold magenta")
    if c.batchnorm:
        t.append(" +bn", "bold magenta")
    return t


class StatusBar(TextLines):
    """Fixed two lines, so a new snapshot only repaints it (``Static.update`` would ask for a
    layout pass of the whole screen on every snapshot: most of the UI's cost)."""

    DEFAULT_CSS = "StatusBar { height: 2; width: 1fr; background: $boost; }"

    def __init__(self, hide_wallclock: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.hide_wallclock = hide_wallclock
        self.error = ""

    def show(self, snap: Snapshot | None) -> None:
        self.set_text(status_text(snap, self.hide_wallclock, self.error))
