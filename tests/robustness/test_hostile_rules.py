"""Hostile rule files are refused with a clear error, and never stop the other rules loading.

The cases are those of tests/robustness/hostile_rules.py, which also measures their time and memory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.robustness.hostile_rules import ADVERSARIAL_TEXT, CASES, RULES, Case, write_case
from trailhound.authoring.catalogue import load_catalogue
from trailhound.authoring.lint import MAX_UNKNOWN_NAMES, lint
from trailhound.authoring.loader import load_rules
from trailhound.authoring.validation import MAX_CONDITION_DEPTH


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_hostile_rule_file_is_refused_with_its_reason_or_loads_harmless(
    case: Case, tmp_path: Path
) -> None:
    path = write_case(case, tmp_path)

    result = load_rules([path])

    if case.refusal is None:
        (compiled,) = result.rules
        assert not result.errors
        assert compiled.condition.predicate({"userAgent": ADVERSARIAL_TEXT}) in (True, False)
    else:
        (error,) = result.errors
        assert not result.rules
        assert case.refusal in error.message
        assert str(error).startswith(f"{path}:")
        assert "\n" not in error.message


def test_every_hostile_file_beside_the_rules_leaves_every_good_rule_loaded(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    good = {compiled.rule_id for compiled in load_rules([rules]).rules}
    hostile = {write_case(case, rules).stem: case for case in CASES}

    result = load_rules([rules])

    loaded = {compiled.rule_id for compiled in result.rules}
    harmless = {stem for stem, case in hostile.items() if case.refusal is None}
    assert loaded == good | harmless
    assert {error.path.stem for error in result.errors} == set(hostile) - harmless


def test_a_condition_at_the_nesting_limit_loads(tmp_path: Path) -> None:
    condition = (
        "not (" * (MAX_CONDITION_DEPTH // 2) + "selection" + ")" * (MAX_CONDITION_DEPTH // 2)
    )
    path = write_case(Case("at the limit", lambda: _with_condition(condition), None), tmp_path)

    (compiled,) = load_rules([path]).rules

    assert compiled.condition.predicate({"eventName": "DeleteBucket"}) is True


def test_a_parser_crash_in_one_file_is_an_error_for_that_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigma.rule import SigmaRule

    original = SigmaRule.from_dict

    def exhausted(data: dict[str, object], *args: object, **kwargs: object) -> SigmaRule:
        if data.get("title") == "Hostile rule":
            raise RecursionError("maximum recursion depth exceeded")
        return original(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SigmaRule, "from_dict", exhausted)
    shutil.copy(RULES / "s3" / "s3_bucket_deleted.yml", tmp_path)
    write_case(Case("crash", lambda: _with_condition("selection"), None), tmp_path)

    result = load_rules([tmp_path])

    assert [compiled.rule_id for compiled in result.rules] == ["s3_bucket_deleted"]
    (error,) = result.errors
    assert error.message == "rule not loaded: RecursionError: maximum recursion depth exceeded"


def test_lint_reports_the_first_unknown_names_and_counts_the_rest(tmp_path: Path) -> None:
    names = "".join(f"      - NoSuchApi{index}*\n" for index in range(100))
    detection = f"detection:\n  selection:\n    eventName:\n{names}  condition: selection\n"
    path = tmp_path / "names.yml"
    path.write_text(_header() + detection)

    report = lint([path], load_catalogue())

    messages = [error.message for error in report.errors]
    assert len(messages) == MAX_UNKNOWN_NAMES + 1
    assert f"{100 - MAX_UNKNOWN_NAMES:,} more eventName/eventSource values unknown" in messages[0]
    assert "'NoSuchApi0*' is not an AWS API call" in messages[1]


def test_lint_still_knows_wildcard_names_of_one_source(tmp_path: Path) -> None:
    detection = (
        "detection:\n  selection:\n    eventSource: s3.amazonaws.com\n"
        "    eventName: [DeleteBucket*, PutBucket?cl, Nothing*Like*This]\n"
        "  condition: selection\n"
    )
    path = tmp_path / "wildcards.yml"
    path.write_text(_header() + detection)

    report = lint([path], load_catalogue())

    assert ["Nothing*Like*This" in error.message for error in report.errors] == [True]


def _header() -> str:
    return "title: Hostile rule\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: high\n"


def _with_condition(condition: str) -> bytes:
    return (
        _header() + "detection:\n  selection:\n    eventName: DeleteBucket\n"
        f"  condition: {condition}\n"
    ).encode()
