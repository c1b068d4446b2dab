"""SNS and DynamoDB failing under the handler: every alert delivered once, none lost.

A reduced run of tests/robustness/fault_injection.py (moto server on 127.0.0.1, faults injected into
botocore's requests, Lambda's retries simulated), which prints the figures for 1,000 alerts. It
runs in a process of its own: it sets the handler's environment and hooks boto3's session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.robustness.fault_injection import AFTER_SERVER, SCENARIOS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BEFORE_THE_SERVER = ("both: 20% of calls fail", "both down for 1 invocation in 4")
(LOST_RESPONSES,) = [scenario.name for scenario in SCENARIOS if AFTER_SERVER in scenario.kinds]


@pytest.fixture(scope="module")
def figures() -> dict[str, dict[str, Any]]:
    names = [*BEFORE_THE_SERVER, LOST_RESPONSES]
    command = [
        sys.executable,
        "-m",
        "tests.robustness.fault_injection",
        "--alerts",
        "300",
        "--seed",
        "7",
        "--json",
    ]
    for name in names:
        command += ["--scenario", name]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=REPO
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    found = [json.loads(line) for line in done.stdout.splitlines()]
    return {figure["scenario"]: figure for figure in found}


@pytest.mark.parametrize("name", BEFORE_THE_SERVER)
def test_faults_before_the_server_acts_lose_nothing_and_notify_no_one_twice(
    name: str, figures: dict[str, dict[str, Any]]
) -> None:
    figure = figures[name]

    assert figure["faults"] > 0
    assert figure["failed_invocations"] > 0 or figure["retried_calls"] > 0
    assert figure["delivered"] + figure["to_destination_alerts"] == figure["alerts"]
    assert figure["lost"] == 0
    assert figure["notified_twice"] == 0


def test_a_lost_response_can_repeat_an_alert_but_never_loses_one(
    figures: dict[str, dict[str, Any]],
) -> None:
    figure = figures[LOST_RESPONSES]

    assert figure["faults"] > 0
    assert figure["lost"] == 0
    assert figure["delivered"] + figure["to_destination_alerts"] == figure["alerts"]
