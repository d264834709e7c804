"""The dashboard's A/B actions (a mixin of :class:`gradtui.ui.app.GradApp`): which run the keys act
on (``tab``), fork the focused live run (``f``), swap the two runs' places (``x``), close run B
(``F``), and keeping the panel titles, the difference view (:mod:`gradtui.ui.compare`) and the A/B
loss plot (:mod:`gradtui.ui.widgets.ab_loss`) up to date.

Runs are named by place: the first (left, or top on a narrow terminal) is A, the second B; the
difference view shows log10(B/A).
"""

from __future__ import annotations

from textual.css.query import NoMatches

from gradtui.ui.compare import SIDES, TITLE, ForkReady, RunDiff, panel_title
from gradtui.ui.keys import key
from gradtui.ui.widgets.ab_loss import ABLossPlot
from gradtui.ui.widgets.loss_plot import LossPlot
from gradtui.ui.widgets.run_panel import RunPanel


class ABActions:
    """Needs ``sources``, ``by_id``, ``_panels`` and ``focus_i`` (the GradApp's)."""

    @property
    def two(self) -> bool:
        return len(self.sources) > 1

    # ------------------------------------------------------------------ keys
    def action_focus_run(self) -> None:
        if len(self.screen_stack) > 1:  # a picker or the help on top: tab moves its focus as usual
            self.screen.focus_next()
            return
        if not self.two:
            self.notify(f"one run: {key('fork')} forks it into a second", timeout=2)
            return
        self.focus_i = (self.focus_i + 1) % len(self.sources)
        self.ab_refresh()

    def action_fork(self) -> None:
        if self.two:
            self.notify(f"two runs already: {key('close_fork')} closes run B", severity="warning", timeout=3)
            return
        src = self.source
        ask = getattr(src, "call_in_thread", None)
        if ask is None:
            self.notify("a fixed picture cannot be forked", severity="warning", timeout=3)
            return
        from gradtui.memory import MemoryLimitError, check_memory

        try:
            check_memory(self.intent, fresh_process=False)  # a second copy of this network
        except MemoryLimitError as exc:
            self.notify(str(exc), title="fork", severity="error")
            return
        post, run_id = self.post_message, src.run_id

        def fork(tr) -> None:  # in the run's trainer thread, between two chunks
            try:
                post(ForkReady(run_id, tr.clone(), tr.step_count))
            except Exception as exc:  # MemoryError and the like: the original runs on
                post(ForkReady(run_id, None, error=f"{type(exc).__name__}: {exc}"))

        ask(fork)

    async def on_fork_ready(self, msg: ForkReady) -> None:
        origin = self.by_id.get(msg.run_id)
        if origin is None or self.two or msg.trainer is None:
            if msg.error:
                self.notify(msg.error, title="fork failed", severity="error")
            return
        from gradtui.ui.sources import LiveSource

        n = len(self.by_id)
        run_id = next(f"fork{i}" for i in range(n + 1) if f"fork{i}" not in self.by_id)
        new = LiveSource(trainer=msg.trainer, run_id=run_id, hz=origin.hz)
        panel = RunPanel(run_id, new.hide_wallclock)
        self.sources.append(new)
        self.by_id[run_id], self._panels[run_id] = new, panel
        await self.query_one("#runs").mount(panel)
        if origin.snap is not None:  # the same state: shown until the fork's first snapshot
            panel.show(origin.snap)
        # the fork's long view (and A/B curve) from the origin's start
        panel.query_one(LossPlot).seed(self._panels[origin.run_id].query_one(LossPlot).history)
        self.focus_i = len(self.sources) - 1
        new.start(self)
        self.ab_refresh()
        self.notify(f"forked at step {msg.step:,}: the keys now act on run B "
                    f"({key('focus_run')} switches, {key('close_fork')} closes it)", timeout=3)

    def action_swap(self) -> None:
        if not self.two:
            return
        focused = self.sources[self.focus_i]
        self.sources.reverse()
        self.focus_i = self.sources.index(focused)  # the keys stay with the same run
        first = self._panels[self.sources[0].run_id]
        self.query_one("#runs").move_child(first, before=0)
        self.ab_refresh()

    def action_close_fork(self) -> None:
        if not self.two:
            self.notify("one run: nothing to close", timeout=2)
            return
        src = self.sources.pop(1)
        src.stop()
        del self.by_id[src.run_id]
        panel = self._panels.pop(src.run_id)
        panel.remove()
        self.focus_i = 0
        self.ab_refresh()
        close = getattr(src, "close", None)
        if close is not None and src.done.is_set():
            close()

    # ------------------------------------------------------------------ views
    def ab_refresh(self) -> None:
        """Titles, focus marks and the difference view after the runs or the focus changed."""
        try:
            self.query_one("#runs").set_class(self.two, "-ab")
            self.query_one("#ab").set_class(self.two, "-on")
            diff = self.query_one(RunDiff)
        except NoMatches:  # shutting down
            return
        diff.border_title = TITLE
        for i, s in enumerate(self.sources):
            panel = self._panels.get(s.run_id)
            if panel is not None:
                panel.set_class(self.two and i == self.focus_i, "-focused")
        self.ab_snapshot()

    def ab_snapshot(self) -> None:
        """A snapshot arrived: the panel titles and the difference view follow."""
        if not self.two:
            for p in self._panels.values():
                p.border_title = None
            return
        for i, s in enumerate(self.sources):
            panel = self._panels.get(s.run_id)
            if panel is not None:
                other = self.sources[1 - i].snap if i < 2 else None
                title = panel_title(SIDES[i] if i < len(SIDES) else str(i), s.snap, i == self.focus_i,
                                    key("focus_run"), other)
                if panel.border_title != title:
                    panel.border_title = title
        try:
            self.query_one(RunDiff).show_pair(self.sources[0].snap, self.sources[1].snap)
            self.query_one(ABLossPlot).show_runs(
                [(self._panels[s.run_id].query_one(LossPlot).history, s.snap) for s in self.sources])
        except NoMatches:
            pass

