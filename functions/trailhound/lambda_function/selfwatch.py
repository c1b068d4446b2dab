"""The rules that watch trailhound itself find its resources by `trailhound` in their names.

CloudFormation names the function, the topic and the subscription filter after the stack, so a
stack named without `trailhound` leaves those rules blind to changes to this very pipeline
(`lambda_trailhound_function_changed`, `sns_trailhound_topic_changed`, ...). CloudTrail's
records of those changes carry the names and no tags, so the name is what the rules can see.
"""

from __future__ import annotations

from collections.abc import Iterable

MARK = "trailhound"


def names_unseen(names: Iterable[str | None]) -> list[str]:
    """The pipeline's own resource names that the self-watch rules would not recognise."""
    return [name for name in names if name and MARK not in name.lower()]


def watches_itself(rule_ids: Iterable[str]) -> bool:
    """Whether any loaded rule is one of those that watch trailhound's own resources."""
    return any(MARK in rule_id.lower() for rule_id in rule_ids)
