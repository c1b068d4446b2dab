"""The rule index: each event meets only the rules that could match it, and never misses one."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.support.rules import CompileRule, rule_text
from trailhound.authoring.loader import load_rule_file, load_rules
from trailhound.engine.rule import CompiledRule
from trailhound.engine.ruleset import RuleFailure, RuleSet

Record = dict[str, Any]


def ids(rules: Any) -> set[str]:
    return {rule.rule_id for rule in rules}


@pytest.fixture
def named_rule(compile_rule: CompileRule) -> Any:
    def named(name: str, detection: str) -> CompiledRule:
        return compile_rule(detection, name=f"{name}.yml")

    return named


def test_rule_requiring_an_event_name_is_a_candidate_only_for_it(named_rule: Any) -> None:
    rule = named_rule("stop", "selection:\n  eventName: StopLogging\ncondition: selection")
    ruleset = RuleSet([rule])
    assert ruleset.unindexed == ()
    assert ids(ruleset.candidates({"eventName": "StopLogging", "eventSource": "x"})) == {"stop"}
    assert ids(ruleset.candidates({"eventName": "stoplogging", "eventSource": "x"})) == {"stop"}
    assert ids(ruleset.candidates({"eventName": "STOPLOGGING", "eventSource": "x"})) == {"stop"}
    assert ids(ruleset.candidates({"eventName": "StartLogging", "eventSource": "x"})) == set()


def test_event_name_index_is_case_insensitive_both_ways(named_rule: Any) -> None:
    rule = named_rule("stop", "selection:\n  eventName: STOPlogging\ncondition: selection")
    ruleset = RuleSet([rule])
    record = {"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com"}
    assert ids(ruleset.match(record).matched) == {"stop"}


def test_event_name_list_files_the_rule_under_each_name(named_rule: Any) -> None:
    rule = named_rule(
        "trail", "selection:\n  eventName: [StopLogging, DeleteTrail]\ncondition: selection"
    )
    ruleset = RuleSet([rule])
    for name in ("StopLogging", "DeleteTrail"):
        assert ids(ruleset.candidates({"eventName": name, "eventSource": "x"})) == {"trail"}
    assert ids(ruleset.candidates({"eventName": "UpdateTrail", "eventSource": "x"})) == set()


def test_event_source_only_rule_is_filed_under_its_source(named_rule: Any) -> None:
    rule = named_rule("kms", "selection:\n  eventSource: kms.amazonaws.com\ncondition: selection")
    ruleset = RuleSet([rule])
    assert ruleset.unindexed == ()
    assert ids(
        ruleset.candidates({"eventName": "Decrypt", "eventSource": "KMS.amazonaws.com"})
    ) == {"kms"}
    assert (
        ids(ruleset.candidates({"eventName": "Decrypt", "eventSource": "s3.amazonaws.com"}))
        == set()
    )


def test_event_name_wins_over_event_source_when_both_are_required(named_rule: Any) -> None:
    rule = named_rule(
        "both",
        "selection:\n  eventSource: kms.amazonaws.com\n  eventName: ScheduleKeyDeletion\n"
        "condition: selection",
    )
    ruleset = RuleSet([rule])
    wrong_name = {"eventName": "Decrypt", "eventSource": "kms.amazonaws.com"}
    right = {"eventName": "ScheduleKeyDeletion", "eventSource": "kms.amazonaws.com"}
    assert ids(ruleset.candidates(wrong_name)) == set()
    assert ids(ruleset.match(right).matched) == {"both"}


def test_a_rule_pinning_an_api_call_and_its_service_is_filed_under_the_pair(
    named_rule: Any,
) -> None:
    rule = named_rule(
        "tag",
        "selection:\n  eventSource: [lambda.amazonaws.com, SQS.amazonaws.com]\n"
        "  eventName: [TagResource, UntagResource]\ncondition: selection",
    )
    ruleset = RuleSet([rule])

    for name in ("TagResource", "untagresource"):
        for source in ("lambda.amazonaws.com", "sqs.amazonaws.com"):
            assert ids(ruleset.candidates({"eventName": name, "eventSource": source})) == {"tag"}
    record = {"eventName": "TagResource", "eventSource": "kms.amazonaws.com"}
    assert ids(ruleset.candidates(record)) == set()
    assert ids(ruleset.candidates({**record, "eventSource": ["sqs.amazonaws.com"]})) == {"tag"}


def test_every_service_a_rule_requires_narrows_its_pairs(named_rule: Any) -> None:
    rule = named_rule(
        "narrowed",
        "a:\n  eventSource: [ssm.amazonaws.com, sts.amazonaws.com]\n"
        "b:\n  eventName: GetParameter\n  eventSource: [ssm.amazonaws.com, kms.amazonaws.com]\n"
        "condition: a and b",
    )
    ruleset = RuleSet([rule])

    for source, expected in (("ssm", {"narrowed"}), ("sts", set()), ("kms", set())):
        record = {"eventName": "GetParameter", "eventSource": f"{source}.amazonaws.com"}
        assert ids(ruleset.candidates(record)) == expected


def test_a_rule_needing_a_top_level_field_meets_only_events_that_hold_one(
    named_rule: Any,
) -> None:
    rule = named_rule(
        "denied", "selection:\n  errorCode|startswith: AccessDenied\ncondition: selection"
    )
    ruleset = RuleSet([rule])
    call = {"eventName": "GetObject", "eventSource": "s3.amazonaws.com"}

    assert ruleset.unindexed == ()
    assert ids(ruleset.candidates(call)) == set()
    assert ids(ruleset.candidates({**call, "errorCode": None})) == set()
    for held in ("AccessDenied", "", ["AccessDenied"], 7):
        assert ids(ruleset.candidates({**call, "errorCode": held})) == {"denied"}
    assert ids(ruleset.match({**call, "errorCode": "AccessDeniedException"}).matched) == {"denied"}


STOP = {"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com"}


@pytest.mark.parametrize(
    ("detection", "matching"),
    [
        (
            "selection:\n  userIdentity.type|startswith: Ro\ncondition: selection",
            {**STOP, "userIdentity": {"type": "Root"}},
        ),
        ("selection:\n  eventName|contains: Logging\ncondition: selection", STOP),
        ("selection:\n  eventName: 'Stop*'\ncondition: selection", STOP),
        ("selection:\n  eventName|cased: StopLogging\ncondition: selection", STOP),
        (
            "selection:\n  eventName: StopLogging\nfilter:\n  eventName: DeleteTrail\n"
            "condition: not filter",
            STOP,
        ),
        (
            "selection:\n  eventName: DeleteTrail\ncondition: not selection",
            STOP,
        ),
        (
            "a:\n  eventName: DeleteTrail\nb:\n  errorCode: AccessDenied\ncondition: a or b",
            {**STOP, "errorCode": "AccessDenied"},
        ),
        (
            "a:\n  eventName: DeleteTrail\nb:\n  eventSource: cloudtrail.amazonaws.com\n"
            "condition: a or b",
            STOP,
        ),
        (
            "selection:\n  eventName: [DeleteTrail, null]\ncondition: selection",
            {"eventSource": "x"},
        ),
        ("selection:\n  eventName|re: '^Stop'\ncondition: selection", STOP),
    ],
)
def test_rules_without_an_exact_requirement_are_always_candidates(
    compile_rule: CompileRule, detection: str, matching: Record
) -> None:
    rule = compile_rule(detection)
    ruleset = RuleSet([rule])
    # A rule that needs a top-level field to hold a value meets every event that has one.
    assert ruleset.unindexed == ((rule,) if rule.condition.presence is None else ())
    assert ruleset.candidates({"eventName": "Anything", "eventSource": "x.amazonaws.com"}) == (
        rule,
    )
    assert ruleset.match(matching).matched == (rule,)


def test_a_rule_pinning_another_field_is_filed_under_its_values(
    compile_rule: CompileRule,
) -> None:
    root = compile_rule("selection:\n  userIdentity.type: Root\ncondition: selection")
    agents = compile_rule(
        "selection:\n  userAgent: [TruffleHog, 'S3 Browser']\n"
        "  userIdentity.type: IAMUser\ncondition: selection"
    )
    ports = compile_rule(
        "selection:\n  requestParameters.ipPermissions.items.fromPort: '22'\ncondition: selection"
    )
    ruleset = RuleSet([root, agents, ports])
    assert ruleset.unindexed == ()

    def candidates(**fields: Any) -> set[str]:
        return ids(ruleset.candidates({**STOP, **fields}))

    assert candidates() == set()
    assert candidates(userIdentity={"type": "root"}) == {root.rule_id}
    assert candidates(userIdentity={"type": "AssumedRole"}) == set()
    # Of two required fields, the one with fewer values files the rule.
    assert candidates(userIdentity={"type": "IAMUser"}) == {agents.rule_id}
    assert candidates(userAgent="trufflehog") == set()
    # A path through lists offers each of its values; numbers as they are written.
    permissions = {"items": [{"fromPort": 80}, {"fromPort": 22}, {"fromPort": 22}]}
    assert candidates(requestParameters={"ipPermissions": permissions}) == {ports.rule_id}
    assert ruleset.candidates({**STOP, "requestParameters": {"ipPermissions": permissions}}) == (
        ports,
    )
    assert ruleset.match({**STOP, "requestParameters": {"ipPermissions": permissions}}).matched


def test_or_of_selections_on_different_names_is_filed_under_each(named_rule: Any) -> None:
    rule = named_rule(
        "either",
        "sel_stop:\n  eventName: StopLogging\nsel_delete:\n  eventName: DeleteTrail\n"
        "  eventSource: cloudtrail.amazonaws.com\ncondition: 1 of sel_*",
    )
    ruleset = RuleSet([rule])
    assert ruleset.unindexed == ()
    for name in ("StopLogging", "DeleteTrail"):
        assert ids(ruleset.candidates({"eventName": name, "eventSource": "x"})) == {"either"}
    assert ids(ruleset.candidates({"eventName": "GetObject", "eventSource": "x"})) == set()


def test_negated_event_name_does_not_narrow_the_index(named_rule: Any) -> None:
    rule = named_rule(
        "not_read",
        "selection:\n  eventSource: s3.amazonaws.com\n"
        "filter:\n  eventName: [GetObject, ListObjects]\n"
        "condition: selection and not filter",
    )
    ruleset = RuleSet([rule])
    assert ids(
        ruleset.match({"eventSource": "s3.amazonaws.com", "eventName": "PutObject"}).matched
    ) == {"not_read"}
    assert not ruleset.match({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}).matched


@pytest.mark.parametrize(
    "record",
    [
        {"eventSource": "cloudtrail.amazonaws.com"},
        {"eventName": ["StopLogging"], "eventSource": "cloudtrail.amazonaws.com"},
        {"eventName": 7, "eventSource": "cloudtrail.amazonaws.com"},
        {"eventName": None, "eventSource": "cloudtrail.amazonaws.com"},
        {"eventName": "StopLogging"},
        {"eventName": "StopLogging", "eventSource": {"name": "cloudtrail"}},
        {},
    ],
)
def test_records_without_string_event_name_and_source_meet_every_rule(
    named_rule: Any, record: Record
) -> None:
    rules = [
        named_rule("by_name", "selection:\n  eventName: StopLogging\ncondition: selection"),
        named_rule(
            "by_source", "selection:\n  eventSource: s3.amazonaws.com\ncondition: selection"
        ),
        named_rule("always", "selection:\n  errorCode: AccessDenied\ncondition: selection"),
    ]
    assert ids(RuleSet(rules).candidates(record)) == {"by_name", "by_source", "always"}


def test_list_valued_event_name_still_matches(named_rule: Any) -> None:
    rule = named_rule("stop", "selection:\n  eventName: StopLogging\ncondition: selection")
    assert ids(RuleSet([rule]).match({"eventName": ["DeleteTrail", "StopLogging"]}).matched) == {
        "stop"
    }


def test_numeric_event_name_still_matches_a_numeric_string_rule(named_rule: Any) -> None:
    rule = named_rule("seven", "selection:\n  eventName: '7'\ncondition: selection")
    assert ids(RuleSet([rule]).match({"eventName": 7, "eventSource": "x"}).matched) == {"seven"}


def test_candidates_keep_load_order_within_groups(named_rule: Any) -> None:
    first = named_rule("first", "selection:\n  eventName: StopLogging\ncondition: selection")
    second = named_rule("second", "selection:\n  eventName: StopLogging\ncondition: selection")
    always = named_rule(
        "always", "selection:\n  userIdentity.type|exists: true\ncondition: selection"
    )
    ruleset = RuleSet([always, first, second])
    record = {"eventName": "StopLogging", "eventSource": "x"}
    assert [rule.rule_id for rule in ruleset.candidates(record)] == ["first", "second", "always"]


def test_a_rule_that_raises_is_reported_and_the_others_still_match(named_rule: Any) -> None:
    good = named_rule("good", "selection:\n  eventName: StopLogging\ncondition: selection")
    doomed = named_rule("doomed", "selection:\n  eventName: StopLogging\ncondition: selection")

    def explode(record: Record) -> bool:
        raise RuntimeError("boom")

    broken = dataclasses.replace(
        doomed, condition=dataclasses.replace(doomed.condition, predicate=explode)
    )
    also_good = named_rule(
        "also_good", "selection:\n  errorCode|exists: false\ncondition: selection"
    )
    result = RuleSet([good, broken, also_good]).match(
        {"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com"}
    )
    assert ids(result.matched) == {"good", "also_good"}
    assert result.failures == (RuleFailure("doomed", "RuntimeError: boom"),)


def test_match_does_not_modify_the_record(named_rule: Any) -> None:
    rule = named_rule(
        "nested",
        "selection:\n  requestParameters.items.name|contains: x\ncondition: selection",
    )
    record = {"eventName": "A", "requestParameters": {"items": [{"name": "x"}, [{"name": "y"}]]}}
    before = copy.deepcopy(record)
    assert RuleSet([rule]).match(record).matched
    assert record == before


SYNTHETIC_RULES = {
    "name_plain": "selection:\n  eventName: ConsoleLogin\ncondition: selection",
    "name_lower": "selection:\n  eventName: consolelogin\ncondition: selection",
    "name_list": "selection:\n  eventName: [StopLogging, DeleteTrail, PutBucketPolicy]\n"
    "condition: selection",
    "source_only": "selection:\n  eventSource: s3.amazonaws.com\ncondition: selection",
    "source_and_name": "selection:\n  eventSource: iam.amazonaws.com\n"
    "  eventName: CreateAccessKey\ncondition: selection",
    "name_negated": "selection:\n  eventSource: ec2.amazonaws.com\nfilter:\n"
    "  eventName|startswith: Describe\ncondition: selection and not filter",
    "name_wildcard": "selection:\n  eventName: 'Get*'\ncondition: selection",
    "name_contains": "selection:\n  eventName|contains: Secret\ncondition: selection",
    "name_or_source": "a:\n  eventName: AssumeRole\nb:\n  eventSource: kms.amazonaws.com\n"
    "condition: a or b",
    "names_union": "a:\n  eventName: GetCallerIdentity\nb:\n  eventName: ListBuckets\n"
    "  errorCode|exists: true\ncondition: a or b",
    "not_only": "selection:\n  eventName: GetCallerIdentity\ncondition: not selection",
    "name_or_anything": "a:\n  eventName: ConsoleLogin\nb:\n  errorCode: AccessDenied\n"
    "condition: a or b",
    "nothing_indexed": "selection:\n  errorCode: [AccessDenied, Client.UnauthorizedOperation]\n"
    "condition: selection",
    "conditions_list": "a:\n  eventName: StopLogging\nb:\n  eventName: CreateUser\n"
    "condition:\n  - a\n  - b",
    "cased_name": "selection:\n  eventName|cased: GetObject\ncondition: selection",
    "name_null": "selection:\n  eventName: null\ncondition: selection",
    "name_and_not_source": "selection:\n  eventName: RunInstances\nfilter:\n"
    "  eventSource: ec2.amazonaws.com\ncondition: selection and not filter",
    "all_of_them": "a:\n  eventSource: sts.amazonaws.com\nb:\n  userIdentity.type: IAMUser\n"
    "condition: all of them",
    "identity_only": "selection:\n  userIdentity.type: [AssumedRole, FederatedUser]\n"
    "condition: selection",
    "identity_or_agent": "a:\n  userIdentity.type: Root\nb:\n  userAgent|contains: boto\n"
    "condition: a or b",
    "agent_not_root": "a:\n  userAgent: 'aws-cli/2.13.0'\nb:\n  userIdentity.type: Root\n"
    "condition: a and not b",
    "region_list": "selection:\n  awsRegion: [us-east-1, eu-west-1]\n"
    "  readOnly: 'false'\ncondition: selection",
    "nested_list_value": "selection:\n  resources.type: AWS::S3::Bucket\ncondition: selection",
    "mfa_text": "selection:\n  userIdentity.sessionContext.attributes.mfaAuthenticated: 'true'\n"
    "condition: selection",
    "pairs_union": "a:\n  eventSource: sts.amazonaws.com\n  eventName: GetCallerIdentity\n"
    "b:\n  eventSource: s3.amazonaws.com\n  eventName: ListBuckets\ncondition: a or b",
    "pair_or_name": "a:\n  eventSource: kms.amazonaws.com\n  eventName: Decrypt\n"
    "b:\n  eventName: GetUser\ncondition: a or b",
    "name_two_sources": "selection:\n  eventSource: [ssm.amazonaws.com, kms.amazonaws.com]\n"
    "  eventName: [GetParameter, Decrypt, DescribeParameters]\ncondition: selection",
    "sources_narrowed": "a:\n  eventSource: [ssm.amazonaws.com, sts.amazonaws.com]\n"
    "b:\n  eventSource: ssm.amazonaws.com\n  eventName: [GetParameter, PutParameter]\n"
    "condition: a and b",
    "error_prefix": "selection:\n  errorCode|startswith: AccessDenied\ncondition: selection",
    "error_or_message": "a:\n  errorCode|endswith: Operation\nb:\n  errorMessage|contains: "
    "denied\ncondition: a or b",
    "error_either_way": "a:\n  errorCode|endswith: Operation\nb:\n  errorCode|exists: true\n"
    "condition: a or b",
    "error_and_not_agent": "a:\n  errorCode|contains: Denied\nb:\n  userAgent|contains: aws-cli\n"
    "condition: a and not b",
    "empty_message": "selection:\n  errorMessage: ''\ncondition: selection",
    "no_error": "selection:\n  errorCode|exists: false\n  sourceIPAddress|cidr: 10.0.0.0/8\n"
    "condition: selection",
    "error_null_or_denied": "selection:\n  errorCode:\n    - null\n    - '*Denied*'\n"
    "condition: selection",
    "nested_presence": "selection:\n  userIdentity.sessionContext.sourceIdentity|contains: a\n"
    "condition: selection",
    "sources_disjoint": "a:\n  eventSource: iam.amazonaws.com\n"
    "b:\n  eventSource: ssm.amazonaws.com\n  eventName: GetUser\ncondition: a and b",
}


@pytest.fixture(scope="module")
def many_rules(tmp_path_factory: pytest.TempPathFactory, sigmahq_rules_dir: Path) -> list[Any]:
    folder = tmp_path_factory.mktemp("synthetic")
    for name, detection in SYNTHETIC_RULES.items():
        (folder / f"{name}.yml").write_text(rule_text(detection), encoding="utf-8")
    loaded = load_rules([sigmahq_rules_dir, folder])
    assert loaded.errors == []
    return [*loaded.rules, *loaded.disabled]


def variants(record: Record, turn: int) -> list[Record]:
    """The record, a copy with its indexed fields in other case, and one odd copy by turns."""
    name, source = record.get("eventName"), record.get("eventSource")
    if not isinstance(name, str) or not isinstance(source, str):
        return [record]
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, dict) else {}
    odd = [
        {**record, "eventName": [name]},
        {key: value for key, value in record.items() if key != "eventName"},
        {key: value for key, value in record.items() if key != "eventSource"},
        {**record, "eventName": name.lower(), "eventSource": None},
        {**record, "userIdentity": {**identity, "type": [identity.get("type"), "Root"]}},
        {**record, "userIdentity": {**identity, "type": str(identity.get("type")).upper()}},
        {**record, "userIdentity": "Root", "awsRegion": ["EU-WEST-1"], "readOnly": False},
        {**record, "resources": [[{"type": "aws::s3::bucket"}], {"type": 7}]},
        {**record, "errorCode": None, "userAgent": ["AccessDenied"]},
        {**record, "errorCode": ["AccessDenied", None], "sourceIPAddress": ""},
        {**record, "errorCode": "", "errorMessage": 7},
    ]
    swapped = {**record, "eventName": name.swapcase(), "eventSource": source.upper()}
    return [record, swapped, odd[turn % len(odd)]]


def test_index_matches_exactly_what_evaluating_every_rule_matches(
    many_rules: list[Any], corpus_records: list[Record]
) -> None:
    ruleset = RuleSet(many_rules)
    # The synthetic rules must actually exercise the index, not all fall back to "always".
    assert len(ruleset.unindexed) < len(many_rules) // 2
    checked = fired = 0
    for turn, original in enumerate(corpus_records):
        for record in variants(original, turn):
            expected = [rule.rule_id for rule in many_rules if rule.condition.predicate(record)]
            result = ruleset.match(record)
            assert result.failures == ()
            assert sorted(rule.rule_id for rule in result.matched) == sorted(expected), record
            checked += 1
            fired += len(expected)
    assert checked > len(corpus_records)
    assert fired > 0


def test_index_only_narrows_candidates(many_rules: list[Any], corpus_records: list[Record]) -> None:
    ruleset = RuleSet(many_rules)
    narrowed = 0
    for record in corpus_records:
        candidates = ruleset.candidates(record)
        for rule in many_rules:
            if rule.condition.predicate(record):
                assert rule in candidates, (rule.rule_id, record.get("eventName"))
        narrowed += len(candidates) < len(many_rules)
    assert narrowed > len(corpus_records) // 2


def test_sigmahq_rule_fires_on_the_real_event(
    sigmahq_rules_dir: Path, corpus_records: list[Record]
) -> None:
    rule = load_rule_file(sigmahq_rules_dir / "aws_cloudtrail_disable_logging.yml")
    stopped = [record for record in corpus_records if record.get("eventName") == "StopLogging"]
    assert stopped
    ruleset = RuleSet([rule])
    assert all(ruleset.match(record).matched for record in stopped)
