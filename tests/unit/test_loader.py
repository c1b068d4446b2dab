"""Loading rule files: what loads, and how every broken file is rejected with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.rules import WriteRule, rule_text
from trailhound.authoring.loader import load_rule_file, load_rules
from trailhound.authoring.yamlsource import MAX_RULE_FILE_BYTES, MAX_YAML_DEPTH
from trailhound.engine.rule import LoadResult, Severity, find_rule_files
from trailhound.errors import RuleFileError, RuleProblem

BROKEN_RULES = Path(__file__).parent / "broken_rules"

GOOD_RULE = rule_text("""
    selection:
      eventSource: cloudtrail.amazonaws.com
      eventName: StopLogging
    condition: selection
""")
STOP_LOGGING = {"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"}

# file stem → (line of the problem, fragment of the message)
BROKEN: dict[str, tuple[int, str]] = {
    "alert_key_typo": (11, "alert.titel: Extra inputs are not permitted"),
    "alias_bomb": (6, "anchors and aliases are not allowed"),
    "bad_level": (9, "'urgent' is not a valid Sigma rule level"),
    "bad_test_expect": (12, "tests.0.expect: Input should be a valid boolean"),
    "cidr_not_a_network": (
        11,
        "'sourceIPAddress|cidr': '10.0.0.300/8' does not appear to be an IPv4 or IPv6 network; "
        "'cidr' takes a network in CIDR notation",
    ),
    "comparison_on_text": (9, "'requestParameters.maxResults|gt': 'gt' takes a number, not 'lots'"),
    "condition_syntax": (8, "condition: Expected"),
    "contains_null": (9, "'errorCode|contains': 'contains' takes a string, not null; to match"),
    "correlation_rule": (3, "correlation rules are not supported"),
    "duplicate_key": (9, "duplicate key 'eventName'"),
    "empty": (1, "file is empty"),
    "expand_placeholder": (8, "modifier 'expand' in 'sourceIPAddress|expand'"),
    "filter_document": (5, "this is a Sigma filter, not a rule"),
    "invalid_yaml": (8, "invalid YAML"),
    "keyword_in_list_of_maps": (8, "keyword searches (values without a field) are not supported"),
    "keyword_string": (8, "detection 'keyword': keyword searches"),
    "keyword_search": (7, "detection 'keywords': keyword searches"),
    "merge_key": (9, "merge keys (<<) are not allowed"),
    "missing_condition": (5, "must contain at least one condition"),
    "missing_level": (1, "missing 'level'"),
    "missing_logsource": (1, "missing 'logsource'"),
    "modifier_without_field": (8, "'|contains' has modifiers but no field name"),
    "nested_mapping_value": (9, "'requestParameters': values are strings, numbers, booleans"),
    "not_a_mapping": (1, "a rule file must be a YAML mapping"),
    "not_utf8": (7, "not valid UTF-8"),
    "regex_backreference": (8, "'(a)\\\\1' is not valid RE2"),
    "regex_flag_without_re": (9, "'userAgent|i': 'i' is a flag of regular expressions"),
    "regex_lookahead": (10, "'^(?=admin)' is not valid RE2"),
    "regex_not_a_string": (9, "'requestParameters.maxCount|re': 're' takes a pattern written"),
    "rule_collection": (1, "rule collections (action: global/reset/repeat) are not supported"),
    "two_documents": (10, "one rule per file: found more than one YAML document"),
    "unknown_identifier": (10, "Detection 'filter_admin' not defined"),
    "unknown_modifier": (8, "unknown modifier 'contians' in 'userAgent|contians'; did you mean"),
    "unknown_test_key": (16, "tests.1.evnet: Extra inputs are not permitted"),
    "unknown_top_level_key": (10, "unknown top-level key 'runbok'; did you mean 'runbook'?"),
    "utf16_modifier": (9, "modifier 'utf16'"),
    "wide_modifier": (8, "modifier 'wide'"),
    "windows_logsource": (2, "trailhound only matches AWS CloudTrail"),
    "yaml_anchor": (7, "anchors and aliases are not allowed"),
}


def rejection(path: Path) -> list[RuleProblem]:
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    return caught.value.errors


def test_every_broken_rule_file_has_an_expectation() -> None:
    assert sorted(path.stem for path in BROKEN_RULES.glob("*.yml")) == sorted(BROKEN)


@pytest.mark.parametrize(
    ("stem", "line", "fragment"),
    [pytest.param(stem, line, fragment, id=stem) for stem, (line, fragment) in BROKEN.items()],
)
def test_broken_rule_is_rejected_naming_file_and_line(stem: str, line: int, fragment: str) -> None:
    path = BROKEN_RULES / f"{stem}.yml"
    errors = rejection(path)
    assert errors
    assert all(error.path == path for error in errors)
    assert all(str(error).startswith(f"{path}:") for error in errors)
    found = [(error.line, error.message) for error in errors]
    assert any(at == line and fragment in message for at, message in found), found


def test_unknown_modifier_suggests_the_closest_one() -> None:
    (error,) = rejection(BROKEN_RULES / "unknown_modifier.yml")
    assert error.message.endswith("did you mean 'contains'?")


def test_keyword_search_reports_each_keyword_line() -> None:
    errors = rejection(BROKEN_RULES / "keyword_search.yml")
    assert [error.line for error in errors] == [7, 8]


def test_test_with_unknown_key_reports_the_misspelt_key_and_the_missing_one() -> None:
    errors = rejection(BROKEN_RULES / "unknown_test_key.yml")
    messages = {error.line: error.message for error in errors}
    assert messages[14] == "tests.1.event: Field required"
    assert messages[16].startswith("tests.1.evnet")


def test_regex_errors_point_at_the_list_item_and_print_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    (error,) = rejection(BROKEN_RULES / "regex_lookahead.yml")
    assert error.line == 10
    assert "RE2 has no backreferences or lookaround" in error.message
    # RE2's C++ logging would otherwise write to the process's stderr on every bad pattern.
    assert "re2" not in capfd.readouterr().err


def test_bad_regex_in_a_list_of_maps_points_at_its_key(write_rule: WriteRule) -> None:
    path = write_rule(
        rule_text(
            """
            selection:
              - eventName: CreateUser
              - eventName: CreateAccessKey
                requestParameters.userName|re|i: '(\\w+)-\\1'
            condition: selection
            """
        )
    )
    (error,) = rejection(path)
    assert error.line == 10
    assert "'requestParameters.userName|re|i'" in error.message


@pytest.mark.parametrize(
    ("key", "pattern", "advice"),
    [
        ("userAgent|re|startswith", "'sqlmap.*'", "a pattern beginning with '^'"),
        ("userAgent|re|startswith|i", "'sqlmap$'", "a pattern beginning with '^'"),
        ("userAgent|re|endswith", "'.*sqlmap'", "a pattern ending with '$'"),
        ("userAgent|re|endswith", "'^sqlmap'", "a pattern ending with '$'"),
    ],
)
def test_regex_that_startswith_or_endswith_cannot_anchor_is_rejected_at_its_line(
    write_rule: WriteRule, key: str, pattern: str, advice: str
) -> None:
    path = write_rule(
        rule_text(
            f"""
            selection:
              eventName: GetObject
              {key}:
                - nikto
                - {pattern}
            condition: selection
            """
        )
    )
    (error,) = rejection(path)
    assert error.line == 11
    assert error.message.startswith(f"{key!r}: '{key.split('|')[2]}' adds nothing to")
    assert error.message.endswith(f"write 'userAgent|re' with {advice} instead")


def test_alias_bomb_is_rejected_before_expansion() -> None:
    # Expanded, the bomb is 9**9 strings: finishing at all shows it was never built.
    (error,) = rejection(BROKEN_RULES / "alias_bomb.yml")
    assert "aliases" in error.message


def test_file_over_the_size_limit_is_rejected(write_rule: WriteRule) -> None:
    padding = "# padding\n" * (MAX_RULE_FILE_BYTES // 10 + 1)
    path = write_rule(GOOD_RULE + padding)
    (error,) = rejection(path)
    assert f"at most {MAX_RULE_FILE_BYTES:,}" in error.message
    assert str(error).startswith(f"{path}:1: ")


def test_file_at_the_size_limit_loads(write_rule: WriteRule) -> None:
    text = GOOD_RULE + "#" * (MAX_RULE_FILE_BYTES - len(GOOD_RULE) - 1) + "\n"
    path = write_rule(text)
    assert path.stat().st_size == MAX_RULE_FILE_BYTES
    assert load_rule_file(path).rule_id == path.stem


def test_deep_nesting_is_rejected(write_rule: WriteRule) -> None:
    nested = "[" * (MAX_YAML_DEPTH + 5) + "]" * (MAX_YAML_DEPTH + 5)
    (error,) = rejection(write_rule(GOOD_RULE + f"description: {nested}\n"))
    assert f"nesting deeper than {MAX_YAML_DEPTH} levels" in error.message
    assert error.line == 11


def test_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (error,) = rejection(tmp_path / "absent.yml")
    assert "cannot read file" in error.message


def test_several_problems_in_one_file_are_all_reported(write_rule: WriteRule) -> None:
    path = write_rule("""\
        title: Several problems
        logsource:
          product: gcp
          service: audit
        detection:
          selection:
            eventName|startwith: x
          condition: selection
        tests:
          - name: x
            expect: maybe
            event: {}
    """)
    lines = sorted(error.line or 0 for error in rejection(path))
    assert lines == [1, 2, 7, 11]


def test_rule_id_is_the_file_stem_and_metadata_is_kept(write_rule: WriteRule) -> None:
    path = write_rule(
        """\
        title: CloudTrail logging stopped
        id: 4db60cc0-36fb-42b7-9b58-a5b53019fb74
        description: |
          Someone stopped a trail.
        references:
          - https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html
        tags:
          - attack.defense-evasion
          - attack.t1562.008
        logsource:
          product: aws
          service: cloudtrail
        detection:
          selection:
            eventName: StopLogging
          condition: selection
        falsepositives:
          - Trail maintenance
        level: high
        alert:
          title: "Trail stopped by {userIdentity.arn}"
        runbook: Restart the trail.
        tests:
          - name: stopping fires
            expect: true
            event: {eventName: StopLogging}
        """,
        name="cloudtrail/cloudtrail_logging_stopped.yml",
    )
    loaded = load_rule_file(path)
    rule = loaded.rule
    assert rule.rule_id == "cloudtrail_logging_stopped"
    assert rule.path == path
    assert rule.title == "CloudTrail logging stopped"
    assert rule.severity is Severity.HIGH
    assert rule.sigma_id == "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
    assert rule.description == "Someone stopped a trail."
    assert rule.tags == ("attack.defense-evasion", "attack.t1562.008")
    assert rule.falsepositives == ("Trail maintenance",)
    assert rule.references[0].endswith("API_StopLogging.html")
    assert rule.title_template == "Trail stopped by {userIdentity.arn}"
    assert rule.runbook == "Restart the trail."
    assert rule.enabled
    assert [test.name for test in loaded.tests] == ["stopping fires"]
    assert loaded.document.line_of("detection", "selection", "eventName") == 15


def test_logsource_match_is_case_insensitive(write_rule: WriteRule) -> None:
    path = write_rule(GOOD_RULE.replace("product: aws", "product: AWS"))
    assert load_rule_file(path).rule_id == path.stem


def test_logsource_service_must_be_cloudtrail(write_rule: WriteRule) -> None:
    path = write_rule(GOOD_RULE.replace("service: cloudtrail", "service: guardduty"))
    (error,) = rejection(path)
    assert error.line == 2
    assert "service=guardduty" in error.message


def test_unknown_top_level_key_without_close_match_has_no_hint(write_rule: WriteRule) -> None:
    (error,) = rejection(write_rule(GOOD_RULE + "zzzzzz: 1\n"))
    assert error.message == "unknown top-level key 'zzzzzz'"
    assert error.line == 11


def test_enabled_false_loads_into_disabled(write_rule: WriteRule) -> None:
    write_rule(GOOD_RULE, name="on.yml")
    off = write_rule(GOOD_RULE + "enabled: false\n", name="off.yml")
    result = load_rules([off.parent])
    assert [rule.rule_id for rule in result.rules] == ["on"]
    assert [rule.rule_id for rule in result.disabled] == ["off"]
    assert result.errors == []
    assert result.files == 2


def test_one_broken_rule_never_blinds_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(BROKEN_RULES, folder / "broken")
    (folder / "a_good.yml").write_text(GOOD_RULE, encoding="utf-8")
    (folder / "z_good.yml").write_text(GOOD_RULE, encoding="utf-8")
    result = load_rules([folder])
    assert sorted(rule.rule_id for rule in result.rules) == ["a_good", "z_good"]
    assert all(rule.condition.predicate(STOP_LOGGING) for rule in result.rules)
    assert {error.path.stem for error in result.errors} == set(BROKEN)
    assert result.files == len(BROKEN) + 2


def test_duplicate_rule_ids_across_files_are_errors(tmp_path: Path) -> None:
    first = tmp_path / "a" / "stop_logging.yml"
    second = tmp_path / "b" / "stop_logging.yml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(GOOD_RULE, encoding="utf-8")
    result = load_rules([tmp_path])
    assert [rule.rule.path for rule in result.rules] == [first]
    (error,) = result.errors
    assert error.path == second
    assert error.line == 1
    assert "duplicate rule id 'stop_logging'" in error.message
    assert str(first) in error.message


def test_duplicate_sigma_ids_across_files_load_only_the_first(tmp_path: Path) -> None:
    sigma_id = "5f0b6a1e-3c1d-4a8e-9a51-0c6d2a9f4b7e"
    first = tmp_path / "a_stop_logging.yml"
    second = tmp_path / "b_delete_trail.yml"
    first.write_text(f"id: {sigma_id}\n{GOOD_RULE}", encoding="utf-8")
    second.write_text(
        "title: Trail deleted\n"
        f"id: {sigma_id.upper()}\n"
        + rule_text("""
            selection:
              eventName: DeleteTrail
            condition: selection
        """).removeprefix("title: Test rule\n"),
        encoding="utf-8",
    )
    result = load_rules([tmp_path])
    assert [rule.rule.path for rule in result.rules] == [first]
    (error,) = result.errors
    assert error.path == second
    assert error.line == 2
    assert f"duplicate Sigma id {sigma_id}: also the id of {first}" in error.message
    assert "only that rule is loaded, not this one" in error.message


def test_find_rule_files_skips_hidden_and_other_files(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", "sub/c.yml", ".hidden/d.yml", "sub/.e.yml", "notes.md"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GOOD_RULE, encoding="utf-8")
    found = [path.relative_to(tmp_path).as_posix() for path in find_rule_files([tmp_path])]
    assert found == ["a.yaml", "b.yml", "sub/c.yml"]


def test_a_file_given_by_name_is_loaded_whatever_its_suffix(write_rule: WriteRule) -> None:
    path = write_rule(GOOD_RULE, name="rule.txt")
    result = load_rules([path])
    assert [rule.rule_id for rule in result.rules] == ["rule"]


def test_sigmahq_cloudtrail_rules_all_load(sigmahq_rules_dir: Path) -> None:
    result: LoadResult = load_rules([sigmahq_rules_dir])
    assert [str(error) for error in result.errors] == []
    assert result.files == 57
    assert len(result.rules) + len(result.disabled) == 57
