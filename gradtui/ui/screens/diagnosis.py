"""The ``D`` screen: every finding of the newest snapshot in full: evidence, mechanism, the
remedies with their keys, and what does not help (``snap.findings``, :mod:`gradtui.diagnose`)."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gradtui.keymap import KEYMAP
from gradtui.stats import Snapshot
from gradtui.ui.widgets.depth_profile import theory_text
from gradtui.ui.widgets.diagnosis import FINDING_COLOR


def findings_text(snap: Snapshot | None) -> Group:
    """All findings, most important first, as rich text (wrapped by the screen)."""
    if snap is None or not snap.findings:
        return Group(Text("No diagnosis yet: it comes with the first steps.", style="dim"))
    parts = [Text.assemble(("step ", "dim"), (f"{snap.step:,}", "bold"), ("  theory: ", "dim"),
                           theory_text(snap) or "–")]
    for i, f in enumerate(snap.findings, 1):
        color = FINDING_COLOR.get(f.regime, "magenta")
        parts.append(Text(f"\n{i}. {f.title}", style=f"bold {color}"))
        if f.evidence:
            parts.append(Text.assemble(("evidence: ", "bold"), f.evidence))
        if f.mechanism:
            parts.append(Text.assemble(("why: ", "bold"), f.mechanism))
        for j, r in enumerate(f.remedies):
            parts.append(Text.assemble(("try " if j == 0 else "or  ", "bold"), (r.action, "bold magenta"),
                                       f": {r.why}"))
        if f.not_helping:
            parts.append(Text.assemble(("does not help: ", "bold"), f.not_helping))
    return Group(*parts)


class DiagnosisScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    DiagnosisScreen { align: center middle; }
    DiagnosisScreen > VerticalScroll { width: 96%; max-width: 110; height: 92%; border: round $accent;
                                       background: $surface; padding: 0 1; }
    """
    # the remedies' keys work here too: read a remedy, press its key, watch the diagnosis change
    BINDINGS = [Binding("escape,q,D", "dismiss", "close"),
                *[Binding(k.key, f"app.{k.action}", k.label, show=False) for k in KEYMAP
                  if k.field or k.action in ("reset", "pause")]]

    def compose(self) -> ComposeResult:
        self._shown = self.app.snap
        with VerticalScroll() as vs:
            vs.border_title = "diagnosis: why, and what to press  (the keys work here; esc closes)"
            yield Static(findings_text(self._shown), id="findings")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.follow)

    def follow(self) -> None:
        """Redraw when the diagnosis changed (it is refreshed on the decision boundary's beat)."""
        snap = self.app.snap
        old = self._shown
        if snap is None or (old is not None and snap.findings is old.findings and snap.prediction is old.prediction):
            return
        self._shown = snap
        self.query_one("#findings", Static).update(findings_text(snap))
