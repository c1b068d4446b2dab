"""The JSON Schema of a rule file, so editors can complete and check rules as they are typed."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trailhound.engine.keys import TrailhoundKeys
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

    model_config = ConfigDict(
        extra="forbid",
        title="trailhound rule",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

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


def rule_file_schema() -> dict[str, Any]:
    """The JSON Schema for rule files, as `trailhound schema` prints it."""
    return RuleFile.model_json_schema()
