"""`trailhound lint`: API names checked against botocore, warnings vs errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.corpus import SIGMAHQ_RULES
from tests.support.rules import WriteRule, rule_text
from trailhound.authoring.lint import lint
from trailhound.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_a_misspelt_event_name_is_reported_at_its_line_with_a_suggestion(
    write_rule: WriteRule,
) -> None:
    path = write_rule(
        rule_text(
            """
            selection:
              eventSource: ec2.amazonaws.com
              eventName: TerminateInstance
            condition: selection
            """
        )
    )
    report = lint([path])
    assert [str(error) for error in report.errors] == [
        f"{path}:9: warning: eventName 'TerminateInstance' is not an API of the rule's "
        "eventSource; did you mean 'TerminateInstances'?"
    ]
    assert not report.failed()
    assert report.failed(strict=True)


def test_a_misspelt_event_source_is_reported(write_rule: WriteRule) -> None:
    path = write_rule(
        rule_text("selection:\n  eventSource: ec2.amazonaws.cm\ncondition: selection")
    )
    (error,) = lint([path]).errors
    assert "eventSource 'ec2.amazonaws.cm'" in error.message
    assert "did you mean 'ec2.amazonaws.com'" in error.message


def test_a_name_logged_by_another_service_says_which(write_rule: WriteRule) -> None:
    path = write_rule(
        rule_text(
            """
            selection:
              eventSource: route53.amazonaws.com
              eventName: TransferDomainToAnotherAwsAccount
            condition: selection
            """
        )
    )
    (error,) = lint([path]).errors
    assert "route53domains.amazonaws.com" in error.message


def test_non_api_events_and_wildcards_are_known(write_rule: WriteRule) -> None:
    path = write_rule(
        rule_text(
            """
            login:
              eventSource: signin.amazonaws.com
              eventName: ConsoleLogin
            deletes:
              eventSource: s3.amazonaws.com
              eventName: DeleteBucket*
            condition: 1 of them
            """
        )
    )
    assert lint([path]).errors == []


def test_a_missing_test_event_file_is_an_error(write_rule: WriteRule) -> None:
    path = write_rule(
        rule_text(
            "selection:\n  eventName: ConsoleLogin\ncondition: selection",
            "tests:\n  - name: from a file\n    expect: true\n    event: events/none.json\n",
        )
    )
    (error,) = lint([path]).errors
    assert not error.warning
    assert "events/none.json" in error.message
    assert error.line == 13


def test_the_shipped_rules_lint_clean_even_strictly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--strict", str(REPO / "rules")]) == 0
    assert capsys.readouterr().out == ""


def test_the_sigmahq_pack_lints_with_warnings_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(SIGMAHQ_RULES)]) == 0
    output = capsys.readouterr()
    assert "0 errors" in output.err
    assert all(": warning: " in line for line in output.out.splitlines())
    assert main(["lint", "--strict", str(SIGMAHQ_RULES)]) == 1


def test_a_broken_rule_fails_lint_and_names_file_and_line(
    write_rule: WriteRule, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_rule(rule_text("selection:\n  eventName|containz: x\ncondition: selection"))
    assert main(["lint", str(path)]) == 1
    assert f"{path}:8: unknown modifier 'containz'" in capsys.readouterr().out
