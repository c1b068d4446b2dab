"""Records in, alerts out: the one path the Lambda handler and `trailhound replay` share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from trailhound.alerts.build import build_alert
from trailhound.alerts.facts import RecordFacts, record_facts
from trailhound.alerts.model import Alert
from trailhound.engine.ruleset import RuleFailure, RuleSet
from trailhound.pipeline.records import BadInput, SourceItem


@dataclass(frozen=True, slots=True)
class RuleFailureAt:
    """A rule that raised on the record at `location`."""

    location: str
    failure: RuleFailure


@dataclass
class DetectionSummary:
    """Counts for the operator: what was read, what could not be, what fired."""

    events: int = 0
    bad_inputs: list[BadInput] = field(default_factory=list)
    alerts_by_rule: Counter[str] = field(default_factory=Counter)
    rule_failures: list[RuleFailureAt] = field(default_factory=list)
    alert_failures: list[RuleFailureAt] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(self.alerts_by_rule.values())


def detect(
    items: Iterable[SourceItem], ruleset: RuleSet, summary: DetectionSummary
) -> Iterator[Alert]:
    """Match each record against the rule set and yield one alert per matching rule.

    Bad input and failing rules are recorded in `summary` and skipped; everything else goes on.
    """
    for item in items:
        if isinstance(item, BadInput):
            summary.bad_inputs.append(item)
            continue
        summary.events += 1
        result = ruleset.match(item.record)
        for failure in result.failures:
            summary.rule_failures.append(RuleFailureAt(item.location, failure))
        facts: RecordFacts | None = None
        for compiled in result.matched:
            try:
                if facts is None:
                    facts = record_facts(item.record)
                alert = build_alert(compiled.rule, item.record, facts)
            except Exception as error:  # recorded for the caller to fail loudly, never silent
                summary.alert_failures.append(
                    RuleFailureAt(
                        item.location,
                        RuleFailure(compiled.rule_id, f"{type(error).__name__}: {error}"),
                    )
                )
                continue
            summary.alerts_by_rule[compiled.rule_id] += 1
            yield alert
