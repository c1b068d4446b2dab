"""Matching semantics: what a compiled Sigma rule fires on, and what it does not."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from tests.support.rules import CompileRule, Matches
from trailhound.engine.regex import compile_regex
from trailhound.errors import CompileError

Record = dict[str, Any]


def test_map_is_and_of_its_fields(compile_rule: CompileRule, matches: Matches) -> None:
    rule = compile_rule("""
        selection:
          eventSource: iam.amazonaws.com
          eventName: CreateUser
        condition: selection
    """)
    assert matches(rule, {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"})
    assert not matches(rule, {"eventSource": "iam.amazonaws.com", "eventName": "DeleteUser"})
    assert not matches(rule, {"eventSource": "s3.amazonaws.com", "eventName": "CreateUser"})


def test_list_of_values_is_or(compile_rule: CompileRule, matches: Matches) -> None:
    rule = compile_rule("""
        selection:
          eventName: [StopLogging, DeleteTrail]
        condition: selection
    """)
    assert matches(rule, {"eventName": "StopLogging"})
    assert matches(rule, {"eventName": "DeleteTrail"})
    assert not matches(rule, {"eventName": "StartLogging"})


def test_list_of_maps_is_or_of_ands(compile_rule: CompileRule, matches: Matches) -> None:
    rule = compile_rule("""
        selection:
          - eventSource: iam.amazonaws.com
            eventName: CreateUser
          - eventSource: s3.amazonaws.com
            eventName: DeleteBucket
        condition: selection
    """)
    assert matches(rule, {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"})
    assert matches(rule, {"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket"})
    assert not matches(rule, {"eventSource": "iam.amazonaws.com", "eventName": "DeleteBucket"})


CONDITION_DETECTION = """
    sel_a:
      a: x
    sel_b:
      b: x
    filter_c:
      c: x
    _helper:
      h: x
    condition: {condition}
"""


@pytest.mark.parametrize(
    ("condition", "record", "expected"),
    [
        ("1 of sel_*", {"a": "x"}, True),
        ("1 of sel_*", {"b": "x"}, True),
        ("1 of sel_*", {"c": "x"}, False),
        ("all of sel_*", {"a": "x"}, False),
        ("all of sel_*", {"a": "x", "b": "x"}, True),
        ("1 of them", {"c": "x"}, True),
        ("1 of them", {"h": "x"}, False),
        ("all of them", {"a": "x", "b": "x", "c": "x"}, True),
        ("all of them", {"a": "x", "b": "x"}, False),
        ("sel_a and sel_b", {"a": "x"}, False),
        ("sel_a and sel_b", {"a": "x", "b": "x"}, True),
        ("sel_a or sel_b", {"b": "x"}, True),
        ("sel_a and not filter_c", {"a": "x"}, True),
        ("sel_a and not filter_c", {"a": "x", "c": "x"}, False),
        ("not sel_a", {}, True),
        ("_helper", {"h": "x"}, True),
    ],
)
def test_condition_operators(
    compile_rule: CompileRule, matches: Matches, condition: str, record: Record, expected: bool
) -> None:
    rule = compile_rule(CONDITION_DETECTION.format(condition=condition))
    assert matches(rule, record) is expected


def test_all_of_them_ignores_identifiers_starting_with_underscore(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = compile_rule(CONDITION_DETECTION.format(condition="all of them"))
    assert matches(rule, {"a": "x", "b": "x", "c": "x", "h": "other"})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"a": "x"}, True),
        ({"a": "x", "c": "x"}, True),
        ({"b": "x"}, True),
        ({"b": "x", "c": "x"}, False),
        ({"c": "x"}, False),
    ],
)
def test_not_binds_tighter_than_and_tighter_than_or(
    compile_rule: CompileRule, matches: Matches, record: Record, expected: bool
) -> None:
    rule = compile_rule(CONDITION_DETECTION.format(condition="sel_a or sel_b and not filter_c"))
    assert matches(rule, record) is expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"a": "x"}, True),
        ({"a": "x", "c": "x"}, False),
        ({"b": "x", "c": "x"}, False),
        ({"b": "x"}, True),
    ],
)
def test_brackets_override_precedence(
    compile_rule: CompileRule, matches: Matches, record: Record, expected: bool
) -> None:
    rule = compile_rule(CONDITION_DETECTION.format(condition="(sel_a or sel_b) and not filter_c"))
    assert matches(rule, record) is expected


def test_list_of_conditions_is_or(compile_rule: CompileRule, matches: Matches) -> None:
    rule = compile_rule(
        CONDITION_DETECTION.format(condition="\n      - sel_a and sel_b\n      - filter_c")
    )
    assert matches(rule, {"a": "x", "b": "x"})
    assert matches(rule, {"c": "x"})
    assert not matches(rule, {"a": "x"})


def test_not_of_a_group(compile_rule: CompileRule, matches: Matches) -> None:
    rule = compile_rule(CONDITION_DETECTION.format(condition="sel_a and not 1 of filter_*"))
    assert matches(rule, {"a": "x"})
    assert not matches(rule, {"a": "x", "c": "x"})


def single_field_rule(compile_rule: CompileRule, key: str, value: str) -> Any:
    return compile_rule(f"selection:\n  {key}: {value}\ncondition: selection")


@pytest.mark.parametrize(
    ("key", "value", "candidate", "expected"),
    [
        ("f", "Abc", "abc", True),
        ("f", "Abc", "ABC", True),
        ("f", "Abc", "Abcd", False),
        ("f", "Abc", "xAbc", False),
        ("f", "'A*c'", "AbbbC", True),
        ("f", "'A*c'", "Ac", True),
        ("f", "'A*c'", "Acb", False),
        ("f", "'A?c'", "abc", True),
        ("f", "'A?c'", "ac", False),
        ("f", "'A?c'", "abbc", False),
        ("f", "'a.b*'", "axbc", False),
        ("f", "'a.b*'", "A.Bc", True),
        ("f", "'a\\*b'", "a*b", True),
        ("f", "'a\\*b'", "axb", False),
        ("f", "'a\\?b'", "a?b", True),
        ("f", "'a\\?b'", "axb", False),
        ("f", "'*'", "", True),
        ("f", "'*'", "anything", True),
        ("f", "'line*'", "line one\nline two", True),
        ("f|cased", "Abc", "Abc", True),
        ("f|cased", "Abc", "abc", False),
        ("f|cased", "'A*c'", "Abbc", True),
        ("f|cased", "'A*c'", "abbc", False),
        ("f|contains", "Logging", "StopLOGGING now", True),
        ("f|contains", "Logging", "StopLog", False),
        ("f|contains|cased", "Logging", "StopLOGGING", False),
        ("f|contains|cased", "Logging", "StopLogging", True),
        ("f|startswith", "'arn:aws:iam::'", "ARN:AWS:IAM::123456789012:root", True),
        ("f|startswith", "'arn:aws:iam::'", "x arn:aws:iam::", False),
        ("f|endswith", ".amazonaws.com", "ec2.AMAZONAWS.com", True),
        ("f|endswith", ".amazonaws.com", "amazonaws.com.evil", False),
        ("f|contains", "'a*b'", "xxaQQbxx", True),
        ("f|contains", "'a\\*b'", "xxa*bxx", True),
        ("f|contains", "'a\\*b'", "xxaQQbxx", False),
        ("f|contains|all", "[curl, python]", "curl/8 python/3", True),
        ("f|contains|all", "[curl, python]", "curl/8", False),
        ("f|contains", "[curl, python]", "python/3", True),
    ],
)
def test_string_values(
    compile_rule: CompileRule,
    matches: Matches,
    key: str,
    value: str,
    candidate: str,
    expected: bool,
) -> None:
    rule = single_field_rule(compile_rule, key, value)
    assert matches(rule, {"f": candidate}) is expected


@pytest.mark.parametrize(
    ("key", "value", "candidate", "expected"),
    [
        ("f|re", "'a.c'", "xxabcxx", True),
        ("f|re", "'^a.c$'", "xxabcxx", False),
        ("f|re", "'a.c'", "ABC", False),
        ("f|re|i", "'a.c'", "xABCx", True),
        ("f|re", "'^b$'", "a\nb\nc", False),
        ("f|re|m", "'^b$'", "a\nb\nc", True),
        ("f|re", "'a.b'", "a\nb", False),
        ("f|re|s", "'a.b'", "a\nb", True),
        ("f|re", "'^\\d+$'", 22, True),
        ("f|re", "'^(AKIA|ASIA)[A-Z0-9]{16}$'", "AKIAIOSFODNN7EXAMPLE", True),
        ("f|re", "'^(AKIA|ASIA)[A-Z0-9]{16}$'", "akiaiosfodnn7example", False),
        ("f|re", "Admin", "xAdminx", True),
        ("f|re", "Admin", "xadminx", False),
        ("f|re|i", "Admin", "xADMINx", True),
        ("f|re", "'(?i)admin'", "ADMIN", True),
        ("f|re", "'ab+c'", "abbbc", True),
        ("f|re", "'colou?r'", "color", True),
        ("f|re", "'a{2}bc'", "aabc", True),
        ("f|re", "'xy*z'", "xz", True),
        ("f|re", "'(abc)?def'", "def", True),
        ("f|re", "'\\.amazonaws\\.com$'", "ec2.amazonaws.com", True),
        ("f|re", "'\\.amazonaws\\.com$'", "ec2-amazonaws.com", False),
        ("f|re", "'foo|bar'", "xbarx", True),
        ("f|re", "'[Ss]ecret'", "getSecretValue", True),
        # RE2 folds case beyond lower(): `s` matches the long s, `k` the Kelvin sign
        ("f|re|i", "sss", "\u017f\u017f\u017f", True),
        ("f|re", "'(?i)sss'", "\u017f\u017f\u017f", True),
        ("f|re|contains|i", "kelvin", "0 \u212aelvin", True),
        ("f|re|i", "sss", "\u017f\u017f", False),
        # lower() of a word ending in a capital sigma is not a part of lower() of a longer word
        ("f|re", "'\u0391\u0391\u03a3'", "\u0391\u0391\u03a3\u0391", True),
        # contains, startswith and endswith: anywhere, at the start, at the end of the value
        ("f|re|contains", "sqlmap", "sqlmap/1.7.2#stable (https://sqlmap.org)", True),
        ("f|re|contains", "sqlmap", "Mozilla/5.0 (X11; Linux x86_64)", False),
        ("f|re|contains", "sqlmap", "SQLMAP/1.7", False),
        ("f|re|contains", "sqlmap", "first line\nrun by sqlmap\nlast line", True),
        ("f|re|contains|i", "sqlmap", "SQLMap/1.7", True),
        ("f|re|contains|i", "sqlmap", "curl/8.0", False),
        ("f|re|i|contains", "sqlmap", "x SQLMAP x", True),
        ("f|re|i|contains", "sqlmap", "curl/8.0", False),
        ("f|re|contains", "'sql[a-z]+/\\d'", "x sqlmap/1 x", True),
        ("f|re|contains", "'sql[a-z]+/\\d'", "x sqlmap/x x", False),
        ("f|re|contains", "'nikto|sqlmap'", "x sqlmap x", True),
        ("f|re|contains", "'nikto|sqlmap'", "x curl x", False),
        ("f|re|contains", "'^arn:'", "arn:aws:iam::1:root", True),
        ("f|re|contains", "'^arn:'", "x arn:aws", False),
        ("f|re|contains", "'\\.com$'", "ec2.amazonaws.com", True),
        ("f|re|contains", "'\\.com$'", "ec2.amazonaws.com.evil", False),
        ("f|re|startswith", "'sql[a-z]+'", "sqlmap/1.7", True),
        ("f|re|startswith", "'sql[a-z]+'", "run sqlmap", False),
        ("f|re|startswith", "'sql[a-z]+'", "curl/8.0", False),
        ("f|re|startswith", "'nikto|sqlmap'", "sqlmap/1.7", True),
        ("f|re|startswith", "'nikto|sqlmap'", "x nikto", False),
        ("f|re|startswith", "abc", "abc\nxyz", True),
        ("f|re|startswith|i", "abc", "ABCdef", True),
        ("f|re|startswith", "'colou?r'", "colour chart", True),
        ("f|re|startswith", "'colou?r'", "the color", False),
        ("f|re|endswith", "'\\.amazonaws\\.com'", "ec2.amazonaws.com", True),
        ("f|re|endswith", "'\\.amazonaws\\.com'", "ec2.amazonaws.com.evil", False),
        ("f|re|endswith", "'\\.amazonaws\\.com'", "curl/8.0", False),
        ("f|re|endswith", "'nikto|sqlmap'", "run nikto", True),
        ("f|re|endswith", "'nikto|sqlmap'", "nikto run", False),
        ("f|re|endswith", "xyz", "abc\nxyz", True),
    ],
)
def test_regular_expressions_honour_case_flags_and_position_modifiers(
    compile_rule: CompileRule,
    matches: Matches,
    key: str,
    value: str,
    candidate: Any,
    expected: bool,
) -> None:
    rule = single_field_rule(compile_rule, key, value)
    assert matches(rule, {"f": candidate}) is expected


def test_catastrophic_regex_returns_on_a_long_string(
    compile_rule: CompileRule, matches: Matches
) -> None:
    # Backtracking engines take exponential time on this; RE2 is linear.
    rule = single_field_rule(compile_rule, "f|re", "'(a+)+$'")
    assert not matches(rule, {"f": "a" * 100_000 + "!"})
    assert matches(rule, {"f": "!" + "a" * 100_000})


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?=x)", "(?<!x)y", "(?>a)"])
def test_regex_outside_re2_is_a_compile_error(pattern: str) -> None:
    with pytest.raises(CompileError, match="not valid RE2"):
        compile_regex(pattern)


@pytest.mark.parametrize(
    ("network", "address", "expected"),
    [
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("203.0.113.0/24", "203.0.113.77", True),
        ("203.0.113.0/24", "ec2.amazonaws.com", False),
        ("203.0.113.0/24", "AWS Internal", False),
        ("203.0.113.0/24", "", False),
        ("10.0.0.0/8", "::ffff:10.0.0.1", False),
        ("10.0.0.0/8", "2001:db8::1", False),
        ("'2001:db8::/32'", "2001:db8:1::1", True),
        ("'2001:db8::/32'", "2001:db9::1", False),
        ("'2001:db8::/32'", "10.0.0.1", False),
        ("10.0.0.0/8", "10.1.0.0/16", True),
        ("10.0.0.0/8", "0.0.0.0/0", False),
        ("0.0.0.0/0", "203.0.113.0/24", True),
        ("0.0.0.0/0", "::/0", False),
        ("10.0.0.0/8", "10.0.0.0/33", False),
    ],
)
def test_cidr_matches_addresses_and_networks_inside_the_network(
    compile_rule: CompileRule, matches: Matches, network: str, address: str, expected: bool
) -> None:
    rule = single_field_rule(compile_rule, "sourceIPAddress|cidr", network)
    assert matches(rule, {"sourceIPAddress": address}) is expected


def test_cidr_ignores_non_strings(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "sourceIPAddress|cidr", "0.0.0.0/0")
    assert not matches(rule, {"sourceIPAddress": 167772161})
    assert not matches(rule, {"sourceIPAddress": None})
    assert not matches(rule, {})


def test_cidr_list_is_or(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "sourceIPAddress|cidr", "[10.0.0.0/8, 192.168.0.0/16]")
    assert matches(rule, {"sourceIPAddress": "192.168.1.1"})
    assert matches(rule, {"sourceIPAddress": "10.9.9.9"})
    assert not matches(rule, {"sourceIPAddress": "203.0.113.1"})


@pytest.mark.parametrize(
    ("record", "exists_true", "exists_false"),
    [
        ({"errorCode": "AccessDenied"}, True, False),
        ({"errorCode": ""}, True, False),
        ({"errorCode": 0}, True, False),
        ({"errorCode": False}, True, False),
        ({"errorCode": {}}, True, False),
        ({"errorCode": []}, True, False),
        ({"errorCode": [[]]}, True, False),
        ({"errorCode": None}, False, True),
        ({}, False, True),
    ],
)
def test_exists(
    compile_rule: CompileRule,
    matches: Matches,
    record: Record,
    exists_true: bool,
    exists_false: bool,
) -> None:
    present = single_field_rule(compile_rule, "errorCode|exists", "true")
    absent = single_field_rule(compile_rule, "errorCode|exists", "false")
    assert matches(present, record) is exists_true
    assert matches(absent, record) is exists_false


def test_exists_on_a_nested_path(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "userIdentity.invokedBy|exists", "true")
    assert matches(rule, {"userIdentity": {"invokedBy": "autoscaling.amazonaws.com"}})
    assert not matches(rule, {"userIdentity": {"type": "IAMUser"}})
    assert not matches(rule, {"userIdentity": "not an object"})
    assert not matches(rule, {})


@pytest.mark.parametrize(
    ("key", "value", "candidate", "expected"),
    [
        ("f|gt", "5", 6, True),
        ("f|gt", "5", 5, False),
        ("f|gt", "5", "6", True),
        ("f|gt", "5", "5.5", True),
        ("f|gt", "5", "five", False),
        ("f|gt", "5", True, False),
        ("f|gt", "5", None, False),
        ("f|gte", "5", 5, True),
        ("f|gte", "5", 4.9, False),
        ("f|lt", "1024", 22, True),
        ("f|lt", "1024", "22", True),
        ("f|lt", "1024", 1024, False),
        ("f|lte", "1024", 1024, True),
        ("f|lte", "1024", 1025, False),
        ("f|gt", "-1", 0, True),
        ("f|lt", "0.5", 0.25, True),
    ],
)
def test_numeric_comparisons(
    compile_rule: CompileRule,
    matches: Matches,
    key: str,
    value: str,
    candidate: Any,
    expected: bool,
) -> None:
    rule = single_field_rule(compile_rule, key, value)
    assert matches(rule, {"f": candidate}) is expected


def test_comparison_on_absent_field_does_not_match(
    compile_rule: CompileRule, matches: Matches
) -> None:
    assert not matches(single_field_rule(compile_rule, "f|gt", "0"), {})
    assert not matches(single_field_rule(compile_rule, "f|lt", "0"), {})


@pytest.mark.parametrize(
    ("value", "candidate", "expected"),
    [
        ("5", 6, True),
        ("5", 5, False),
        ("5", "5", False),
        ("AccessDenied", "Throttling", True),
        ("AccessDenied", "AccessDenied", False),
        ("AccessDenied", "accessdenied", False),
    ],
)
def test_neq_matches_other_values(
    compile_rule: CompileRule, matches: Matches, value: str, candidate: Any, expected: bool
) -> None:
    rule = single_field_rule(compile_rule, "f|neq", value)
    assert matches(rule, {"f": candidate}) is expected


def test_neq_is_the_negation_of_equality_so_an_absent_field_matches(
    compile_rule: CompileRule, matches: Matches
) -> None:
    # pySigma turns `f|neq: v` into `not f: v`, as backends do; an absent field is not v.
    assert matches(single_field_rule(compile_rule, "f|neq", "AccessDenied"), {})


def test_fieldref_compares_two_fields_case_insensitively(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(
        compile_rule, "requestParameters.userName|fieldref", "userIdentity.userName"
    )
    same = {"userIdentity": {"userName": "Alice"}, "requestParameters": {"userName": "alice"}}
    other = {"userIdentity": {"userName": "alice"}, "requestParameters": {"userName": "bob"}}
    missing = {"userIdentity": {"userName": "alice"}}
    assert matches(rule, same)
    assert not matches(rule, other)
    assert not matches(rule, missing)
    assert not matches(rule, {})


def test_fieldref_is_exact_not_contains(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "a|fieldref", "b")
    assert not matches(rule, {"a": "alice-admin", "b": "alice"})
    assert matches(rule, {"a": 22, "b": "22"})


@pytest.mark.parametrize(
    ("modifiers", "inside", "at_start", "at_end"),
    [
        ("fieldref|contains", True, True, True),
        ("fieldref|startswith", False, True, False),
        ("fieldref|endswith", False, False, True),
    ],
)
def test_fieldref_with_contains_startswith_endswith(
    compile_rule: CompileRule,
    matches: Matches,
    modifiers: str,
    inside: bool,
    at_start: bool,
    at_end: bool,
) -> None:
    rule = single_field_rule(compile_rule, f"arn|{modifiers}", "userName")
    user = "Alice"
    assert (
        matches(rule, {"arn": "arn:aws:iam::123456789012:user/alice-ops", "userName": user})
        == inside
    )
    assert matches(rule, {"arn": "alice:ops", "userName": user}) == at_start
    assert matches(rule, {"arn": "user/alice", "userName": user}) == at_end
    assert not matches(rule, {"arn": "user/bob", "userName": user})


def test_base64_matches_the_encoded_value(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "f|base64", "'curl http://x'")
    assert matches(rule, {"f": base64.b64encode(b"curl http://x").decode()})
    assert not matches(rule, {"f": "curl http://x"})
    assert not matches(rule, {"f": base64.b64encode(b"curl http://y").decode()})


@pytest.mark.parametrize("prefix", [b"", b"#", b"#!", b"#!/bin/sh\n"])
def test_base64offset_contains_finds_the_value_at_any_alignment(
    compile_rule: CompileRule, matches: Matches, prefix: bytes
) -> None:
    rule = single_field_rule(compile_rule, "f|base64offset|contains", "'169.254.169.254'")
    encoded = base64.b64encode(prefix + b"curl http://169.254.169.254/latest/meta-data").decode()
    innocent = base64.b64encode(prefix + b"curl http://203.0.113.254/latest/meta-data").decode()
    assert matches(rule, {"f": encoded})
    assert not matches(rule, {"f": innocent})


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("aws s3 cp -recursive", True),
        ("aws s3 cp /recursive", True),
        ("aws s3 cp \u2013recursive", True),
        ("aws s3 cp \u2014recursive", True),
        ("aws s3 cp recursive", False),
    ],
)
def test_windash_accepts_every_dash_variant(
    compile_rule: CompileRule, matches: Matches, candidate: str, expected: bool
) -> None:
    rule = single_field_rule(compile_rule, "f|windash|contains", "' -recursive'")
    assert matches(rule, {"f": candidate}) is expected


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        ("hour", 3, True),
        ("hour", 4, False),
        ("minute", 7, True),
        ("day", 30, True),
        ("month", 7, True),
        ("month", 8, False),
        ("year", 2024, True),
        ("week", 31, True),
    ],
)
def test_timestamp_parts_of_event_time(
    compile_rule: CompileRule, matches: Matches, modifier: str, value: int, expected: bool
) -> None:
    rule = single_field_rule(compile_rule, f"eventTime|{modifier}", str(value))
    assert matches(rule, {"eventTime": "2024-07-30T03:07:21Z"}) is expected


def test_timestamp_part_ignores_what_is_not_a_timestamp(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(compile_rule, "eventTime|hour", "3")
    assert not matches(rule, {"eventTime": "yesterday at three"})
    assert not matches(rule, {"eventTime": 3})
    assert not matches(rule, {})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({}, True),
        ({"f": None}, True),
        ({"f": ""}, False),
        ({"f": "x"}, False),
        ({"f": 0}, False),
        ({"f": []}, False),
    ],
)
def test_null_matches_absent_or_json_null(
    compile_rule: CompileRule, matches: Matches, record: Record, expected: bool
) -> None:
    assert matches(single_field_rule(compile_rule, "f", "null"), record) is expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [({}, False), ({"f": None}, False), ({"f": ""}, True), ({"f": " "}, False), ({"f": 0}, False)],
)
def test_empty_string_matches_only_the_empty_string(
    compile_rule: CompileRule, matches: Matches, record: Record, expected: bool
) -> None:
    assert matches(single_field_rule(compile_rule, "f", "''"), record) is expected


@pytest.mark.parametrize(
    ("value", "candidate", "expected"),
    [
        ("false", False, True),
        ("false", "false", True),
        ("false", "False", True),
        ("false", True, False),
        ("false", "true", False),
        ("false", 0, False),
        ("false", None, False),
        ("true", True, True),
        ("true", "true", True),
        ("true", 1, False),
    ],
)
def test_booleans_match_json_booleans_and_their_strings(
    compile_rule: CompileRule, matches: Matches, value: str, candidate: Any, expected: bool
) -> None:
    rule = single_field_rule(compile_rule, "f", value)
    assert matches(rule, {"f": candidate}) is expected


def test_mfa_authenticated_false_as_cloudtrail_writes_it(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(
        compile_rule, "userIdentity.sessionContext.attributes.mfaAuthenticated", "false"
    )
    record = {"userIdentity": {"sessionContext": {"attributes": {"mfaAuthenticated": "false"}}}}
    assert matches(rule, record)
    record["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] = "true"
    assert not matches(rule, record)


@pytest.mark.parametrize(
    ("value", "candidate", "expected"),
    [
        ("22", 22, True),
        ("22", "22", True),
        ("22", 22.0, True),
        ("22", 23, False),
        ("22", "twenty-two", False),
        ("22", True, False),
        ("'22'", 22, True),
        ("'22'", "22", True),
        ("'22'", 23, False),
        ("'true'", True, True),
        ("1.5", "1.5", True),
        ("1.5", 1.5, True),
    ],
)
def test_numbers_and_strings_compare_as_written(
    compile_rule: CompileRule, matches: Matches, value: str, candidate: Any, expected: bool
) -> None:
    rule = single_field_rule(compile_rule, "f", value)
    assert matches(rule, {"f": candidate}) is expected


def test_null_in_a_list_of_values(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "errorCode", "[null, AccessDenied]")
    assert matches(rule, {})
    assert matches(rule, {"errorCode": "accessdenied"})
    assert not matches(rule, {"errorCode": "Throttling"})


def test_dotted_field_walks_nested_objects(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(compile_rule, "userIdentity.type", "Root")
    assert matches(rule, {"userIdentity": {"type": "Root"}})
    assert not matches(rule, {"userIdentity": {"type": "IAMUser"}})
    assert not matches(rule, {"userIdentity": "Root"})
    assert not matches(rule, {"userIdentity": None})
    assert not matches(rule, {"type": "Root"})


def test_key_that_literally_contains_dots_is_found(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(compile_rule, "userIdentity.type", "Root")
    assert matches(rule, {"userIdentity.type": "Root"})


AUTHORIZE_INGRESS: Record = {
    "eventVersion": "1.08",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "AuthorizeSecurityGroupIngress",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.20",
    "userIdentity": {"type": "IAMUser", "accountId": "123456789012", "userName": "alice"},
    "requestParameters": {
        "groupId": "sg-04cfb7a4712d75b00",
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 443,
                    "toPort": 443,
                    "groups": {},
                    "ipRanges": {
                        "items": [
                            {"cidrIp": "10.0.0.0/8", "description": "internal"},
                            {"cidrIp": "0.0.0.0/0", "description": "TLS from Internet"},
                        ]
                    },
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                },
                {
                    "ipProtocol": "tcp",
                    "fromPort": 22,
                    "toPort": 22,
                    "ipRanges": {"items": [{"cidrIp": "203.0.113.0/24"}]},
                },
            ]
        },
    },
}


def test_dotted_path_fans_out_over_lists(compile_rule: CompileRule, matches: Matches) -> None:
    rule = single_field_rule(
        compile_rule, "requestParameters.ipPermissions.items.ipRanges.items.cidrIp", "0.0.0.0/0"
    )
    assert matches(rule, AUTHORIZE_INGRESS)


def test_dotted_path_over_lists_does_not_match_when_no_element_does(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(
        compile_rule, "requestParameters.ipPermissions.items.ipRanges.items.cidrIp", "'::/0'"
    )
    assert not matches(rule, AUTHORIZE_INGRESS)


def test_fan_out_with_modifiers(compile_rule: CompileRule, matches: Matches) -> None:
    port = single_field_rule(compile_rule, "requestParameters.ipPermissions.items.fromPort", "22")
    low = single_field_rule(compile_rule, "requestParameters.ipPermissions.items.toPort|lt", "100")
    high = single_field_rule(
        compile_rule, "requestParameters.ipPermissions.items.toPort|gt", "1000"
    )
    assert matches(port, AUTHORIZE_INGRESS)
    assert matches(low, AUTHORIZE_INGRESS)
    assert not matches(high, AUTHORIZE_INGRESS)


def test_null_on_a_fanned_out_path_holds_when_any_element_lacks_it(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(
        compile_rule, "requestParameters.ipPermissions.items.ipRanges.items.description", "null"
    )
    assert matches(rule, AUTHORIZE_INGRESS)


def test_list_valued_top_level_field_matches_any_element(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(compile_rule, "resources.ARN|endswith", ":trail/main")
    record = {
        "resources": [
            {"ARN": "arn:aws:s3:::logs"},
            {"ARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"},
        ]
    }
    assert matches(rule, record)
    tags = single_field_rule(compile_rule, "tags", "prod")
    assert matches(tags, {"tags": ["dev", ["PROD"]]})
    assert not matches(tags, {"tags": ["dev"]})


def test_field_names_reach_only_record_keys_never_attributes(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(compile_rule, "__class__.__name__", "dict")
    assert not matches(rule, {"eventName": "x"})
    assert matches(rule, {"__class__": {"__name__": "dict"}})


def test_rule_values_are_data_never_evaluated(
    compile_rule: CompileRule, matches: Matches, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def record_call(command: str) -> int:
        calls.append(command)
        return 0

    monkeypatch.setattr(os, "system", record_call)
    payload = "__import__('os').system('x')"
    rule = compile_rule(f"""
        selection:
          userAgent: "{payload}"
        contains:
          requestParameters.name|contains: "{payload}"
        condition: selection or contains
    """)
    assert matches(rule, {"userAgent": payload})
    assert matches(rule, {"requestParameters": {"name": f"a {payload} b"}})
    assert not matches(rule, {"userAgent": "x"})
    assert calls == []


def test_numeric_like_wildcard_values_stay_strings(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(compile_rule, "f", "'2*'")
    assert matches(rule, {"f": 22})
    assert matches(rule, {"f": "2abc"})
    assert not matches(rule, {"f": 32})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("f", "''"),
        ("f", "'*'"),
        ("f|contains", "''"),
        ("f|re", "'.*'"),
        ("f|cidr", "0.0.0.0/0"),
        ("f|gte", "0"),
        ("f|fieldref", "g"),
    ],
)
def test_an_empty_list_is_present_but_matches_no_value(
    compile_rule: CompileRule, matches: Matches, key: str, value: str
) -> None:
    rule = single_field_rule(compile_rule, key, value)
    assert not matches(rule, {"f": [], "g": []})


def test_wildcard_star_alone_needs_a_present_value(
    compile_rule: CompileRule, matches: Matches
) -> None:
    rule = single_field_rule(compile_rule, "f", "'*'")
    assert matches(rule, {"f": ""})
    assert not matches(rule, {"f": None})
    assert not matches(rule, {})
