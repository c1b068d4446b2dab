"""The JSON Schema of rule files, so editors can complete and check rules as they are typed.

One schema serves every file under rules/: a file with a top-level `filter` is checked as a
Sigma filter (an allowlist), as the loader reads it, and any other file as a rule.
"""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trailhound.authoring.keys import FilterKeys, TrailhoundKeys
from trailhound.engine.rule import Severity


class Status(StrEnum):
    STABLE = "stable"
    TEST = "test"
    EXPERIMENTAL = "experimental"
    DEPRECATED = "deprecated"
    UNSUPPORTED = "unsupported"


class LogSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: Literal["aws"]
    service: Literal["cloudtrail"]
    category: str | None = None
    definition: str | None = None


class Related(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    type: Literal["derived", "obsolete", "merged", "renamed", "similar"]


class RuleFile(TrailhoundKeys):
    """A trailhound rule file: a Sigma detection rule for AWS CloudTrail plus trailhound's keys."""

    model_config = ConfigDict(extra="forbid", title="trailhound rule")

    title: str = Field(max_length=256, description="Short title; the alert's default title.")
    id: str | None = Field(
        default=None, description="Optional Sigma UUID; the file stem is the id."
    )
    name: str | None = None
    related: list[Related] | None = None
    taxonomy: str | None = None
    status: Status | None = None
    description: str | None = Field(default=None, description="What the rule detects and why.")
    license: str | None = None
    author: str | None = None
    references: list[str] | None = None
    date: datetime.date | str | None = None
    modified: datetime.date | str | None = None
    logsource: LogSource
    detection: dict[str, Any] = Field(
        description="Sigma search identifiers (maps are AND, lists are OR) and a 'condition'.",
        json_schema_extra={
            "required": ["condition"],
            "properties": {
                "condition": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}},
                    ]
                }
            },
        },
    )
    fields: list[str] | None = None
    falsepositives: list[str] | str | None = Field(
        default=None, description="Legitimate activity that also matches: helps the responder."
    )
    level: Severity = Field(description="The alert's severity; critical means wake someone up.")
    tags: list[str] | None = Field(default=None, description="e.g. attack.t1078.004, cis.4.3")
    scope: list[str] | None = None


class FilterSection(BaseModel):
    """The filter itself: the rules it applies to, its selections and its condition."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "additionalProperties": {
                "description": "A selection, as under a rule's 'detection'.",
                "type": ["object", "array"],
            }
        },
    )

    rules: list[str] | Literal["any"] = Field(
        description="The ids (file stems) or Sigma ids of the rules it applies to, or 'any'."
    )
    condition: str | list[str] = Field(
        description="Added to each named rule's condition with 'and', e.g. 'not ci_role'."
    )


class FilterFile(FilterKeys):
    """A Sigma filter file: an allowlist folded into the rules it names."""

    model_config = ConfigDict(extra="forbid", title="trailhound filter")

    title: str = Field(max_length=256, description="What the filter lets through.")
    id: str | None = Field(default=None, description="Optional Sigma UUID.")
    name: str | None = None
    status: Status | None = None
    description: str | None = Field(default=None, description="Why that activity is expected.")
    author: str | None = None
    date: datetime.date | str | None = None
    modified: datetime.date | str | None = None
    references: list[str] | None = None
    license: str | None = None
    logsource: LogSource
    filter: FilterSection


def rule_file_schema() -> dict[str, Any]:
    """The JSON Schema for rule and filter files, as `trailhound schema` prints it."""
    definitions: dict[str, Any] = {}
    for model in (RuleFile, FilterFile):
        schema = model.model_json_schema()
        definitions.update(schema.pop("$defs", {}))
        schema.pop("$schema", None)
        definitions[model.__name__] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "trailhound rule or filter",
        "description": "A Sigma rule for AWS CloudTrail with trailhound's keys, or a Sigma filter "
        "(a file with a top-level 'filter') that allowlists activity for the rules it names.",
        "$defs": definitions,
        "if": {"type": "object", "required": ["filter"]},
        "then": {"$ref": "#/$defs/FilterFile"},
        "else": {"$ref": "#/$defs/RuleFile"},
    }
