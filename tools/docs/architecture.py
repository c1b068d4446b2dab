"""Write docs/reference/architecture.md: every package and module of trailhound, by its docstring.

The docstrings are the one description of what each part does; this page gathers them, package
by package in the order of the data path, so the list cannot fall behind the code.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tools.docs.markdown import DOCS, ROOT, generated_note, write_documents

OUTPUT = DOCS / "reference" / "architecture.md"
PACKAGE = ROOT / "functions" / "trailhound"
# The data path's order: where records come from, matching, alerts, delivery, then the two
# entry points and what only authoring needs. Packages not named here follow, by name.
ORDER = ("pipeline", "engine", "alerts", "delivery", "lambda_function", "cli", "authoring")


def docstring(path: Path) -> str:
    """The module's docstring, or "" if it has none."""
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def first_paragraph(text: str) -> str:
    """The docstring's first paragraph, on one line."""
    return " ".join(text.split("\n\n", 1)[0].split())


def packages() -> list[Path]:
    """The subpackages, in the data path's order."""
    found = sorted(path.parent for path in PACKAGE.glob("*/__init__.py"))
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(found, key=lambda path: (rank.get(path.name, len(ORDER)), path.name))


def module_lines(folder: Path, dotted: str) -> list[str]:
    """One list item per module of `folder`, with its docstring's first paragraph."""
    lines = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        name = f"{dotted}.{path.stem}"
        lines.append(f"- `{name}`: {first_paragraph(docstring(path))}")
    return lines


def render() -> str:
    """The page, from the package's docstrings as they are now."""
    lines = [
        generated_note("architecture.py"),
        "",
        "# Modules",
        "",
        "Every module of the `trailhound` package (`functions/trailhound/`), by package in the "
        "order of the data path, each with the first paragraph of its docstring. "
        "[Architecture](../architecture.md) says how they fit together.",
        "",
        "## `trailhound`",
        "",
        docstring(PACKAGE / "__init__.py"),
        "",
        *module_lines(PACKAGE, "trailhound"),
        "",
    ]
    for folder in packages():
        dotted = f"trailhound.{folder.name}"
        lines += [f"## `{dotted}`", "", docstring(folder / "__init__.py"), ""]
        lines += [*module_lines(folder, dotted), ""]
    return "\n".join(lines)


def main() -> int:
    write_documents({OUTPUT: render()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
