"""Write docs/reference/settings.md: the Lambda's environment variables, from the settings model.

Each variable is a field of `trailhound.lambda_function.settings.Settings`, named in upper case;
what the template sets it to comes from the function's `Environment` in template.yaml, and a
variable the template sets for a library rather than for trailhound is listed with the comment
the template gives it.
"""

from __future__ import annotations

import re
import sys
import typing
from typing import Any

import yaml
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tools.docs.markdown import DOCS, ROOT, cell, generated_note, table, write_documents
from trailhound.lambda_function.settings import Settings

OUTPUT = DOCS / "reference" / "settings.md"
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "AlertFunction"


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (`!Ref X`) as the text they are written as."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> str:
    value = node.value if isinstance(node, yaml.ScalarNode) else "..."
    return f"!{suffix} {value}"


_TemplateLoader.add_multi_constructor("!", _short_form)


def template_environment() -> dict[str, str]:
    """The function's environment variables as template.yaml writes them."""
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    properties = template["Resources"][FUNCTION]["Properties"]
    variables: dict[str, Any] = properties["Environment"]["Variables"]
    return {name: str(value) for name, value in variables.items()}


def template_comments() -> dict[str, str]:
    """The comment lines just above each variable in the function's `Variables:` block."""
    text = TEMPLATE.read_text(encoding="utf-8")
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in text[text.index("        Variables:") :].splitlines()[1:]:
        stripped = line.strip()
        if not line.startswith("          "):
            break
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# "))
            continue
        name = stripped.split(":", 1)[0]
        comments[name] = " ".join(pending)
        pending = []
    return comments


def values_of(field: FieldInfo) -> str:
    """The values a field takes, as a reader writes them."""
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    if annotation is int:
        minimum = next((meta.ge for meta in field.metadata if hasattr(meta, "ge")), None)
        return "a whole number" + (f", at least {minimum}" if minimum is not None else "")
    if typing.get_origin(annotation) is tuple:
        return "a comma-separated list"
    if "Path" in str(annotation):
        return "a folder"
    return "text"


def default_of(field: FieldInfo) -> str:
    """The default, or that the variable must be set."""
    if field.is_required():
        return "required"
    default = field.get_default(call_default_factory=True)
    if default is None or default == () or default is PydanticUndefined:
        return "none"
    if isinstance(default, tuple):
        return ", ".join(f"`{item}`" for item in default)
    return f"`{default}`"


def render() -> str:
    """The page, from the settings model and the template as they are now."""
    environment = template_environment()
    rows = []
    for name, field in Settings.model_fields.items():
        variable = name.upper()
        rows.append(
            (
                f"`{variable}`",
                default_of(field),
                values_of(field),
                cell(field.description or ""),
                cell(f"`{environment[variable]}`") if variable in environment else "-",
            )
        )
    comments = template_comments()
    others = [
        (f"`{name}`", cell(f"`{value}`"), cell(re.sub(r"\s*\(https?://\S+\)", "", comments[name])))
        for name, value in environment.items()
        if name.lower() not in Settings.model_fields
    ]
    lines = [
        generated_note("settings.py"),
        "",
        "# Lambda settings",
        "",
        "The function reads these environment variables when it is invoked, and checks them: a "
        "missing or wrong one fails the invocation with its name, so Lambda's retries keep the "
        "batch. The last column is what `template.yaml` sets.",
        "",
        table(("variable", "default", "values", "meaning", "template.yaml"), rows),
        "",
    ]
    if others:
        lines += [
            "The template also sets these, which the libraries read:",
            "",
            table(("variable", "template.yaml", "why"), others),
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    write_documents({OUTPUT: render()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
