"""The README's export schema (written by hand) against the statistics tables and the exporter:
every exported key is documented, in the exporter's order, nothing else is, and each statistic's
description is its ``Stat.help`` (a format note may follow it)."""

import re
from pathlib import Path

import numpy as np

from gradtui.export import record
from gradtui.stats import GLOBAL_STATS, LAYER_STATS

README = Path(__file__).resolve().parents[2] / "README.md"


def _table_after(text: str, marker: str) -> list[tuple[str, str]]:
    """(key, meaning) rows of the first Markdown table after ``marker``; ``\\|`` is a literal |."""
    lines = text[text.index(marker):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| key |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 2, f"a row that is not two cells (an unescaped |?): {line}"
        assert re.fullmatch(r"`\w+`", cells[0]), line
        rows.append((cells[0].strip("`"), cells[1]))
    return rows


def _check(rows, keys, stats):
    assert [k for k, _ in rows] == keys
    meaning = dict(rows)
    for s in stats:
        assert meaning[s.name].startswith(s.help), (s.name, meaning[s.name], s.help)


def test_readme_export_tables_match_the_statistics_and_the_exporter():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Export schema"):]
    rec = record(0, np.zeros(len(GLOBAL_STATS)), np.zeros((1, len(LAYER_STATS))), ["h01"])
    _check(_table_after(section, "Per step:"), list(rec), GLOBAL_STATS)
    _check(_table_after(section, "Per layer"), list(rec["layers"][0]), LAYER_STATS)
