"""The alert: what a rule match tells the responder, in one stable JSON object."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trailhound.engine.rule import Severity

# The models' validators and serializers are built when first used, not at import: most
# invocations raise no alert, and their cold start need not pay for building them.
_MODEL_CONFIG = ConfigDict(frozen=True, defer_build=True)


class Who(BaseModel):
    """The principal that made the call, as the responder needs to find and contain it."""

    model_config = _MODEL_CONFIG

    type: str | None = None
    arn: str | None = None
    principal_id: str | None = None
    account_id: str | None = None
    user_name: str | None = None
    access_key_id: str | None = None
    session_issuer_arn: str | None = None
    mfa_authenticated: bool | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    invoked_by: str | None = None


class What(BaseModel):
    """The API call and what it touched."""

    model_config = _MODEL_CONFIG

    event_source: str | None = None
    event_name: str | None = None
    read_only: bool | None = None
    error_code: str | None = None
    error_message: str | None = None
    resources: list[str] = Field(default_factory=list)
    request_parameters: dict[str, Any] | None = None


class Where(BaseModel):
    """The account and region the call was made in."""

    model_config = _MODEL_CONFIG

    account_id: str | None = None
    region: str | None = None


class Alert(BaseModel):
    """One rule match on one CloudTrail record; its JSON form is what the notifiers publish."""

    model_config = _MODEL_CONFIG

    rule_id: str
    title: str
    severity: Severity
    description: str = ""
    runbook: str | None = None
    tags: list[str] = Field(default_factory=list)
    event_id: str | None = None
    event_time: AwareDatetime | None = None
    who: Who = Field(default_factory=Who)
    what: What = Field(default_factory=What)
    where: Where = Field(default_factory=Where)
    console_url: str | None = None

    @property
    def dedup_key(self) -> str:
        """Same event and rule, same key: lets a retried delivery be recognised."""
        return f"{self.event_id}:{self.rule_id}"

    def to_json(self) -> str:
        """Compact JSON with keys in declared order and UTC times ending in `Z`."""
        return self.model_dump_json()
