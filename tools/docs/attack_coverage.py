"""Replay real attack recordings through the rules and write docs/reference/attack-coverage.md.

Stratus Red Team's detonation logs say, technique by technique, which rules fire on a real attack;
the Invictus dataset says how many alerts a real account's attack-simulation session would send.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from tools.docs.markdown import DOCS, cell, generated_note, table, write_documents
from tools.docs.rulepack import (
    INVICTUS,
    RULES,
    SIGMAHQ_PACK,
    STRATUS,
    Firing,
    RulePackError,
    corpus_path,
    load_pack,
    replay,
    rule_link,
)
from trailhound.engine.rule import CompiledRule, Severity

OUTPUT = DOCS / "reference" / "attack-coverage.md"
TARGET = 30

# Stratus assumes a role of its own before it detonates some techniques (and retries while the
# role propagates, hence denied attempts). An alert on that call is not a detection of the attack.
SETUP_CALLS = frozenset({"AssumeRole"})

# SigmaHQ rules that fire on nearly every call of some kind, so their "detections" say little.
CATCH_ALL_PACK_RULES = {"aws_sts_assumerole_misuse": "fires on every call made with a role session"}

# Reviewed against each technique's detonation log: why a technique goes undetected, or, for one
# that is detected, what part of it still goes unseen. An undetected technique without an entry
# is printed as unexplained.
NOTES: dict[str, str] = {
    "aws.credential-access.ec2-steal-instance-credentials": (
        "Detected at its first step only, the SendCommand that runs the theft on the instance. "
        "The stolen credentials' later use from outside AWS goes unseen: telling it apart needs "
        "state, where each instance's credentials are normally used (GuardDuty's "
        "InstanceCredentialExfiltration findings do this)."
    ),
    "aws.credential-access.secretsmanager-retrieve-secrets": (
        "Detected because an IAM user, a person, read the secrets. The same twenty reads through "
        "a role, as from a compromised workload, look like an application at work: that needs a "
        "threshold."
    ),
    "aws.credential-access.ssm-retrieve-securestring-parameters": (
        "Detected because an IAM user, a person, decrypted the parameters. The same reads "
        "through a role look like an application reading its configuration: that needs a "
        "threshold."
    ),
    "aws.impact.bedrock-invoke-model": (
        "Detected when model access is enabled. The InvokeModel calls themselves are not "
        "alerted: telling abuse from ordinary use needs a baseline or a threshold."
    ),
}


@dataclass
class Technique:
    """What fired on one technique's detonation log."""

    name: str
    ours: dict[str, set[str]]
    pack: dict[str, set[str]]

    @property
    def detected(self) -> bool:
        return any(names - SETUP_CALLS for names in self.ours.values())

    def detected_by_pack(self, ignore: Collection[str] = ()) -> bool:
        return any(
            names - SETUP_CALLS for rule_id, names in self.pack.items() if rule_id not in ignore
        )


def stratus_techniques(
    ours: Sequence[CompiledRule], pack: Sequence[CompiledRule]
) -> list[Technique]:
    """Every technique in the Stratus corpus, with the rules that fired on its events."""
    by_line = [
        str(orjson.loads(line)["technique"])
        for line in STRATUS.read_bytes().splitlines()
        if line.strip()
    ]
    fired_ours = fired_by_technique(replay(STRATUS, ours), by_line)
    fired_pack = fired_by_technique(replay(STRATUS, pack), by_line)
    return [Technique(name, fired_ours[name], fired_pack[name]) for name in sorted(set(by_line))]


def fired_by_technique(
    firings: list[Firing], by_line: list[str]
) -> defaultdict[str, dict[str, set[str]]]:
    """technique → rule id → the event names the rule fired on."""
    fired: defaultdict[str, dict[str, set[str]]] = defaultdict(dict)
    for firing in firings:
        technique = by_line[firing.line - 1]
        fired[technique].setdefault(firing.rule_id, set()).add(firing.event_name)
    return fired


def fired_cell(fired: dict[str, set[str]], rules: dict[str, CompiledRule]) -> str:
    parts = []
    for rule_id in sorted(fired):
        names = sorted(fired[rule_id])
        setup = "; Stratus's own set-up call, not counted" if set(names) <= SETUP_CALLS else ""
        parts.append(f"{rule_link(rules[rule_id], OUTPUT.parent)} ({', '.join(names)}{setup})")
    return "<br>".join(parts) or "-"


def stratus_section(
    techniques: list[Technique], ours: Sequence[CompiledRule], pack: Sequence[CompiledRule]
) -> list[str]:
    ours_by_id = {rule.rule_id: rule for rule in ours}
    pack_by_id = {rule.rule_id: rule for rule in pack}
    rows = []
    for technique in techniques:
        fallback = "" if technique.detected else "not yet explained"
        note = NOTES.get(technique.name, fallback)
        rows.append(
            (
                f"`{technique.name}`",
                "yes" if technique.detected else "**no**",
                fired_cell(technique.ours, ours_by_id),
                fired_cell(technique.pack, pack_by_id),
                cell(note),
            )
        )
    header = (
        "technique",
        "detected",
        "our rules (event)",
        "SigmaHQ pack (event)",
        "why not, or what goes unseen",
    )
    return ["## Stratus Red Team techniques", "", table(header, rows), ""]


def invictus_section(ours: Sequence[CompiledRule], pack: Sequence[CompiledRule]) -> list[str]:
    times = [
        datetime.fromisoformat(str(orjson.loads(line)["eventTime"]))
        for line in INVICTUS.read_bytes().splitlines()
        if line.strip()
    ]
    minutes = round((max(times) - min(times)).total_seconds() / 60)
    lines = [
        "## A real account's attack-simulation session",
        "",
        f"`{corpus_path(INVICTUS)}`: {len(times):,} events of one "
        f"account over {minutes} minutes ({min(times):%Y-%m-%d %H:%M} to {max(times):%H:%M} "
        "UTC) in which the Invictus team ran attack simulations (StopLogging, PutEventSelectors, "
        "GetPasswordData, secret and parameter theft, ...) among ordinary activity. Alerts per "
        "rule, as `trailhound replay` would send them:",
        "",
    ]
    for title, rules in (("Our rules", ours), ("SigmaHQ pack", pack)):
        firings = replay(INVICTUS, rules)
        lines += [
            f"### {title}",
            "",
            on_call_summary(firings, rules),
            "",
            alert_table(firings, rules),
            "",
        ]
    return lines


def levels_of(firings: list[Firing], rules: Sequence[CompiledRule]) -> Counter[Severity]:
    by_id = {rule.rule_id: rule for rule in rules}
    return Counter(by_id[firing.rule_id].rule.severity for firing in firings)


def on_call_summary(firings: list[Firing], rules: Sequence[CompiledRule]) -> str:
    """What reaches the person on call: the alerts worth acting on, apart from the context."""
    levels = levels_of(firings, rules)
    urgent = levels[Severity.CRITICAL] + levels[Severity.HIGH]
    context = levels[Severity.LOW] + levels[Severity.INFORMATIONAL]
    return (
        f"{len(firings)} alerts: {urgent} critical or high (worth a look within the hour), "
        f"{levels[Severity.MEDIUM]} medium, and {context} low or informational, which are "
        "context for an investigation rather than a reason to look."
    )


def alert_table(firings: list[Firing], rules: Sequence[CompiledRule]) -> str:
    by_id = {rule.rule_id: rule for rule in rules}
    counts = Counter(firing.rule_id for firing in firings)
    rows = [
        (rule_link(by_id[rule_id], OUTPUT.parent), by_id[rule_id].rule.severity.value, str(count))
        for rule_id, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    by_level = levels_of(firings, rules)
    levels = ", ".join(
        f"{by_level[level]} {level.value}" for level in reversed(Severity) if by_level[level]
    )
    rows.append((f"**total: {len(counts)} rules**", levels or "-", f"**{len(firings)}**"))
    return table(("rule", "level", "alerts"), rows)


def render() -> str:
    """The whole document, from the rules and the corpus as they are now."""
    ours = load_pack(RULES).rules
    pack = load_pack(SIGMAHQ_PACK).rules
    techniques = stratus_techniques(ours, pack)
    detected = sum(technique.detected for technique in techniques)
    by_pack = sum(technique.detected_by_pack() for technique in techniques)
    by_pack_specific = sum(
        technique.detected_by_pack(CATCH_ALL_PACK_RULES) for technique in techniques
    )
    catch_all = "; ".join(f"`{rule_id}` {why}" for rule_id, why in CATCH_ALL_PACK_RULES.items())
    verdict = "meets" if detected >= TARGET else "is below"
    return "\n".join(
        [
            generated_note("attack_coverage.py"),
            "",
            "# Attack coverage",
            "",
            f"**{detected} of {len(techniques)}** Stratus Red Team techniques are detected by "
            f"trailhound's rules ({len(ours)} rules in `rules/`), which {verdict} the target of "
            f"{TARGET}. The optional SigmaHQ pack ({len(pack)} rules) alone detects {by_pack}, "
            f"or {by_pack_specific} without the rules that fire on almost anything ({catch_all}).",
            "",
            f"The detonation logs (`{corpus_path(STRATUS)}`) are replayed "
            "through the same path as `trailhound replay`. A technique counts as detected when at "
            "least one of our rules fires on one of its events, except the role assumption "
            "Stratus makes to set itself up. Each log also holds incidental calls (waiting for an "
            "instance, reading identities); the event names in brackets say what a rule fired on.",
            "",
            *stratus_section(techniques, ours, pack),
            *invictus_section(ours, pack),
        ]
    )


def main() -> int:
    try:
        text = render()
    except RulePackError as error:
        print(error, file=sys.stderr)
        return 1
    write_documents({OUTPUT: text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
