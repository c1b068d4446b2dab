"""Replay real attack recordings through the rules and write docs/attack-coverage.md.

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
from rulepack import (
    CORPUS,
    DOCS,
    INVICTUS,
    RULES,
    SIGMAHQ_PACK,
    STRATUS,
    Firing,
    RulePackError,
    cell,
    corpus_path,
    generated_note,
    load_pack,
    replay,
    rule_link,
    table,
    write_documents,
)

from trailhound.engine.loader import CompiledRule
from trailhound.engine.rule import Severity

OUTPUT = DOCS / "attack-coverage.md"
TARGET = 30

# Stratus assumes a role of its own before it detonates some techniques (and retries while the
# role propagates, hence denied attempts). An alert on that call is not a detection of the attack.
SETUP_CALLS = frozenset({"AssumeRole"})

# SigmaHQ rules that fire on nearly every call of some kind, so their "detections" say little.
CATCH_ALL_PACK_RULES = {"aws_sts_assumerole_misuse": "fires on every call made with a role session"}

# Why a technique goes undetected, reviewed against its detonation log. Only the techniques no
# rule of ours detects are printed; a technique without an entry is printed as unexplained.
REASONS: dict[str, str] = {
    "aws.credential-access.ec2-steal-instance-credentials": (
        "Needs state. The theft happens on the instance; CloudTrail shows an SSM SendCommand and, "
        "later, calls made with the instance role's credentials from outside AWS. Telling those "
        "apart takes knowing where each instance's credentials are normally used (GuardDuty's "
        "InstanceCredentialExfiltration findings do this)."
    ),
    "aws.credential-access.secretsmanager-batch-retrieve-secrets": (
        "Needs a threshold. BatchGetSecretValue is how applications read their secrets; the "
        "attack is one principal reading many secrets at once, which one event cannot show."
    ),
    "aws.credential-access.secretsmanager-retrieve-secrets": (
        "Needs a threshold. Twenty GetSecretValue calls in a few seconds by one principal; each "
        "call alone looks like an application reading its secret."
    ),
    "aws.credential-access.ssm-retrieve-securestring-parameters": (
        "Needs a threshold. GetParameters with decryption is how applications read their "
        "configuration; the attack is one principal reading every SecureString parameter."
    ),
    "aws.defense-evasion.cloudtrail-event-selectors": (
        "No rule yet. PutEventSelectors that narrows what the trail records is a single call a "
        "rule can match; CIS 4.5's metric filter leaves it out."
    ),
    "aws.defense-evasion.dns-delete-logs": (
        "No rule yet. DeleteResolverQueryLogConfig is a rare single call that a rule can match "
        "as it is."
    ),
    "aws.defense-evasion.vpc-remove-flow-logs": (
        "No rule yet. DeleteFlowLogs is a rare single call a rule can match as it is."
    ),
    "aws.execution.ec2-user-data": (
        "No rule yet. ModifyInstanceAttribute with a userData value replaces the script the "
        "instance runs at its next boot; a rule can match it as it is."
    ),
    "aws.execution.ssm-send-command": (
        "Benign-looking single call. SendCommand is everyday fleet administration; what the "
        "command does is hidden from CloudTrail, so a rule needs a baseline of who runs commands "
        "where."
    ),
    "aws.execution.ssm-start-session": (
        "Benign-looking single call. StartSession is how administrators reach instances without "
        "SSH; a rule needs a baseline of who opens sessions to which instances."
    ),
    "aws.exfiltration.ec2-security-group-open-port-22-ingress": (
        "No rule yet. AuthorizeSecurityGroupIngress opening port 22 to 0.0.0.0/0; a rule can "
        "match the port and the range in requestParameters."
    ),
    "aws.exfiltration.ec2-share-ami": (
        "No rule yet. ModifyImageAttribute adding a launch permission for another account (or "
        "`all`) shares an AMI; a rule can match it as it is."
    ),
    "aws.exfiltration.ec2-share-ebs-snapshot": (
        "No rule yet. ModifySnapshotAttribute adding a createVolumePermission for another "
        "account (or `all`) shares a snapshot; a rule can match it as it is."
    ),
    "aws.exfiltration.rds-share-snapshot": (
        "No rule yet. ModifyDBSnapshotAttribute adding an account (or `all`) to the `restore` "
        "attribute shares a database snapshot; a rule can match it as it is."
    ),
    "aws.impact.bedrock-invoke-model": (
        "Needs a threshold or a baseline. InvokeModel is ordinary use; LLM hijacking shows as "
        "volume, and as model agreements accepted by a principal that never used Bedrock."
    ),
    "aws.lateral-movement.ec2-instance-connect": (
        "Benign-looking single call. SendSSHPublicKey is how EC2 Instance Connect works; a rule "
        "needs a baseline of who connects to which instances."
    ),
    "aws.lateral-movement.ec2-serial-console-send-ssh-public-key": (
        "No rule yet. EnableSerialConsoleAccess is a rare account-wide switch a rule can match; "
        "SendSerialConsoleSSHPublicKey alone is ordinary use of the serial console."
    ),
    "aws.persistence.lambda-backdoor-function": (
        "No rule yet. AddPermission with `Principal: *` makes a function invocable by anyone; a "
        "rule needs to read the principal in requestParameters."
    ),
    "aws.persistence.lambda-layer-extension": (
        "Benign-looking single call. Deployments attach layers with UpdateFunctionConfiguration "
        "every day (here a layer of the same account); a rule needs to know which principals "
        "deploy functions, which a Sigma filter can say for one environment."
    ),
    "aws.persistence.lambda-overwrite-code": (
        "Benign-looking single call. UpdateFunctionCode is every deployment; a Sigma filter "
        "naming the deploying roles turns it into a rule for one environment."
    ),
    "aws.persistence.rolesanywhere-create-trust-anchor": (
        "No rule yet. CreateTrustAnchor lets certificates of an outside CA obtain AWS "
        "credentials; it is rare and a rule can match it as it is."
    ),
    "aws.persistence.sts-federation-token": (
        "Benign-looking single call. GetFederationToken gives a session that outlives the access "
        "key that made it, but some tools still use it; a rule needs a baseline."
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
        parts.append(f"{rule_link(rules[rule_id], DOCS)} ({', '.join(names)}{setup})")
    return "<br>".join(parts) or "-"


def stratus_section(
    techniques: list[Technique], ours: list[CompiledRule], pack: list[CompiledRule]
) -> list[str]:
    ours_by_id = {rule.rule_id: rule for rule in ours}
    pack_by_id = {rule.rule_id: rule for rule in pack}
    rows = []
    for technique in techniques:
        reason = "" if technique.detected else REASONS.get(technique.name, "not yet explained")
        rows.append(
            (
                f"`{technique.name}`",
                "yes" if technique.detected else "**no**",
                fired_cell(technique.ours, ours_by_id),
                fired_cell(technique.pack, pack_by_id),
                cell(reason),
            )
        )
    header = ("technique", "detected", "our rules (event)", "SigmaHQ pack (event)", "why not")
    return ["## Stratus Red Team techniques", "", table(header, rows), ""]


def invictus_section(ours: list[CompiledRule], pack: list[CompiledRule]) -> list[str]:
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


def levels_of(firings: list[Firing], rules: list[CompiledRule]) -> Counter[Severity]:
    by_id = {rule.rule_id: rule for rule in rules}
    return Counter(by_id[firing.rule_id].rule.severity for firing in firings)


def on_call_summary(firings: list[Firing], rules: list[CompiledRule]) -> str:
    """What reaches the person on call: the alerts worth acting on, apart from the context."""
    levels = levels_of(firings, rules)
    urgent = levels[Severity.CRITICAL] + levels[Severity.HIGH]
    context = levels[Severity.LOW] + levels[Severity.INFORMATIONAL]
    return (
        f"{len(firings)} alerts: {urgent} critical or high (worth a look within the hour), "
        f"{levels[Severity.MEDIUM]} medium, and {context} low or informational, which are "
        "context for an investigation rather than a reason to look."
    )


def alert_table(firings: list[Firing], rules: list[CompiledRule]) -> str:
    by_id = {rule.rule_id: rule for rule in rules}
    counts = Counter(firing.rule_id for firing in firings)
    rows = [
        (rule_link(by_id[rule_id], DOCS), by_id[rule_id].rule.severity.value, str(count))
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
    if not CORPUS.is_dir():
        print(f"the shared corpus is absent ({CORPUS})", file=sys.stderr)
        return 1
    try:
        text = render()
    except RulePackError as error:
        print(error, file=sys.stderr)
        return 1
    write_documents({OUTPUT: text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
