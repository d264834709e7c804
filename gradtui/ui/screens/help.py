"""The ``?`` screen (scrollable): why gradients vanish or explode (the backprop formula), what each
panel shows and what each regime means and what to try (``presets/lessons/help.toml`` through
:func:`gradtui.helptext.load_help`), how to read the colours, and every key (the app's bindings)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gradtui import regimes as G
from gradtui.ui import views as R


def legend() -> Group:
    """How to read the rows and their colours: every regime, in the order the rule checks them
    (the first that holds wins); g = the layer's gradient norm, gmax = the largest layer's."""
    intro = Text(
        "\nRows: log10 |dL/dW| per layer, input side at the top, on one shared scale "
        f"(1e{R.LOG_LO:.0f} .. 1e{R.LOG_HI:+.0f}); '·' = no data / not finite. The depth panel's bars "
        "take the same colours. Each layer's tag (checked in this order, the first that holds "
        "wins; g = its gradient norm, gmax = the largest layer's):")
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", no_wrap=True)
    table.add_column()
    for reg in G.PRECEDENCE:
        table.add_row(Text(R.REGIME_TAG[reg], style=f"bold {R.REGIME_COLOR[reg]}"),
                      Text(G.RULES[reg]))
    return Group(intro, table)


def explanations() -> Group:
    """The help file's text: the formula, the panels, the regimes (a missing or broken file: a line
    saying so, the keys below still shown)."""
    from gradtui.helptext import load_help
    from gradtui.tomlfields import LessonError

    try:
        h = load_help()
    except (LessonError, OSError) as exc:
        return Group(Text(f"(help text unavailable: {exc})", style="dim"))
    parts = [Text(h.title, style="bold"), Text(f"  {h.formula}", style="bold magenta"), Text(h.text), Text()]
    parts.append(Text("Panels", style="bold underline"))
    for p in h.panels:
        parts.append(Text.assemble((p.title, "bold"), ": ", p.text))
    parts += [Text(), Text("Regimes", style="bold underline")]
    for reg, r in h.regimes.items():
        parts.append(Text.assemble((R.REGIME_TAG[reg], f"bold {R.REGIME_COLOR[reg]}"), f": {r.meaning} ",
                                   ("Try: ", "bold"), r.remedies))
    return Group(*parts, Text())


def _key_label(b: Binding) -> str:
    names = {"plus": "+", "minus": "-", "equals_sign": "=", "question_mark": "?", "space": "space"}
    return b.key_display or ", ".join(names.get(k.strip(), k.strip()) for k in b.key.split(","))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96%; max-width: 100; height: 94%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for b in self.app.BINDINGS:
            if isinstance(b, Binding):
                table.add_row(_key_label(b), b.tooltip or b.description)
        with VerticalScroll() as vs:
            vs.border_title = "gradtui help  (↑↓ scroll, esc closes)"
            yield Static(explanations(), id="explain")
            yield Static(Text("Keys", style="bold underline"))
            yield Static(table)
            yield Static(legend())
            yield Static(Text.from_markup(
                "\n[dim]Every key becomes a command for the trainer; what the status bar shows is what "
                "the trainer runs. ctrl+p opens the command palette with every action.[/]"))
