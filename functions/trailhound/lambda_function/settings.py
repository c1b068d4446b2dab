"""The Lambda function's settings, from the environment variables the template sets.

Validated when the handler runs, not at import, so a missing variable fails the invocation with
a message naming it (and Lambda's retries keep the batch) instead of breaking the import. The
model reads the variables named after its fields in upper case, and nothing else, which
pydantic-settings would do too at the price of a fifth of boto3's import time at a cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trailhound.aws import topic_region
from trailhound.errors import SettingsError

DEFAULT_TTL_SECONDS = 6 * 60 * 60
"""Lambda keeps retrying an asynchronous event for up to six hours, so a redelivery within that
window must still find the alert's record."""


class Settings(BaseModel):
    """What the handler needs to know: where to publish, where to remember, which rules to load."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_topic_arn: str = Field(description="The SNS topic alerts go to: a standard topic's ARN.")
    idempotency_table: str = Field(
        min_length=3,
        description="DynamoDB table of delivered alerts, in the records powertools' idempotency "
        "utility writes: partition key `id` (string), TTL attribute `expiration`.",
    )
    idempotency_ttl_seconds: int = Field(
        default=DEFAULT_TTL_SECONDS,
        ge=60,
        description="How long a delivered alert is remembered: by default the six hours Lambda "
        "may retry an event.",
    )
    rules_paths: tuple[str, ...] = Field(
        default=("rules",),
        description="Rule folders or files, comma-separated: absolute (such as the rules "
        "layer's `/opt/rules`), or under `LAMBDA_TASK_ROOT`.",
    )
    rules_bundles: tuple[str, ...] = Field(
        default=(),
        description="Rule bundles (`trailhound bundle`), comma-separated: the one built from "
        "the `RULES_PATHS` folders is used while every rule file is as it was built; otherwise "
        "the files load. Absolute, or under `LAMBDA_TASK_ROOT`.",
    )
    lambda_task_root: Path | None = Field(
        default=None, description="Set by Lambda: the folder of the function's code."
    )
    aws_lambda_function_name: str | None = Field(
        default=None, description="Set by Lambda: the function's own name."
    )
    powertools_service_name: str = Field(
        min_length=1, description="The service name in the function's logs and metrics."
    )
    powertools_metrics_namespace: str = Field(
        min_length=1, description="The CloudWatch namespace of the function's metrics."
    )
    powertools_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="The Logger's level; the template's `LogLevel` parameter."
    )

    @field_validator("alert_topic_arn")
    @classmethod
    def _topic_arn(cls, value: str) -> str:
        topic_region(value)
        return value

    @field_validator("powertools_log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("rules_paths", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            value = _split(value)
            if not value:
                raise ValueError("names no rule folder")
        return value

    @field_validator("rules_bundles", mode="before")
    @classmethod
    def _split_bundles(cls, value: object) -> object:
        return _split(value) if isinstance(value, str) else value

    @property
    def rule_paths(self) -> list[Path]:
        """The rule folders; relative ones are found under the Lambda task root (or here)."""
        root = self.lambda_task_root or Path.cwd()
        return [root / path for path in self.rules_paths]

    @property
    def rule_bundles(self) -> list[Path]:
        """The rule bundles; relative paths as for the rule folders."""
        root = self.lambda_task_root or Path.cwd()
        return [root / path for path in self.rules_bundles]


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def load_settings(environment: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate the settings, naming the environment variables at fault."""
    values = {
        name: environment[name.upper()]
        for name in Settings.model_fields
        if name.upper() in environment
    }
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']).upper()}: {detail['msg']}"
            for detail in error.errors()
        )
        raise SettingsError(f"invalid environment: {problems}") from None
