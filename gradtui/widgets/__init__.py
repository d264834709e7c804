"""Dashboard widgets. Each takes :class:`gradtui.stats.Snapshot` objects via ``show(snap)``,
never a trainer, so several runs can be shown side by side."""

from gradtui.widgets.boundary import BoundaryMap
from gradtui.widgets.depth_profile import DepthProfile
from gradtui.widgets.grad_rows import GradRows
from gradtui.widgets.loss_plot import LossPlot
from gradtui.widgets.status_bar import StatusBar

__all__ = ["BoundaryMap", "DepthProfile", "GradRows", "LossPlot", "StatusBar"]
