"""The generated reference pages are what their generators write from the code now."""

from __future__ import annotations

from tools.docs import architecture, settings


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
