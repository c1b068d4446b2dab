"""Credentials out of alerts: an alert goes to inboxes and chat channels, a secret must not.

CloudTrail hides most secrets itself (`HIDDEN_DUE_TO_SECURITY_REASONS`), but not those that an
API takes in a free-form field, that a caller puts in a user agent, or that an error message
quotes. Values under a key that names a secret are replaced whole; in any text, what has the
shape of a credential (an AWS secret access key or session token, a private key, an
`Authorization` header, a bearer token, a password in a URL) is replaced by `REDACTED`.
Access key ids (AKIA..., ASIA...) are not secrets and stay: they say which key to disable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

REDACTED = "REDACTED"

_SECRET_KEY = re.compile(
    r"passw(?:or)?d|secret|token|credential|private.?key|authorization|api.?key|signature",
    re.IGNORECASE,
)
# Names of secrets are what the responder needs (secretId, secretArn, tokenName): not redacted.
_NAMES_A_SECRET = re.compile(r"(?:id|ids|arn|arns|name|names)$", re.IGNORECASE)
_SECRETS = re.compile(
    "|".join(
        (
            # A private key block; without its end (cut off, mangled), all that follows it.
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)",
            # Authorization headers and bearer tokens, whatever the scheme.
            r"(?i:authorization)\s*+[:=]\s*+\S++(?:\s++\S++)?",
            r"(?i:bearer)\s++[A-Za-z0-9._~+/=-]{8,}+",
            # A password in a URL: scheme://user:password@host.
            r"(?<=://)[^/\s:@]++:[^/\s@]++(?=@)",
            # STS session tokens (IQoJb3JpZ2lu..., FwoGZXIvYXdz...) and other long base64 runs.
            r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+=]{20,}+",
            # An AWS secret access key: 40 characters of base64 standing alone.
            r"(?P<key>(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))",
        )
    ),
    re.DOTALL,
)
# Every quantifier above is possessive or bounded, or scans text that the match then takes, so
# a search costs time in proportion to the text, however an attacker repeats its words.

# key=value pairs whose key names a secret (password=..., aws_secret_access_key=...,
# "token": "..."). The name stays, so the reader sees what was there: "password=REDACTED". A
# name is a whole run of name characters that starts a word (in an ARN, arn:aws:secretsmanager:
# ..., or a path it does not), or two runs joined by any one character between "api" and "key"
# ("api key: ..."). The pattern finds each run that a separator follows, reading every run once,
# and `_secret_name` judges it.
_NAME_SEPARATOR = re.compile(
    r"(?<![A-Za-z_.-])(?P<name>[A-Za-z_.-]++)(?P<quote>['\"]?)\s*+[:=]\s*+['\"]?"
)
_VALUE = re.compile(r"[^\s'\",;&]+")
# A secret's word, in the part of a name after its last "." or "-": what follows the word up to
# the separator holds only letters and underscores.
_SECRET_WORD = re.compile(r"passw(?:or)?d|secret|token|api.?key")
_NAME_WORDS = ("passw", "secret", "token", "api")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.-")
# A name does not start a word after these, nor after a name character.
_NOT_BEFORE_NAME = frozenset("0123456789:")
_MAX_DEPTH = 64
# Cheap tests that every match of `_SECRETS` passes (false alarms only cost the full search).
# In lower case, words a pattern needs as they are:
_MARKERS = ("-----begin", "bearer", "iqojb3jpz2lu", "fwogzxivyxdz", "fqogzxivyxdz")
_AUTHORIZATION = re.compile(r"authorization\s*+[:=]")
_URL_PASSWORD = re.compile(r"://[^/\s:@]++:[^/\s@]++@")
# A secret key's characters made "x", "=" kept, all others " ": the key pattern's match, 40 of
# them with neither more nor "=" on either side, is one substring test of the padded shape,
# many times faster than a regular expression trying every start.
_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
_KEY_SHAPES = bytes(
    ord("x") if byte in _KEY_CHARS else byte if byte == ord("=") else ord(" ")
    for byte in range(256)
)
_KEY_RUN = b" " + b"x" * 40 + b" "
# In lower case, what a secret-named key contains (`_SECRET_KEY`).
_KEY_WORDS = (
    "passw",
    "secret",
    "token",
    "credential",
    "private",
    "authorization",
    "api",
    "signature",
)


def may_hold_secret(text: str) -> bool:
    """False only if `redact_text` would leave the text as it is; many times cheaper.

    Text with something to redact is rare, so most alerts pay for this test alone. Several
    values joined by newlines can be tested at once: a false alarm costs time, never a miss.
    The verdicts on recent short texts are remembered: a batch's calls mostly come from a few
    principals, with the same identity, address and user agent.
    """
    # A `str` subclass could hash or compare as another text does: it is not remembered.
    if type(text) is str and len(text) <= _MEMO_MAX_CHARS:
        return _remembered_text_verdict(text)
    return _may_hold_secret(text, in_json=False)


# At most about a megabyte each: the function runs in 128 MB.
_MEMO_ENTRIES = 512
_MEMO_MAX_CHARS = 2048


@functools.lru_cache(maxsize=_MEMO_ENTRIES)
def _remembered_text_verdict(text: str) -> bool:
    return _may_hold_secret(text, in_json=False)


@functools.lru_cache(maxsize=_MEMO_ENTRIES)
def _remembered_json_verdict(encoded: str) -> bool:
    return _may_hold_secret_in_json(encoded)


def _may_hold_secret(text: str, *, in_json: bool) -> bool:
    """`may_hold_secret`; `in_json`: the text is compact JSON with no escapes, whose keys
    `redact` judges by `_SECRET_KEY`, so a name that ends a key (`"token":`) is not a value's.
    """
    if not text.isascii():
        return True  # Case mappings outside ASCII can change length: no shortcut.
    lowered = text.lower()
    for marker in _MARKERS:
        if marker in lowered:
            return True
    if "authorization" in lowered and _AUTHORIZATION.search(lowered) is not None:
        return True
    if _URL_PASSWORD.search(text) is not None:
        return True
    if _KEY_RUN in b" " + text.encode().translate(_KEY_SHAPES) + b" ":
        return True
    if not any(word in lowered for word in _NAME_WORDS):
        return False
    return next(_named_values(text, skip_json_keys=in_json), None) is not None


def may_hold_secret_in_json(encoded: str) -> bool:
    """`may_hold_secret` for compact JSON text, where a key that names a secret counts too."""
    if type(encoded) is str and len(encoded) <= _MEMO_MAX_CHARS:
        return _remembered_json_verdict(encoded)
    return _may_hold_secret_in_json(encoded)


def _may_hold_secret_in_json(encoded: str) -> bool:
    if not encoded.isascii() or "\\" in encoded:
        # An escape could end a key early (\") or hide a value's edges (\u001f): no shortcut.
        return True
    lowered = encoded.lower()
    for word in _KEY_WORDS:
        # The string around each occurrence ends at the next '"'; occurrences in one string
        # share it, and are judged once, so a string of repeated words is read once.
        judged = -1
        start = lowered.find(word)
        while start != -1:
            end = judged if start < judged else lowered.find('"', start)
            if end != judged:
                judged = end
                if lowered.startswith('":', end):  # The word is in a key.
                    key = lowered[lowered.rfind('"', 0, start) + 1 : end]
                    if not _NAMES_A_SECRET.search(key):
                        return True
            if end == -1:
                break
            start = lowered.find(word, start + len(word))
    # A value cannot hold a bare '"' here, so a name followed by '":' is a key, judged above.
    return _may_hold_secret(encoded, in_json=True)


def redact_text(text: str) -> str:
    """The text with anything shaped like a credential replaced."""
    if len(text) < 8 or not may_hold_secret(text):
        return text
    return _redacted(text)


def _redacted(text: str) -> str:
    """`redact_text` without the cheap test first."""
    text = _SECRETS.sub(_replacement, text)
    pieces = []
    done = 0
    for start, end in _named_values(text):
        pieces += [text[done:start], REDACTED]
        done = end
    return "".join(pieces) + text[done:] if pieces else text


def redact(value: Any, depth: int = 0) -> Any:
    """A JSON value with secret-named keys' values and credential-shaped text replaced."""
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            # Keys are the caller's too, in the APIs that take maps (environment variables,
            # tags, metadata): one shaped like a credential is replaced like any text.
            (redact_text(key) if isinstance(key, str) else key): REDACTED
            if isinstance(key, str)
            and _SECRET_KEY.search(key)
            and not _NAMES_A_SECRET.search(key)
            and item not in (None, "")
            else redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, depth + 1) for item in value]
    return value


def _named_values(text: str, *, skip_json_keys: bool = False) -> Iterator[tuple[int, int]]:
    """Where the values of secret-named pairs are (start, end), left to right, not overlapping.

    `skip_json_keys`: a name in quotes before its separator is a JSON key, judged by `redact`.
    """
    position = 0
    while (found := _NAME_SEPARATOR.search(text, position)) is not None:
        position = found.end()
        if skip_json_keys and found.group("quote") == '"':
            continue
        if not _secret_name(text, found.start(), found.group("name")):
            continue
        value = _VALUE.match(text, position)
        if value is not None:
            yield position, value.end()
            position = value.end()


def _secret_name(text: str, start: int, run: str) -> bool:
    """Whether the run of name characters at `start`, which a separator follows, ends a name
    that names a secret."""
    lowered = run.lower()
    last = max(lowered.rfind("."), lowered.rfind("-"))
    tail = lowered[last + 1 :]  # What follows the word holds no "." or "-".
    if not start or text[start - 1] not in _NOT_BEFORE_NAME:
        if _SECRET_WORD.search(tail) is not None:
            return True
        # "api.key", "api-key": the word spans the last "." or "-".
        if last >= 3 and lowered[last - 3 : last] == "api" and tail.startswith("key"):
            return True
    # "api key", "api:key": a run ending in "api" that starts a word, any one character, then
    # this run, which starts with "key".
    if last >= 0 or not lowered.startswith("key") or start < 4:
        return False
    if text[start - 4 : start - 1].lower() != "api":
        return False
    first = start - 4
    while first and text[first - 1] in _NAME_CHARS:
        first -= 1
    return not first or text[first - 1] not in _NOT_BEFORE_NAME


def _replacement(match: re.Match[str]) -> str:
    found = match.group(0)
    # Forty characters are a secret key only if random: a hex digest (sha1) or a word is not.
    if match.lastgroup == "key" and not (
        any(char.isdigit() for char in found)
        and any(char.isupper() for char in found)
        and any(char.islower() for char in found)
    ):
        return found
    return REDACTED
