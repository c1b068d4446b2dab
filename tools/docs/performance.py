"""Put the benchmarks' latest tables into docs/performance.md.

Each benchmark prints its tables between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
(`bench/markdown.py`); `make bench` saves what they print and runs this with those files. A block
of the page that no file holds is kept as it was (a benchmark that did not run, such as the
DuckDB comparison without `.venv-bench`), and said; a block that has no place on the page is an
error, since its figures would be lost.

Run: .venv/bin/python -m tools.docs.performance OUTPUT...
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tools.docs.markdown import DOCS, write_documents

PAGE = DOCS / "performance.md"
_BLOCK = re.compile(r"<!-- bench:(?P<name>[a-z0-9-]+) -->\n.*?<!-- /bench:(?P=name) -->", re.DOTALL)


def blocks(text: str) -> dict[str, str]:
    """The marked blocks of a text, by name."""
    return {match.group("name"): match.group(0) for match in _BLOCK.finditer(text)}


def updated(page: str, new: dict[str, str]) -> tuple[str, list[str], list[str]]:
    """The page with each of its blocks that `new` holds replaced; the names replaced, and
    those in `new` that the page has no place for."""
    placed = blocks(page)
    text = _BLOCK.sub(lambda match: new.get(match.group("name"), match.group(0)), page)
    return (
        text,
        [name for name in placed if name in new],
        [name for name in new if name not in placed],
    )


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    new: dict[str, str] = {}
    for name in argv:
        new.update(blocks(Path(name).read_text(encoding="utf-8")))
    page = PAGE.read_text(encoding="utf-8")
    text, replaced, unplaced = updated(page, new)
    if unplaced:
        print(f"{PAGE}: no place for the benchmark tables {', '.join(unplaced)}", file=sys.stderr)
        return 1
    kept = [name for name in blocks(page) if name not in replaced]
    if kept:
        print(f"kept as they were (no new figures): {', '.join(kept)}", file=sys.stderr)
    write_documents({PAGE: text})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
