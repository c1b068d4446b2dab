"""Links to an event in the CloudTrail console's event history, in the Region's partition."""

from __future__ import annotations

import functools
import re
from urllib.parse import quote

# re.ASCII: \d would otherwise accept any Unicode digit; fullmatch: $ accepts a trailing newline.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+", re.ASCII)
# Event IDs made only of these need no percent-encoding (`quote`'s always-safe characters).
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~\-]+", re.ASCII)
_MAX_REGION_CHARS = 64


def console_url(region: str | None, event_id: str | None) -> str | None:
    """The CloudTrail console's event-history page for the event, in the region's partition."""
    if not region or not event_id:
        return None
    # A str subclass could hash as another text does, and a long text is no Region: not cached.
    if type(region) is str and len(region) <= _MAX_REGION_CHARS:
        prefix = _cached_prefix(region)
    else:
        prefix = _console_prefix(region)
    if not prefix:
        return None
    if type(event_id) is str and _URL_SAFE.fullmatch(event_id):
        return prefix + event_id  # What `quote` would return.
    return prefix + quote(event_id, safe="")


def _console_prefix(region: str) -> str:
    """The event-history URL up to the event ID; "" where there is none to link to."""
    if not _REGION.fullmatch(region) or any(part.startswith("iso") for part in region.split("-")):
        return ""  # The isolated partitions' consoles are not reachable from outside.
    if region.startswith("cn-"):
        host = "console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        host = "console.amazonaws-us-gov.com"
    else:
        host = f"{region}.console.aws.amazon.com"
    return f"https://{host}/cloudtrail/home?region={region}#/events/"


_cached_prefix = functools.lru_cache(maxsize=1024)(_console_prefix)
