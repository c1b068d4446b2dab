"""The generated reference pages are what their generators write from the code now."""

from __future__ import annotations

import re

from tools.docs import architecture, performance, settings

from tests.support.corpus import REPO


def test_the_settings_page_lists_every_setting_as_the_model_and_template_say() -> None:
    assert settings.OUTPUT.read_text(encoding="utf-8") == settings.render(), (
        "docs/reference/settings.md is stale: run make docs"
    )
    page = settings.render()
    for name in settings.Settings.model_fields:
        assert f"`{name.upper()}`" in page
    assert "`PYDANTIC_DISABLE_PLUGINS` | `__all__`" in page


def test_the_modules_page_names_every_module_with_its_docstring() -> None:
    assert architecture.OUTPUT.read_text(encoding="utf-8") == architecture.render(), (
        "docs/reference/architecture.md is stale: run make docs"
    )
    page = architecture.render()
    for path in architecture.PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            dotted = ".".join(path.relative_to(architecture.PACKAGE.parent).with_suffix("").parts)
            assert f"- `{dotted}`: " in page
            assert architecture.docstring(path), f"{dotted} has no docstring"


def test_the_benchmarks_tables_replace_theirs_on_the_performance_page() -> None:
    page = (
        "intro\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\n"
        "middle\n<!-- bench:b -->\nold b\n<!-- /bench:b -->\n"
    )
    printed = "noise\n<!-- bench:b -->\n| new b |\n<!-- /bench:b -->\nmore noise\n"
    text, replaced, unplaced = performance.updated(page, performance.blocks(printed))
    assert text == page.replace("old b", "| new b |")
    assert (replaced, unplaced) == (["b"], [])
    _, _, unplaced = performance.updated(page, {"c": "<!-- bench:c -->\n<!-- /bench:c -->"})
    assert unplaced == ["c"]


def test_every_table_on_the_performance_page_is_one_a_benchmark_prints() -> None:
    printed = set()
    for path in (REPO / "bench").glob("*.py"):
        printed.update(re.findall(r'block\(\s*"([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    throughput = (REPO / "bench" / "throughput.py").read_text(encoding="utf-8")
    printed.update(re.findall(r'"(throughput-[a-z-]+)"', throughput))
    assert set(performance.blocks(performance.PAGE.read_text(encoding="utf-8"))) <= printed
