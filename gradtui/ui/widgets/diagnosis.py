"""The diagnosis line under the status bar: the most important finding of the newest snapshot
(``snap.findings``, :mod:`gradtui.diagnose`) in two lines: its title and evidence, then the top
remedy with the key that applies it (``D`` opens every finding in full)."""

from __future__ import annotations

from rich.text import Text

from gradtui.stats import Snapshot
from gradtui.ui import views as R
from gradtui.ui.keys import key
from gradtui.ui.widgets.lines import TextLines

# a finding's colour: the regime colours of the rows where one matches
FINDING_COLOR = {"vanishing": R.REGIME_COLOR["vanishing"], "exploding": R.REGIME_COLOR["exploding"],
                 "exploding_growing": R.REGIME_COLOR["exploding"], "diverged": R.REGIME_COLOR["nan"],
                 "saturated": R.REGIME_COLOR["saturated"], "dead": R.REGIME_COLOR["dead"],
                 "healthy": R.REGIME_COLOR["ok"]}


def short(text: str, n: int = 2) -> str:
    """The first ``n`` clauses of an evidence text (they are separated by '; ')."""
    return "; ".join(text.split("; ")[:n])


def diagnosis_text(snap: Snapshot | None) -> Text:
    """Two lines: ``● <title>: <evidence, short>`` and ``D (N more, why) try <remedy>: <why>``."""
    t = Text(no_wrap=True, overflow="ellipsis")
    findings = () if snap is None else snap.findings
    if not findings:
        t.append(" diagnosis: waiting for the first steps", "dim")
        return t.append("\n")
    top = findings[0]
    color = FINDING_COLOR.get(top.regime, "magenta")
    t.append(" ● ", f"bold {color}")
    t.append(top.title, f"bold {color}")
    if top.evidence:
        t.append(f": {short(top.evidence)}", "dim")
    t.append("\n")
    more = f"{len(findings) - 1} more, " if len(findings) > 1 else ""
    t.append(f" {key('diagnosis')}", "bold magenta")  # first: the line may be cut at the right
    t.append(f" ({more}why) ", "dim")
    if top.remedies:
        r = top.remedies[0]
        t.append("try ", "dim")
        t.append(r.action, "bold")
        t.append(f": {r.why}")
    elif top.mechanism:
        t.append(top.mechanism)
    return t


class DiagnosisLine(TextLines):
    """Fixed two lines that repaint only when the top finding changes (as the status bar)."""

    DEFAULT_CSS = "DiagnosisLine { height: 2; width: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._findings: tuple | None = None  # what the text was made from (compared by identity)
        self._shown = False

    def show(self, snap: Snapshot | None) -> None:
        findings = None if snap is None else snap.findings
        if findings is self._findings and self._shown:
            return  # the same findings (re-diagnosed on the boundary's beat only): nothing to redo
        self._findings, self._shown = findings, True
        self.set_text(diagnosis_text(snap))
