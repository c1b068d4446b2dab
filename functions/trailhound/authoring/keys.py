"""The keys trailhound adds to Sigma rule and filter files, validated by pydantic.

Defined once: the loader validates them, and the JSON Schema (`schema`) extends these models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RuleTest(BaseModel):
    """One inline test case: an event and whether the rule must fire on it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="What the case shows, e.g. 'root login fires'.")
    expect: bool = Field(description="true: the rule must fire on the event; false: it must not.")
    event: dict[str, Any] | str = Field(
        description="A CloudTrail record, or a path to a JSON event file under events/."
    )


class AlertSpec(BaseModel):
    """How the alert for this rule is worded."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        default=None,
        description="Title template; {field.path} placeholders take values from the event, "
        "e.g. 'Root console login from {sourceIPAddress}'.",
    )


class TrailhoundKeys(BaseModel):
    """The keys trailhound adds to a Sigma rule; a typo here is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false ships the rule switched off.")
    runbook: str | None = Field(
        default=None, description="What the responder should do (markdown)."
    )
    alert: AlertSpec = Field(default_factory=AlertSpec)
    tests: list[RuleTest] = Field(default_factory=list, description="Inline test cases.")


TRAILHOUND_KEYS = frozenset(TrailhoundKeys.model_fields)


class FilterKeys(BaseModel):
    """The trailhound key a Sigma filter may carry."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false ships the filter switched off.")
