"""One run's panels: status bar, gradient rows, depth profile, loss plot and decision boundary.
The App composes one per source, so two runs side by side are two of these."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from gradtui.stats import Snapshot
from gradtui.ui import plot_axes as axes
from gradtui.ui import views as R
from gradtui.ui.keys import key
from gradtui.ui.widgets.boundary import BoundaryMap
from gradtui.ui.widgets.boundary import title as boundary_title
from gradtui.ui.widgets.depth_profile import DepthProfile
from gradtui.ui.widgets.diagnosis import DiagnosisLine
from gradtui.ui.widgets.grad_rows import GradRows
from gradtui.ui.widgets.loss_plot import LossPlot
from gradtui.ui.widgets.status_bar import StatusBar

PLOT_MIN = 8  # rows of the bottom panels at the least (the loss plot's title + 7)
GRADS_TITLE = f"|dL/dW| per layer (log 1e{R.LOG_LO:.0f}…1e{R.LOG_HI:.0f})"


class RunPanel(Vertical):
    """Shows the snapshots of run ``run_id`` (``show(snap)``); never touches a trainer."""

    DEFAULT_CSS = "RunPanel { height: 1fr; width: 1fr; }"

    def __init__(self, run_id: str, hide_wallclock: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.run_id = run_id
        self.hide_wallclock = hide_wallclock
        self.snap: Snapshot | None = None
        self._views: list = []  # the widgets every snapshot goes to

    def compose(self) -> ComposeResult:
        yield StatusBar(self.hide_wallclock, classes="status")
        yield DiagnosisLine(classes="diagnosis")
        with Vertical(classes="main"):
            with Horizontal(classes="top"):
                yield GradRows(classes="grads")
                yield DepthProfile(classes="profile")
            with Horizontal(classes="bottom"):
                yield LossPlot(classes="loss")
                yield BoundaryMap(classes="boundary")

    def on_mount(self) -> None:
        self.query_one(GradRows).border_title = GRADS_TITLE
        self.query_one(BoundaryMap).border_title = boundary_title(self.snap.task if self.snap else "classify")
        self._title_loss()
        self._title_profile()
        self.query_one(StatusBar).show(self.snap)

    def show(self, snap: Snapshot) -> None:
        fit = self.snap is None or self.snap.n_layers != snap.n_layers
        retitle = self.snap is None or self.snap.task != snap.task
        self.snap = snap
        if retitle:
            self.query_one(BoundaryMap).border_title = boundary_title(snap.task)
            self._title_loss()
        if fit:
            self._fit()
        if not self._views:  # looked up once
            self._views = [self.query_one(t) for t in (StatusBar, DiagnosisLine, GradRows, DepthProfile, LossPlot,
                                                        BoundaryMap)]
        for w in self._views:
            w.show(snap)
        self._title_profile()  # (chi1 and the phase follow the configuration)

    def on_resize(self) -> None:
        self._fit()
        self._title_profile()

    def _fit(self) -> None:
        """The layer panels get a row per layer (+ title and a histogram axis) when the net is
        shallow, and the plots the rest; a deep net's layers are grouped into what is left once
        the plots have :data:`PLOT_MIN` rows."""
        main = self.query_one(".main")
        h = main.size.height
        n = self.snap.n_layers if self.snap is not None else 0
        if h <= 0 or n == 0:
            return
        top = max(4, min(n + 2, h - PLOT_MIN))
        self.query_one(".top").styles.height = top

    def show_history(self, snap: Snapshot) -> None:
        """An earlier snapshot: only the loss plot's long view takes it."""
        self.query_one(LossPlot).show(snap)

    def fail(self, error: str) -> None:
        bar = self.query_one(StatusBar)
        bar.error = error
        bar.show(self.snap)

    def cycle_profile(self) -> None:
        self.query_one(DepthProfile).cycle()
        self._title_profile()

    def toggle_theory(self) -> bool:
        on = self.query_one(DepthProfile).toggle_theory()
        self._title_profile()
        return on

    def toggle_log(self) -> bool:
        log = self.query_one(LossPlot).toggle_log()
        self._title_loss()
        return log

    def redraw(self) -> None:
        """Draw the loss plot now (a screenshot cannot wait for its timer)."""
        self.query_one(LossPlot).redraw(force=True)

    def _title_profile(self) -> None:
        prof = self.query_one(DepthProfile)
        prof.set_class(R.DEPTH_MODES[prof.mode].kind != "bars", "-wide")  # strips need the room
        title = f"{prof.title}  {key('panel')}"
        if 0 < prof.size.width < len(title) + 2:
            title = f"{prof.short_title}  {key('panel')}"
        if prof.border_title != title:
            prof.border_title = title

    def _title_loss(self) -> None:
        plot = self.query_one(LossPlot)
        c = axes.HEX
        acc = (f" [{c['acc']}]━[/]acc% (right) [{c['chance']}]┄[/]chance"
               if self.snap is None or self.snap.task == "classify" else "")
        plot.border_title = (f"loss ({'log' if plot.log_y else 'linear'}) [{c['train']}]━[/]train "
                             f"[{c['test']}]━[/]test{acc}  {key('log_y')}")
