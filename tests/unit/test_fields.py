"""Field paths over nested CloudTrail objects, and the regex pre-test the compiler relies on."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.rule import SigmaDetectionItem

from trailhound.authoring.compiler import compile_conditions
from trailhound.engine.fields import EMPTY, MISSING, Values, each, field_reader
from trailhound.engine.regex import compile_regex, required_literal
from trailhound.errors import CompileError

SECURITY_GROUP_INGRESS = {
    "eventName": "AuthorizeSecurityGroupIngress",
    "requestParameters": {
        "groupId": "sg-0123456789abcdef0",
        "ipPermissions": {
            "items": [
                {"fromPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}},
                {
                    "fromPort": 3389,
                    "ipRanges": {"items": [{"cidrIp": "203.0.113.0/24"}, {"cidrIp": "0.0.0.0/0"}]},
                },
            ]
        },
    },
}


def test_a_path_through_objects_gives_the_value_itself() -> None:
    read = field_reader("requestParameters.groupId")
    assert read(SECURITY_GROUP_INGRESS) == "sg-0123456789abcdef0"


def test_a_path_through_lists_gives_every_value_on_the_way() -> None:
    read = field_reader("requestParameters.ipPermissions.items.ipRanges.items.cidrIp")
    found = read(SECURITY_GROUP_INGRESS)
    assert type(found) is Values
    assert list(found) == ["10.0.0.0/8", "203.0.113.0/24", "0.0.0.0/0"]


def test_an_absent_path_is_missing_not_null() -> None:
    assert field_reader("errorCode")(SECURITY_GROUP_INGRESS) is MISSING
    assert field_reader("requestParameters.nothing.here")(SECURITY_GROUP_INGRESS) is MISSING
    assert field_reader("eventName.length")(SECURITY_GROUP_INGRESS) is MISSING
    assert field_reader("responseElements")({"responseElements": None}) is None


def test_list_elements_without_the_field_count_as_missing() -> None:
    record = {"resources": [{"ARN": "arn:aws:s3:::a"}, {"type": "AWS::S3::Bucket"}]}
    assert list(each(field_reader("resources.ARN")(record))) == ["arn:aws:s3:::a", MISSING]


def test_an_empty_list_is_present_but_empty_and_nested_lists_are_flattened() -> None:
    assert field_reader("tags")({"tags": []}) is EMPTY
    assert field_reader("tags")({"tags": [[], []]}) is EMPTY
    assert list(field_reader("tags")({"tags": [["a"], ["b", ["c"]]]})) == ["a", "b", "c"]


def test_an_empty_list_on_the_way_leaves_the_field_missing() -> None:
    assert field_reader("resources.ARN")({"resources": []}) is MISSING
    record = {"resources": [{"ARN": []}, {"type": "AWS::S3::Bucket"}]}
    assert list(each(field_reader("resources.ARN")(record))) == [EMPTY, MISSING]


def test_a_key_that_holds_dots_is_found_as_written() -> None:
    assert field_reader("a.b")({"a.b": "flat", "a": {"b": "nested"}}) == "flat"


def test_required_literal_reads_top_level_literals_only() -> None:
    assert required_literal(".+:assumed-role/aws:.+") == ":assumed-role/aws:"
    assert required_literal(r"^arn:aws:iam::\d+:root$") == "arn:aws:iam::"
    assert required_literal("foo?bar") == "bar"
    assert required_literal("abc|def") is None
    assert required_literal(r"\x41bcdef") is None
    assert required_literal("ab+cd") is None


_PIECES = st.sampled_from(
    ["a", "b", "c", "ab", ".", "*", "+", "?", "|", "(", ")", "[ab]", r"\.", r"\d", "{2}", "(?i)"]
)


@settings(max_examples=600, deadline=None)
@given(pattern=st.lists(_PIECES, max_size=8).map("".join), text=st.text("abcABC.1 ", max_size=12))
def test_the_pre_test_never_rules_out_a_value_the_regex_matches(pattern: str, text: str) -> None:
    try:
        compiled = compile_regex(pattern)
    except Exception:
        return
    needle = required_literal(pattern, shortest=1)
    if needle is not None and compiled.search(text) is not None:
        assert needle.lower() in text.lower(), (pattern, text, needle)


_WORDS = st.sampled_from(["abc", "sss", "kk", "\u0391\u0391\u03a3", ".", "*", "?", "|", "(", ")"])


@settings(max_examples=600, deadline=None)
@given(
    pattern=st.lists(_WORDS | _PIECES, max_size=6).map("".join),
    text=st.text("abcsSkK \u017f\u212a\u0391\u03a3\u03b1\u03c3\u03c2", max_size=12),
    ignore_case=st.booleans(),
)
def test_a_regex_value_matches_exactly_what_re2_finds(
    pattern: str, text: str, ignore_case: bool
) -> None:
    flags = "i" if ignore_case else ""
    try:
        compiled = compile_regex(pattern, flags)
    except Exception:
        return
    item = SigmaDetectionItem.from_mapping(f"f|re{'|i' if ignore_case else ''}", pattern)
    condition = ConditionFieldEqualsValueExpression("f", item.value[0])
    holds = compile_conditions([condition]).predicate({"f": text})
    assert holds is (compiled.search(text) is not None), (pattern, flags, text)


def test_re2_rejects_backtracking_features() -> None:
    for pattern in [r"(a)\1", "(?=a)b"]:
        try:
            compile_regex(pattern)
        except CompileError:
            continue
        raise AssertionError(f"{pattern} compiled")
    assert re2.compile("(a+)+$").search("a" * 100_000 + "b") is None
