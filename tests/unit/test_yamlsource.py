"""Reading plain rule files in one pass gives what checking, composing and constructing gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailhound.authoring import yamlsource
from trailhound.authoring.yamlsource import YamlDocument, parse_yaml
from trailhound.errors import YamlSourceError

REPO = Path(__file__).resolve().parents[2]
RULE_FILES = sorted(
    path
    for folder in ("rules", "packs", "docs", "tests/unit/broken_rules")
    for pattern in ("*.yml", "*.yaml")
    for path in (REPO / folder).rglob(pattern)
)

PLAIN = """\
title: Plain
id: 5f3c2c1e-0000-4000-8000-000000000001
date: 2024-05-14
level: high
enabled: yes
count: 0x1F
ratio: 1.5e3
nothing:
quoted: '22'
tagged: !!str 22
1: numeric key
tests:
  - name: first
    event: {eventName: ConsoleLogin, nested: [[a, b], {c: ~}], flag: false}
  - - inner
    - 7
detection:
  selection:
    eventName|contains:
      - 'Delete'
      - "Stop\\tLogging"
  condition: selection
text: |
  two
  lines
"""


def outcome(parse: object, text: str) -> tuple[str, object, object]:
    try:
        document = parse(text)  # type: ignore[operator]
    except YamlSourceError as error:
        return ("error", error.message, error.line)
    assert isinstance(document, YamlDocument)
    return ("document", document.data, document.lines)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_rule_file_reads_the_same_either_way(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    checked = outcome(yamlsource._parse_checked, text)
    assert outcome(parse_yaml, text) == checked
    if checked[0] == "document":
        assert outcome(yamlsource._parse_plain, text) == checked


def test_plain_yaml_takes_the_one_pass_path_with_yaml_types_and_lines() -> None:
    document = yamlsource._parse_plain(PLAIN)
    assert outcome(yamlsource._parse_plain, PLAIN) == outcome(yamlsource._parse_checked, PLAIN)
    assert document.data["count"] == 31
    assert document.data["enabled"] is True
    assert document.data["tagged"] == "22"
    assert document.lines[("tests", 1, 1)] == 16


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: 1\na: 2\n",
        "<<: {a: 1}\n",
        "a: !!set {b}\n",
        "? [a]\n: 1\n",
        "a: 1\n---\nb: 2\n",
        "- a\n",
        "",
        "a: [" * 40 + "]" * 40,
        "a: b: c\n",
    ],
)
def test_anything_unusual_is_left_to_the_checked_path(text: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the plain path refuses in whatever way
        yamlsource._parse_plain(text)
    assert outcome(parse_yaml, text) == outcome(yamlsource._parse_checked, text)
