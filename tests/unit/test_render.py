import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from trailhound.alerts.build import build_alert
from trailhound.alerts.model import Alert
from trailhound.delivery.chat import render_chat
from trailhound.delivery.email import SUBJECT_MAX_CHARS, render_excerpt, render_subject, render_text
from trailhound.engine.rule import Rule, Severity

TERMINATE_BY_ALICE: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID001",
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": "123456789012",
        "accessKeyId": "AKIAEXAMPLEKEYID0002",
        "userName": "alice",
    },
    "eventTime": "2024-07-30T21:31:21Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "TerminateInstances",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.42",
    "userAgent": "aws-cli/2.17.32 md/awscrt#0.21.2 ua/2.0 os/linux lang/python#3.11.9",
    "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718"}]}},
    "responseElements": None,
    "eventID": "450230d4-b39e-4a18-a6a0-d07a6e2105cb",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}

ASSUMED_ROLE_IDENTITY: dict[str, Any] = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEROLEID:ci",
    "arn": "arn:aws:sts::123456789012:assumed-role/ci-deployer/ci",
    "accountId": "123456789012",
    "accessKeyId": "ASIAEXAMPLEKEYID0001",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": "arn:aws:iam::123456789012:role/ci-deployer",
            "userName": "ci-deployer",
        },
        "attributes": {"mfaAuthenticated": "false"},
    },
}

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")


def make_alert(record: dict[str, Any], runbook: str | None = None, **rule: Any) -> Alert:
    fields: dict[str, Any] = {
        "rule_id": "aws_ec2_terminate_instances",
        "path": Path("rules/cloudtrail/ec2/aws_ec2_terminate_instances.yml"),
        "title": "EC2 instances terminated",
        "severity": Severity.HIGH,
        "runbook": runbook,
        "title_template": "EC2 instances terminated by {userIdentity.arn}",
    }
    fields.update(rule)
    return build_alert(Rule(**fields), record)


def labelled(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_render_text_starts_with_title_and_severity() -> None:
    lines = render_text(make_alert(TERMINATE_BY_ALICE)).splitlines()

    assert lines[0] == "EC2 instances terminated by arn:aws:iam::123456789012:user/alice"
    assert lines[1] == "Severity: HIGH"


def test_render_text_has_the_labelled_lines() -> None:
    fields = labelled(render_text(make_alert(TERMINATE_BY_ALICE)))

    assert fields["Who"] == "alice (IAMUser)"
    assert fields["ARN"] == "arn:aws:iam::123456789012:user/alice"
    assert fields["Key"] == "AKIAEXAMPLEKEYID0002"
    assert fields["From"] == (
        "203.0.113.42 · aws-cli/2.17.32 md/awscrt#0.21.2 ua/2.0 os/linux lang/python#3.11.9"
    )
    assert fields["What"] == "ec2:TerminateInstances"
    assert fields["Resources"] == "i-0a1b2c3d4e5f60718"
    assert fields["When"] == "2024-07-30 21:31:21 UTC"
    assert fields["Where"] == "account 123456789012 · us-east-1"
    assert fields["Console"] == (
        "https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1"
        "#/events/450230d4-b39e-4a18-a6a0-d07a6e2105cb"
    )


def test_render_text_omits_lines_whose_value_is_null() -> None:
    text = render_text(make_alert(TERMINATE_BY_ALICE))

    assert "Issuer:" not in text
    assert "MFA:" not in text
    assert "Runbook" not in text
    assert "None" not in text


def test_render_text_shows_the_session_issuer_of_an_assumed_role() -> None:
    record = {**TERMINATE_BY_ALICE, "userIdentity": ASSUMED_ROLE_IDENTITY}

    fields = labelled(render_text(make_alert(record)))

    assert fields["Who"] == "ci-deployer (AssumedRole)"
    assert fields["Issuer"] == "arn:aws:iam::123456789012:role/ci-deployer"
    assert fields["MFA"] == "no"


def test_render_text_prints_unknown_for_missing_who_what_when_where() -> None:
    text = render_text(make_alert({}))
    fields = labelled(text)

    assert fields["Who"] == "unknown"
    assert fields["What"] == "unknown"
    assert fields["When"] == "unknown"
    assert fields["Where"] == "unknown"
    assert set(fields) == {"Severity", "Who", "What", "When", "Where"}
    assert "None" not in text


def test_render_text_marks_a_failed_call_with_its_error() -> None:
    record = {
        **TERMINATE_BY_ALICE,
        "errorCode": "Client.UnauthorizedOperation",
        "errorMessage": "You are not authorized to perform this operation. " + "x" * 500,
    }

    what = labelled(render_text(make_alert(record)))["What"]

    assert what.startswith(
        "ec2:TerminateInstances FAILED Client.UnauthorizedOperation: You are not authorized"
    )
    assert len(what) < 200


def test_render_text_cuts_a_long_user_agent() -> None:
    record = {**TERMINATE_BY_ALICE, "userAgent": "Mozilla/5.0 " + "A" * 300}

    source = labelled(render_text(make_alert(record)))["From"]

    assert source.startswith("203.0.113.42 · Mozilla/5.0 AAA")
    assert len(source.split(" · ", 1)[1]) == 80


def test_render_text_caps_the_resource_list() -> None:
    items = [{"instanceId": f"i-{n:017x}"} for n in range(12)]
    record = {**TERMINATE_BY_ALICE, "requestParameters": {"instancesSet": {"items": items}}}

    resources = labelled(render_text(make_alert(record)))["Resources"]

    assert resources.startswith("i-00000000000000000, i-00000000000000001")
    assert resources.endswith("(+9 more)")


def test_render_text_has_the_runbook_after_a_blank_line() -> None:
    runbook = "1. Check the instance owner.\n   - tags: Owner, Team\n\n2. Restore from AMI."

    text = render_text(make_alert(TERMINATE_BY_ALICE, runbook=runbook))

    assert "\n\nRunbook:\n" + runbook + "\n\nEvent excerpt:\n" in text


def test_render_text_ends_with_an_excerpt_of_the_event() -> None:
    text = render_text(make_alert(TERMINATE_BY_ALICE))

    excerpt = text.split("\n\nEvent excerpt:\n")[1]
    assert "\n" not in excerpt
    assert json.loads(excerpt) == {
        "eventID": "450230d4-b39e-4a18-a6a0-d07a6e2105cb",
        "readOnly": False,
        "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718"}]}},
    }


def test_render_text_has_no_excerpt_when_the_event_has_nothing_for_it() -> None:
    assert "Event excerpt" not in render_text(make_alert({}))


def test_excerpt_keeps_request_parameters_json_without_disguising_characters() -> None:
    record = {
        **TERMINATE_BY_ALICE,
        "requestParameters": {"name": "a\nb\u202eexe.txt\u2028", "tag": "\x1b[2J"},
    }

    excerpt = render_excerpt(make_alert(record))

    assert not CONTROL.search(excerpt) and "\u2028" not in excerpt
    assert json.loads(excerpt)["requestParameters"] == {"name": "a\nbexe.txt", "tag": "\x1b[2J"}


def test_render_text_strips_control_characters_from_event_values() -> None:
    record = {
        **TERMINATE_BY_ALICE,
        "userAgent": "curl/8.5\r\nSeverity: LOW\x1b[2J\x07\u202e",
        "eventName": "Terminate\nInstances\x00",
        "sourceIPAddress": "203.0.113.66\t",
        "userIdentity": {**TERMINATE_BY_ALICE["userIdentity"], "userName": "mallory\n\nWho: root"},
        "resources": [{"ARN": "arn:aws:s3:::bucket\nConsole: https://evil.example"}],
    }

    text = render_text(make_alert(record, runbook="Step one.\x1b[31m\nStep two."))

    assert not CONTROL.search(text)
    fields = labelled(text)
    assert fields["Who"] == "mallory Who: root (IAMUser)"
    assert fields["What"] == "ec2:Terminate Instances"
    assert fields["From"] == "203.0.113.66 · curl/8.5 Severity: LOW[2J"
    assert fields["Resources"] == "arn:aws:s3:::bucket Console: https://evil.example"
    assert "Runbook:\nStep one.[31m\nStep two.\n\nEvent excerpt:\n{" in text
    assert [line.split(":")[0] for line in text.splitlines()[1:]] == [
        "Severity",
        "Who",
        "ARN",
        "Key",
        "From",
        "What",
        "Resources",
        "When",
        "Where",
        "Console",
        "",
        "Runbook",
        "Step one.[31m",
        "Step two.",
        "",
        "Event excerpt",
        '{"eventID"',
    ]


def test_subject_is_severity_and_title() -> None:
    subject = render_subject(make_alert(TERMINATE_BY_ALICE))

    assert subject == "[HIGH] EC2 instances terminated by arn:aws:iam::123456789012:user/alice"


def test_subject_is_ascii_without_control_characters_and_short() -> None:
    record = {
        **TERMINATE_BY_ALICE,
        "userAgent": "Café — 東京\r\n\x1b[2J\u202e" + "é" * 300,
    }

    subject = render_subject(make_alert(record, title_template="Login {userAgent} {userAgent}"))

    assert subject.isascii()
    assert not CONTROL.search(subject) and "\n" not in subject
    assert len(subject) <= SUBJECT_MAX_CHARS <= 100
    assert subject.startswith("[HIGH] Login Cafe - ?? [2Jeee")
    assert subject.endswith("...")


def test_subject_of_a_short_title_is_not_cut() -> None:
    alert = make_alert(TERMINATE_BY_ALICE, title_template="Déjà vu", severity=Severity.LOW)

    assert render_subject(alert) == "[LOW] Deja vu"
    assert all(unicodedata.category(char)[0] != "C" for char in render_subject(alert))


def test_chat_notification_has_the_chatbot_custom_notification_shape() -> None:
    chat = render_chat(make_alert(TERMINATE_BY_ALICE, runbook="1. Check.\n2. Contain."))

    assert chat["version"] == "1.0"
    assert chat["source"] == "custom"
    assert chat["content"]["textType"] == "client-markdown"
    assert set(chat["content"]) == {"textType", "title", "description", "nextSteps", "keywords"}
    assert set(chat["metadata"]) == {
        "threadId",
        "summary",
        "eventType",
        "relatedResources",
        "additionalContext",
    }
    assert chat["content"]["title"] == (
        "EC2 instances terminated by arn:aws:iam::123456789012:user/alice"
    )
    assert chat["content"]["keywords"] == ["HIGH", "aws_ec2_terminate_instances"]
    assert chat["metadata"]["summary"] == render_subject(make_alert(TERMINATE_BY_ALICE))
    assert chat["metadata"]["relatedResources"] == [
        "arn:aws:iam::123456789012:user/alice",
        "i-0a1b2c3d4e5f60718",
    ]
    assert chat["metadata"]["additionalContext"] == {
        "rule_id": "aws_ec2_terminate_instances",
        "severity": "high",
        "event_id": "450230d4-b39e-4a18-a6a0-d07a6e2105cb",
        "event_name": "TerminateInstances",
        "account_id": "123456789012",
        "region": "us-east-1",
        "principal_arn": "arn:aws:iam::123456789012:user/alice",
        "access_key_id": "AKIAEXAMPLEKEYID0002",
        "source_ip": "203.0.113.42",
    }


def test_chat_description_has_the_facts_in_code_spans_and_links_the_console() -> None:
    lines = render_chat(make_alert(TERMINATE_BY_ALICE))["content"]["description"].splitlines()

    assert lines[0] == "*Severity:* HIGH"
    assert "*Who:* `alice (IAMUser)`" in lines
    assert "*What:* `ec2:TerminateInstances`" in lines
    assert "*When:* `2024-07-30 21:31:21 UTC`" in lines
    assert "*Where:* `account 123456789012 · us-east-1`" in lines
    assert (
        "<https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1"
        "#/events/450230d4-b39e-4a18-a6a0-d07a6e2105cb|Open the event in the CloudTrail console>"
    ) in lines
    assert "*Rule:* `aws_ec2_terminate_instances`" in lines


def test_chat_next_steps_are_the_runbook_items_without_their_markers() -> None:
    runbook = (
        "1. Check the owner,\n   then the ticket.\n   - tags: Owner\n\n2. Restore.\n- Tell them."
    )

    steps = render_chat(make_alert(TERMINATE_BY_ALICE, runbook=runbook))["content"]["nextSteps"]

    assert steps == ["Check the owner, then the ticket. - tags: Owner", "Restore.", "Tell them."]


def test_chat_runbook_paragraphs_are_steps_too() -> None:
    runbook = "Call the owner.\nAsk about the change.\n\nRotate the keys."

    steps = render_chat(make_alert(TERMINATE_BY_ALICE, runbook=runbook))["content"]["nextSteps"]

    assert steps == ["Call the owner. Ask about the change.", "Rotate the keys."]


def test_chat_escapes_mentions_links_and_formatting_in_event_values() -> None:
    hostile = (
        "<!channel> <@U024BE7LH> @here *bold* _it_ ~strike~ `code` "
        "[click](https://evil.example/x) <https://evil.example|sign in>"
    )
    record = {
        **TERMINATE_BY_ALICE,
        "userAgent": hostile,
        "userIdentity": {**TERMINATE_BY_ALICE["userIdentity"], "userName": hostile},
        "requestParameters": {"bucketName": hostile},
    }

    chat = render_chat(make_alert(record, title_template="Call by {userAgent}"))

    title = chat["content"]["title"]
    assert title.startswith("Call by \u2039!channel\u203a \u2039\uff20U024BE7LH\u203a \uff20here")
    for marker in ("<", ">", "@here", "*", "~", "`", "](", "://"):
        assert marker not in title
    description = chat["content"]["description"]
    console_line = next(line for line in description.splitlines() if line.startswith("<https"))
    rest = description.replace(console_line, "")
    for marker in ("<", ">", "@here", "@U024"):
        assert marker not in rest
    # Each value stays inside one code span: no backtick from the value can close it early.
    for line in rest.splitlines():
        if line.startswith("*Who:*"):
            assert line.count("`") == 2
    everything = json.dumps(chat, ensure_ascii=False)
    assert "<!channel>" not in everything and "<https://evil" not in everything


def test_chat_keeps_email_addresses_and_underscores_inside_names() -> None:
    record = {
        **TERMINATE_BY_ALICE,
        "userIdentity": {
            **TERMINATE_BY_ALICE["userIdentity"],
            "arn": "arn:aws:sts::123456789012:assumed-role/ci_deployer/alice@example.com",
        },
    }

    chat = render_chat(make_alert(record))

    assert chat["content"]["title"] == (
        "EC2 instances terminated by "
        "arn:aws:sts::123456789012:assumed-role/ci_deployer/alice@example.com"
    )
    assert (
        "*ARN:* `arn:aws:sts::123456789012:assumed-role/ci_deployer/alice@example.com`"
        in chat["content"]["description"]
    )


def test_chat_shows_a_console_url_it_did_not_build_as_text() -> None:
    alert = make_alert(TERMINATE_BY_ALICE).model_copy(
        update={"console_url": "https://evil.example/cloudtrail|click"}
    )

    description = render_chat(alert)["content"]["description"]

    assert "*Console:* `https://evil.example/cloudtrail|click`" in description
    assert "<https://evil" not in description


def test_chat_threads_repeats_of_one_rule_and_principal() -> None:
    first = render_chat(make_alert(TERMINATE_BY_ALICE))
    again = render_chat(make_alert({**TERMINATE_BY_ALICE, "eventID": "another-event"}))
    other_rule = render_chat(make_alert(TERMINATE_BY_ALICE, rule_id="other_rule"))
    other_principal = render_chat(
        make_alert({**TERMINATE_BY_ALICE, "userIdentity": ASSUMED_ROLE_IDENTITY})
    )

    thread = first["metadata"]["threadId"]
    assert again["metadata"]["threadId"] == thread
    assert other_rule["metadata"]["threadId"] != thread
    assert other_principal["metadata"]["threadId"] != thread
    assert first["id"] != again["id"]


def test_chat_caps_long_values_and_lists() -> None:
    resources = [{"ARN": f"arn:aws:s3:::bucket-{n}-" + "x" * 300} for n in range(15)]
    record = {**TERMINATE_BY_ALICE, "resources": resources, "userAgent": "A" * 2000}
    alert = make_alert(record, description="Why it matters. " * 400, tags=("t",) * 3)

    chat = render_chat(alert)

    assert len(chat["content"]["description"]) <= 3000
    related = chat["metadata"]["relatedResources"]
    assert len(related) == 10 and all(len(value) <= 200 for value in related)
    assert chat["content"]["keywords"] == ["HIGH", "aws_ec2_terminate_instances", "t"]


def test_chat_of_an_event_with_nothing_known_still_says_unknown() -> None:
    chat = render_chat(make_alert({}))

    description = chat["content"]["description"]
    assert "*Who:* `unknown`" in description
    assert "*When:* `unknown`" in description
    assert chat["metadata"]["relatedResources"] == []
    assert "None" not in json.dumps(chat)


def test_chat_description_ends_with_the_rules_description_unwrapped() -> None:
    description = (
        "Someone terminated\ninstances on purpose\nor not.\n\n- Check the owner\n  first.\n"
    )

    chat = render_chat(make_alert(TERMINATE_BY_ALICE, description=description))

    assert chat["content"]["description"].endswith(
        "\n\nSomeone terminated instances on purpose or not.\n- Check the owner first."
    )
