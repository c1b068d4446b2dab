from pathlib import Path

import pytest

from trailhound.errors import SettingsError
from trailhound.lambda_function.settings import DEFAULT_TTL_SECONDS, load_settings

TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:trailhound-alerts"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RULES_PATHS", "LAMBDA_TASK_ROOT", "IDEMPOTENCY_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALERT_TOPIC_ARN", TOPIC_ARN)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "trailhound-idempotency")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "trailhound")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "trailhound")


def test_settings_come_from_the_environment_with_defaults() -> None:
    settings = load_settings()

    assert settings.alert_topic_arn == TOPIC_ARN
    assert settings.idempotency_table == "trailhound-idempotency"
    assert settings.idempotency_ttl_seconds == DEFAULT_TTL_SECONDS == 6 * 3600
    assert settings.rules_paths == ("rules",)


def test_rule_paths_are_found_under_the_task_root_unless_absolute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("RULES_PATHS", " rules , /opt/rules,, packs/sigmahq ")

    assert load_settings().rule_paths == [
        Path("/var/task/rules"),
        Path("/opt/rules"),
        Path("/var/task/packs/sigmahq"),
    ]


def test_rule_paths_without_a_task_root_are_found_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    assert load_settings().rule_paths == [tmp_path / "rules"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ALERT_TOPIC_ARN", "trailhound-alerts", "ALERT_TOPIC_ARN: Value error, not the ARN"),
        ("ALERT_TOPIC_ARN", TOPIC_ARN + ".fifo", "ALERT_TOPIC_ARN: Value error, not the ARN"),
        ("IDEMPOTENCY_TTL_SECONDS", "30", "IDEMPOTENCY_TTL_SECONDS: Input should be greater"),
        ("RULES_PATHS", " , ", "RULES_PATHS: Value error, names no rule folder"),
        ("POWERTOOLS_METRICS_NAMESPACE", "", "POWERTOOLS_METRICS_NAMESPACE: String should have"),
        ("POWERTOOLS_LOG_LEVEL", "LOUD", "POWERTOOLS_LOG_LEVEL: Input should be 'DEBUG'"),
    ],
)
def test_a_wrong_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_settings_are_read_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN")

    with pytest.raises(SettingsError, match="ALERT_TOPIC_ARN: Field required"):
        load_settings()
    monkeypatch.setenv("ALERT_TOPIC_ARN", TOPIC_ARN)
    assert load_settings().alert_topic_arn == TOPIC_ARN


def test_the_log_level_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "debug")

    assert load_settings().powertools_log_level == "DEBUG"
