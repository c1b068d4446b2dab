"""What the Lambda and the command line share about AWS: topic ARNs and the clients' settings.

boto3 and botocore are imported only when a client configuration is made, so the command line
runs without them until it publishes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.config import Config

RETRY_ATTEMPTS = 6
"""botocore retries per call after the first (its `max_attempts`); its standard mode retries
throttling (SNS answers 429 Throttled) and transient errors with exponential backoff and
jitter."""

# arn:<partition>:sns:<region>:<account>:<name>; FIFO topics (.fifo) need message groups, which
# alerts do not have.
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}", re.ASCII)


def topic_region(topic_arn: str) -> str:
    """The Region of a standard SNS topic's ARN; ValueError for anything else."""
    match = _TOPIC_ARN.fullmatch(topic_arn)
    if match is None:
        raise ValueError(f"not the ARN of a standard SNS topic: {topic_arn!r}")
    return match.group(1)


def retry_config() -> Config:
    """The botocore configuration of every client trailhound makes."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": RETRY_ATTEMPTS},
        connect_timeout=5,
        read_timeout=10,
    )
