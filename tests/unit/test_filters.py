"""Sigma filters as allowlists: applied to the rules they name, checked like rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rules import WriteRule, rule_text
from trailhound.authoring.loader import load_rules
from trailhound.cli import main
from trailhound.engine.ruleset import RuleSet

REPO = Path(__file__).resolve().parents[2]

SECURITY_GROUP_RULE = rule_text(
    """
    selection:
      eventSource: ec2.amazonaws.com
      eventName: AuthorizeSecurityGroupIngress
    condition: selection
    """
)
OTHER_RULE = rule_text(
    "selection:\n  eventName: AuthorizeSecurityGroupIngress\ncondition: selection"
)


def terraform_filter(rules: str = "[ec2_security_group_opened]", enabled: str = "true") -> str:
    return f"""\
title: Terraform may change security groups
enabled: {enabled}
logsource:
  product: aws
  service: cloudtrail
filter:
  rules: {rules}
  terraform:
    userIdentity.sessionContext.sessionIssuer.userName: terraform
  condition: not terraform
"""


def event(issuer: str) -> dict[str, object]:
    return {
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "userIdentity": {"sessionContext": {"sessionIssuer": {"userName": issuer}}},
    }


def matched(folder: Path, record: dict[str, object]) -> list[str]:
    loaded = load_rules([folder])
    assert loaded.errors == []
    return sorted(rule.rule_id for rule in RuleSet(loaded.rules).match(record).matched)


def test_a_filter_silences_only_the_rules_it_names(write_rule: WriteRule) -> None:
    rule = write_rule(SECURITY_GROUP_RULE, name="ec2_security_group_opened.yml")
    write_rule(OTHER_RULE, name="other_rule.yml")
    write_rule(terraform_filter(), name="filters/terraform.yml")
    assert matched(rule.parent, event("terraform")) == ["other_rule"]
    assert matched(rule.parent, event("alice")) == ["ec2_security_group_opened", "other_rule"]


def test_any_applies_to_every_rule(write_rule: WriteRule) -> None:
    rule = write_rule(SECURITY_GROUP_RULE, name="ec2_security_group_opened.yml")
    write_rule(OTHER_RULE, name="other_rule.yml")
    write_rule(terraform_filter(rules="any"), name="filters/terraform.yml")
    assert matched(rule.parent, event("terraform")) == []


def test_a_filter_can_name_a_rule_by_its_sigma_id(write_rule: WriteRule) -> None:
    uuid = "5f1a3c3e-7d3a-4f5e-9b1d-0c2b3a4d5e6f"
    rule = write_rule(f"id: {uuid}\n" + SECURITY_GROUP_RULE, name="ec2_security_group_opened.yml")
    write_rule(terraform_filter(rules=f"[{uuid}]"), name="filters/terraform.yml")
    assert matched(rule.parent, event("terraform")) == []


def test_a_disabled_filter_changes_nothing(write_rule: WriteRule) -> None:
    rule = write_rule(SECURITY_GROUP_RULE, name="ec2_security_group_opened.yml")
    write_rule(terraform_filter(enabled="false"), name="filters/terraform.yml")
    assert matched(rule.parent, event("terraform")) == ["ec2_security_group_opened"]


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_a_filter_naming_a_missing_rule_is_an_error_at_its_line(
    write_rule: WriteRule, enabled: str
) -> None:
    rule = write_rule(SECURITY_GROUP_RULE, name="ec2_security_group_opened.yml")
    path = write_rule(
        terraform_filter(rules="\n    - ec2_security_group_opend", enabled=enabled),
        name="filters/terraform.yml",
    )
    loaded = load_rules([rule.parent])
    assert [str(error) for error in loaded.errors] == [
        f"{path}:8: filter names rule 'ec2_security_group_opend', which is not loaded"
    ]
    assert [compiled.rule_id for compiled in loaded.rules] == ["ec2_security_group_opened"]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (terraform_filter().replace("userName:", "userName|containz:"), 9, "unknown modifier"),
        (terraform_filter().replace("product: aws", "product: windows"), 3, "logsource"),
        (terraform_filter().replace("title:", "titel:"), 1, "did you mean 'title'"),
        (terraform_filter().replace("  rules: [ec2_security_group_opened]\n", ""), 6, "'rules'"),
        (terraform_filter().replace("enabled: true", "enabled: maybe"), 2, "enabled"),
    ],
)
def test_a_broken_filter_is_rejected_with_file_and_line(
    write_rule: WriteRule, text: str, line: int, fragment: str
) -> None:
    rule = write_rule(SECURITY_GROUP_RULE, name="ec2_security_group_opened.yml")
    path = write_rule(text, name="filters/terraform.yml")
    loaded = load_rules([rule.parent])
    assert len(loaded.errors) == 1
    error = loaded.errors[0]
    assert (error.path, error.line) == (path, line)
    assert fragment in error.message
    assert [compiled.rule_id for compiled in loaded.rules] == ["ec2_security_group_opened"]


def test_rule_tests_run_with_the_filter_applied(
    write_rule: WriteRule, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = write_rule(
        SECURITY_GROUP_RULE
        + "tests:\n  - name: terraform opens a port\n    expect: true\n"
        + "    event:\n      eventSource: ec2.amazonaws.com\n"
        + "      eventName: AuthorizeSecurityGroupIngress\n"
        + "      userIdentity: {sessionContext: {sessionIssuer: {userName: terraform}}}\n",
        name="ec2_security_group_opened.yml",
    )
    write_rule(terraform_filter(), name="filters/terraform.yml")
    assert main(["test", str(rule.parent)]) == 1
    out = capsys.readouterr().out
    assert "expected a match, got none" in out
    assert "filter terraform: yes" in out


def test_the_shipped_example_filter_is_disabled_and_valid() -> None:
    loaded = load_rules([REPO / "rules"])
    example = [item for item in loaded.filters if item.filter_id == "ci_runner_terminations"]
    assert len(example) == 1 and not example[0].enabled
    assert loaded.errors == []
