"""Rule bundles: the same rules as the files, and never used once the files have changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.lambda_stack import function_environment
from tests.support.rules import rule_text
from trailhound.authoring.bundle import write_bundle
from trailhound.authoring.loader import load_rules
from trailhound.cli import main
from trailhound.engine.bundle import read_bundle
from trailhound.engine.ruleset import RuleSet
from trailhound.errors import BundleForOtherFolders, BundleUnusable
from trailhound.lambda_function.runtime import load_rules_or_bundle

ROOT = Path(__file__).resolve().parents[2]
ROOT_LOGIN = {
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root"},
    "responseElements": {"ConsoleLogin": "Success"},
}


@pytest.fixture
def rule_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    return folder


def verdicts(ruleset: RuleSet, records: list[dict[str, Any]]) -> list[list[str]]:
    return [sorted(rule.rule_id for rule in ruleset.match(record).matched) for record in records]


def test_a_bundle_matches_every_event_as_the_rule_files_do(
    tmp_path: Path, sigmahq_rules_dir: Path, corpus_records: list[dict[str, Any]]
) -> None:
    folders = [tmp_path / "rules", tmp_path / "sigmahq"]
    shutil.copytree(ROOT / "rules", folders[0])
    shutil.copytree(sigmahq_rules_dir, folders[1])
    bundle = tmp_path / "rules.bundle.json"
    from_files = write_bundle(bundle, folders)
    from_bundle = read_bundle(bundle, folders)

    # Ids, titles, severities, tags, runbooks, filters: all the rule says of itself.
    assert [rule.rule for rule in from_bundle.rules] == [rule.rule for rule in from_files.rules]
    assert [rule.condition.requirement for rule in from_bundle.rules] == [
        rule.condition.requirement for rule in from_files.rules
    ]
    files_verdicts = verdicts(RuleSet(from_files.rules), corpus_records)
    assert verdicts(RuleSet(from_bundle.rules), corpus_records) == files_verdicts
    assert sum(map(len, files_verdicts)) > 100  # the corpus does set the rules off


def test_filters_and_disabled_rules_survive_the_bundle(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "root_login.yml").write_text(
        rule_text("selection:\n  userIdentity.type: Root\ncondition: selection")
    )
    (folder / "off.yml").write_text(
        rule_text("selection:\n  eventName: ConsoleLogin\ncondition: selection", "enabled: false")
    )
    (folder / "allow_lab.yml").write_text(
        "title: The lab account logs in as root\nlogsource:\n  product: aws\n"
        "  service: cloudtrail\nfilter:\n  rules: [root_login]\n  lab:\n"
        "    recipientAccountId: '111111111111'\n  condition: not lab\n"
    )
    bundle = tmp_path / "rules.bundle.json"
    write_bundle(bundle, [folder])
    loaded = read_bundle(bundle, [folder])

    assert [rule.rule_id for rule in loaded.disabled] == ["off"]
    (rule,) = loaded.rules
    assert rule.rule.filters == ("allow_lab",)
    ruleset = RuleSet(loaded.rules)
    assert ruleset.match(ROOT_LOGIN).matched
    assert not ruleset.match({**ROOT_LOGIN, "recipientAccountId": "111111111111"}).matched


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda folder: (folder / "signin" / "signin_root_console_login.yml").write_text(
                "level: low\n"
            ),
            "edited",
        ),
        (lambda folder: (folder / "signin" / "signin_root_console_login.yml").unlink(), "removed"),
        (
            lambda folder: shutil.copy(folder / "s3" / "s3_bucket_deleted.yml", folder / "x.yml"),
            "added",
        ),
    ],
    ids=["edited", "removed", "added"],
)
def test_a_bundle_is_not_used_once_a_rule_file_changed(
    rule_folder: Path, change: Any, reason: str
) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])
    change(rule_folder)

    with pytest.raises(BundleUnusable, match=reason):
        read_bundle(bundle, [rule_folder])
    loaded, why = load_rules_or_bundle([rule_folder], [bundle])
    assert why is not None and reason in str(why)
    # What loads is what the files say now.
    assert [str(error) for error in loaded.errors] == [
        str(error) for error in load_rules([rule_folder]).errors
    ]


def test_a_bundle_is_used_only_for_the_folders_it_was_built_from(
    rule_folder: Path, sigmahq_rules_dir: Path
) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])

    with pytest.raises(BundleForOtherFolders, match="was built for"):
        read_bundle(bundle, [rule_folder, sigmahq_rules_dir])


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: text.replace('"format":1', '"format":0'),
        lambda text: text.replace('"severity":"high"', '"severity":"urgent"', 1),
        lambda text: text.replace('"condition":["any"', '"condition":["some"', 1),
    ],
    ids=["truncated", "older-format", "bad-severity", "bad-condition"],
)
def test_a_damaged_bundle_falls_back_to_the_rule_files(rule_folder: Path, damage: Any) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])
    text = bundle.read_text()
    assert damage(text) != text
    bundle.write_text(damage(text))

    loaded, why = load_rules_or_bundle([rule_folder], [bundle])

    assert why is not None
    assert len(loaded.rules) == len(load_rules([rule_folder]).rules) > 0


def test_an_unreadable_rule_file_leaves_the_bundle_for_the_files_to_report(
    rule_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])
    unreadable = rule_folder / "s3" / "s3_bucket_deleted.yml"
    read_bytes = Path.read_bytes

    def read_or_refuse(path: Path) -> bytes:
        if path == unreadable:  # What a file without read permission does (root reads all).
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_or_refuse)
    loaded, why = load_rules_or_bundle([rule_folder], [bundle])

    assert why is not None and "PermissionError" in str(why)
    assert [error.path for error in loaded.errors] == [unreadable]
    assert len(loaded.rules) == len(json.loads(bundle.read_text())["rules"]) - 1


def test_a_rule_file_that_turns_into_a_folder_leaves_the_bundle_for_the_files(
    rule_folder: Path,
) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])
    target = rule_folder / "s3" / "s3_bucket_deleted.yml"
    target.unlink()
    target.mkdir()

    loaded, why = load_rules_or_bundle([rule_folder], [bundle])

    assert why is not None and "removed" in str(why)
    assert "s3_bucket_deleted" not in {rule.rule_id for rule in loaded.rules}


def test_errors_in_rule_files_are_kept_in_the_bundle(rule_folder: Path) -> None:
    (rule_folder / "broken.yml").write_text(
        rule_text("selection:\n  eventName|contians: x\ncondition: selection")
    )
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])

    loaded = read_bundle(bundle, [rule_folder])
    assert [str(error) for error in loaded.errors] == [
        str(error) for error in load_rules([rule_folder]).errors
    ]
    assert loaded.errors[0].path == rule_folder / "broken.yml"
    assert "contians" in loaded.errors[0].message


def test_the_bundle_command_writes_a_bundle_and_fails_on_broken_rules(
    rule_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = rule_folder.parent / "build" / "rules.bundle.json"
    assert main(["bundle", "--output", str(bundle), str(rule_folder)]) == 0
    rules = len(read_bundle(bundle, [rule_folder]).rules)
    assert f"{rules} rules, 0 disabled, 0 errors" in capsys.readouterr().err

    (rule_folder / "broken.yml").write_text("title: [unclosed\n")
    assert main(["bundle", "--output", str(bundle), str(rule_folder)]) == 1
    assert f"{rule_folder / 'broken.yml'}:2: invalid YAML" in capsys.readouterr().out


def test_of_several_bundles_the_one_built_for_the_folders_is_used(
    rule_folder: Path, sigmahq_rules_dir: Path
) -> None:
    alone = rule_folder.parent / "rules.bundle.json"
    both = rule_folder.parent / "rules-sigmahq.bundle.json"
    write_bundle(alone, [rule_folder])
    write_bundle(both, [rule_folder, sigmahq_rules_dir])
    missing = rule_folder.parent / "missing.bundle.json"
    bundles = [missing, alone, both]

    loaded, why = load_rules_or_bundle([rule_folder, sigmahq_rules_dir], bundles)
    assert why is None
    assert len(loaded.rules) == len(load_rules([rule_folder, sigmahq_rules_dir]).rules)

    loaded, why = load_rules_or_bundle([sigmahq_rules_dir], [alone, both])
    assert isinstance(why, BundleForOtherFolders)  # a choice of folders, said at INFO
    assert len(loaded.rules) == len(load_rules([sigmahq_rules_dir]).rules)

    (rule_folder / "s3" / "s3_bucket_deleted.yml").unlink()
    loaded, why = load_rules_or_bundle([rule_folder], bundles)
    assert why is not None and not isinstance(why, BundleForOtherFolders)
    assert "removed rules/s3/s3_bucket_deleted.yml" in str(why)
    assert "cannot read" in str(why)  # the missing one is named too


def test_the_handler_loads_a_current_bundle_without_parsing_yaml_or_sigma(
    rule_folder: Path,
) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])
    more = rule_folder.parent / "more"
    more.mkdir()
    shutil.copy(rule_folder / "s3" / "s3_bucket_deleted.yml", more / "another_bucket_rule.yml")
    with_more = rule_folder.parent / "rules-more.bundle.json"
    write_bundle(with_more, [rule_folder, more])
    script = (
        "import json, sys\n"
        "from trailhound.lambda_function import handler\n"
        "runtime = handler.runtime_for(handler.load_settings())\n"
        "print(json.dumps({'rules': len(runtime.ruleset.rules),\n"
        "  'parsers': sorted({'sigma', 'yaml', 'pyparsing'} & set(sys.modules))}))\n"
    )
    env = function_environment(RULES_PATHS=str(rule_folder), RULES_BUNDLES=f"{bundle},{with_more}")

    def run(**changes: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**env, **changes},
            capture_output=True,
            text=True,
            check=True,
        )
        *logged, last = done.stdout.strip().splitlines()
        messages = {entry["message"]: entry for entry in map(json.loads, logged)}
        return json.loads(last), messages

    fast, logs = run()
    assert fast == {"rules": len(load_rules([rule_folder]).rules), "parsers": []}
    assert logs["rules loaded"]["source"] == "bundle"

    both, logs = run(RULES_PATHS=f"{rule_folder},{more}")
    assert both == {"rules": fast["rules"] + 1, "parsers": []}
    assert logs["rules loaded"]["source"] == "bundle"

    # Folders no bundle was built for are a choice of configuration: said, not warned about.
    other_folders, logs = run(RULES_PATHS=f"{more},{rule_folder}")
    assert other_folders["parsers"] and logs["rules loaded"]["source"] == "files"
    assert logs["rule bundle not used: the rule files are loaded"]["level"] == "INFO"

    (rule_folder / "signin" / "signin_root_console_login.yml").unlink()
    slow, logs = run()
    assert slow["rules"] == fast["rules"] - 1 and slow["parsers"]
    unused = logs["rule bundle not used: the rule files are loaded"]
    assert unused["level"] == "WARNING"
    assert "removed rules/signin/signin_root_console_login.yml" in unused["reason"]


def test_a_bundle_rule_that_cannot_be_built_fails_alone_when_first_needed(
    rule_folder: Path,
) -> None:
    bundle = rule_folder.parent / "rules.bundle.json"
    write_bundle(bundle, [rule_folder])
    text = bundle.read_text()
    broken = text.replace('["re","^(p|g|gr|inf|trn|dl|vt|f)\\\\d"', '["re","(unclosed"', 1)
    assert broken != text
    bundle.write_text(broken)

    loaded, why = load_rules_or_bundle([rule_folder], [bundle])
    ruleset = RuleSet(loaded.rules)
    launch = {
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "requestParameters": {"instanceType": "p4d.24xlarge"},
    }
    result = ruleset.match(launch)

    assert why is None  # The tree is of known forms: the bundle is used, its rules built lazily.
    assert [failure.rule_id for failure in result.failures] == [
        "ec2_unusual_instance_type_launched"
    ]
    assert "not valid RE2" in result.failures[0].error
    assert [rule.rule_id for rule in ruleset.match(ROOT_LOGIN).matched] == [
        rule.rule_id for rule in RuleSet(load_rules([rule_folder]).rules).match(ROOT_LOGIN).matched
    ]
