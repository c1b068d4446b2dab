"""Who made a call, named as the on-call person looks for it, by CloudTrail identity type.

CloudTrail's `userIdentity` differs by `type` (see the userIdentity element in the CloudTrail
user guide): an IAM user has a `userName`, an assumed role's session names its role in
`sessionContext.sessionIssuer`, the root user is the account itself, and an AWS service acting
for the account is named in `invokedBy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROOT = "Root"
ASSUMED_ROLE = "AssumedRole"
AWS_SERVICE = "AWSService"


def user_name(
    kind: str | None,
    own_name: str | None,
    arn: str | None,
    issuer_name: str | None,
    invoked_by: str | None,
) -> str | None:
    """The principal's name: `own_name` is the identity's `userName`, `issuer_name` that of its
    session's issuer; all are texts already cleaned for the alert."""
    if kind == ROOT:
        return "root"
    if own_name is not None:  # IAM users, and identities that record a name of their own
        return own_name
    if kind == ASSUMED_ROLE and issuer_name is not None:
        return issuer_name  # the role's name
    if arn is not None:  # the last part of the ARN: a role session, a federated user
        return (arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]) or None
    if kind == AWS_SERVICE:
        return invoked_by
    return None


def session_mfa(session: Mapping[str, Any]) -> bool | None:
    """Whether a session's credentials were issued with MFA, if CloudTrail says."""
    attributes = session.get("attributes")
    if attributes is None:
        return None
    if not isinstance(attributes, Mapping):
        attributes = {}
    return flag(attributes.get("mfaAuthenticated"), "true", "false")


def console_mfa(record: Mapping[str, Any], session: bool | None) -> bool | None:
    """Whether a console sign-in used MFA: recorded in additionalEventData, not in a session."""
    data = record.get("additionalEventData")
    used = flag(data.get("MFAUsed") if isinstance(data, Mapping) else None, "yes", "no")
    return session if used is None else used


def flag(value: Any, yes: str, no: str) -> bool | None:
    """A boolean, or the word CloudTrail writes for one (any case); None for anything else."""
    if isinstance(value, bool):
        return value
    word = value.lower() if isinstance(value, str) else None
    return True if word == yes else False if word == no else None
