"""Benchmark tables as markdown, each between the markers that docs/performance.md holds it in.

`make bench` saves what the benchmarks print and `tools/docs/performance.py` puts each block in
its place on the page, so the published figures are the ones the last run printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def block(name: str, header: Sequence[str], rows: Iterable[Sequence[str]], intro: str = "") -> str:
    """A markdown table, numbers right-aligned, between `<!-- bench:NAME -->` markers."""
    rows = [list(row) for row in rows]
    numeric = [
        all(_is_number(row[column]) for row in rows if row[column]) for column in range(len(header))
    ]
    align = ["---:" if column and numeric[column] else "---" for column in range(len(header))]
    lines = [f"<!-- bench:{name} -->", ""]
    if intro:
        lines += [intro, ""]
    lines += ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", f"<!-- /bench:{name} -->"]
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    stripped = text.strip("$×x% ").replace(",", "").split(" ")[0]
    try:
        float(stripped)
    except ValueError:
        return False
    return True
