"""The self-watch rules see the pipeline's resources only by `trailhound` in their names."""

from __future__ import annotations

from pathlib import Path

from trailhound.authoring.loader import load_rules
from trailhound.lambda_function.selfwatch import names_unseen, watches_itself

REPO = Path(__file__).resolve().parents[2]


def test_names_without_the_mark_are_reported_in_any_case() -> None:
    names = [
        "Trailhound-AlertFunction-1A2B",
        "arn:aws:sns:us-east-1:123456789012:security-AlertTopic-9Z8Y",
        None,
        "",
    ]
    assert names_unseen(names) == ["arn:aws:sns:us-east-1:123456789012:security-AlertTopic-9Z8Y"]


def test_the_rules_about_the_pipeline_itself_are_recognised_and_shipped() -> None:
    self_watch = {
        "lambda_trailhound_function_changed",
        "lambda_trailhound_function_disabled",
        "sns_trailhound_topic_changed",
        "sns_trailhound_topic_subscribed",
    }
    shipped = {compiled.rule_id for compiled in load_rules([REPO / "rules"]).rules}
    assert self_watch <= shipped
    assert all(watches_itself([rule_id]) for rule_id in self_watch)
    assert not watches_itself(["s3_bucket_deleted", "signin_root_console_login"])
