"""An alert from a rule and the record it matched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailhound.alerts.facts import RecordFacts, record_facts
from trailhound.alerts.model import Alert
from trailhound.alerts.title import render_title
from trailhound.engine.rule import Rule


def build_alert(rule: Rule, record: Mapping[str, Any], facts: RecordFacts | None = None) -> Alert:
    """Describe a record that `rule` matched; never raises, whatever the record holds.

    `facts` are `record_facts(record)`, for a caller with several rules matching one record.
    """
    if type(record) is not dict and not isinstance(record, Mapping):
        record = {}
    if facts is None:
        facts = record_facts(record)
    return Alert(
        rule_id=rule.rule_id,
        title=render_title(rule.title_template or rule.title, record),
        severity=rule.severity,
        description=rule.description,
        runbook=rule.runbook,
        tags=list(rule.tags),
        event_id=facts.event_id,
        event_time=facts.event_time,
        who=facts.who,
        what=facts.what,
        where=facts.where,
        console_url=facts.console_url,
    )
