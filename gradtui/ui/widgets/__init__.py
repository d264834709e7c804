"""Dashboard widgets. Each takes :class:`gradtui.stats.Snapshot` objects via ``show(snap)``,
never a trainer; :class:`RunPanel` holds one run's, so several runs can be shown side by side."""

from gradtui.ui.widgets.boundary import BoundaryMap
from gradtui.ui.widgets.depth_profile import DepthProfile
from gradtui.ui.widgets.grad_rows import GradRows
from gradtui.ui.widgets.loss_plot import LossPlot
from gradtui.ui.widgets.run_panel import RunPanel
from gradtui.ui.widgets.status_bar import StatusBar

__all__ = ["BoundaryMap", "DepthProfile", "GradRows", "LossPlot", "RunPanel", "StatusBar"]
