"""Read one rule file as YAML while remembering the line of every key, for errors that point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trailhound.errors import YamlSourceError

# A rule file is a page of YAML; anything far larger is a mistake or an attack on the loader.
MAX_RULE_FILE_BYTES = 256 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 20_000
"""Values, keys and collections: generous for a rule with many inline test events, and a
bound on the time and memory composing a small but dense file would take."""

KeyPath = tuple[str | int, ...]

try:  # the C loader is several times faster; both give the same marks
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


@dataclass
class YamlDocument:
    """A parsed rule file: its data and the 1-based line of each key path."""

    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, *path: str | int) -> int | None:
        """The line of the deepest known key along `path`."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_yaml(path: Path) -> YamlDocument:
    """Parse `path`, rejecting what a rule file never needs: aliases, several documents, bulk."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise YamlSourceError(f"cannot read file: {error.strerror or error}") from error
    if len(raw) > MAX_RULE_FILE_BYTES:
        raise YamlSourceError(
            f"file is {len(raw):,} bytes; a rule file may hold at most {MAX_RULE_FILE_BYTES:,}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise YamlSourceError("file is not valid UTF-8", line) from error
    return parse_yaml(text)


def parse_yaml(text: str) -> YamlDocument:
    """Parse YAML text into data plus a key-path → line map.

    A plain rule file is read in one pass over the parser's events, about twice as fast as
    checking, composing and constructing it (rules load at every cold start). Anything else
    (an error, an alias, a tag, a duplicate key, deep nesting, bulk) takes the checked path,
    which says what is wrong.
    """
    try:
        return _parse_plain(text)
    except Exception:  # whatever the plain path does not take, the checked path judges
        return _parse_checked(text)


class _Unusual(Exception):
    """The file is not a plain rule file; the checked path decides what it is."""


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_NO_KEY = object()


def _parse_plain(text: str) -> YamlDocument:
    """A single mapping of scalars, mappings and sequences; _Unusual for anything else."""
    loader = _Loader(text)
    try:
        lines: dict[KeyPath, int] = {}
        # Open collections, innermost last: [container, its key path, pending key, its text, keys]
        stack: list[list[Any]] = []
        root: Any = _NO_KEY
        documents = nodes = 0
        while True:
            event = loader.get_event()  # type: ignore[no-untyped-call]
            kind = type(event)
            tag: str | None = None
            if kind is yaml.ScalarEvent:
                tag, value = _scalar(loader, event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.tag not in _PLAIN_TAGS:
                    raise _Unusual
                value = {} if kind is yaml.MappingStartEvent else []
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                if frame[2] is not _NO_KEY:
                    raise _Unusual
                continue
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Unusual
                continue
            elif kind is yaml.StreamStartEvent or kind is yaml.DocumentEndEvent:
                continue
            elif kind is yaml.StreamEndEvent:
                break
            else:
                raise _Unusual  # an alias
            nodes += 1
            if nodes > MAX_YAML_NODES or len(stack) > MAX_YAML_DEPTH:
                raise _Unusual
            line = event.start_mark.line + 1
            if not stack:
                root, here = value, ()
            else:
                frame = stack[-1]
                container, path = frame[0], frame[1]
                if type(container) is list:
                    here = (*path, len(container))
                    lines[here] = line
                    container.append(value)
                elif frame[2] is _NO_KEY:
                    key_text = event.value if kind is yaml.ScalarEvent else None
                    if key_text is None or tag == _MERGE or key_text in frame[4]:
                        raise _Unusual
                    frame[2], frame[3] = value, key_text
                    frame[4].add(key_text)
                    lines[(*path, key_text)] = line
                    continue
                else:
                    here = (*path, frame[3])
                    container[frame[2]] = value
                    frame[2] = _NO_KEY
            if kind is not yaml.ScalarEvent:
                stack.append([value, here, _NO_KEY, None, set()])
        if type(root) is not dict:
            raise _Unusual
        return YamlDocument(data=root, lines=lines)
    finally:
        loader.dispose()


def _scalar(loader: Any, event: Any) -> tuple[str, Any]:
    """The scalar's resolved tag and value, as the safe loader would construct them."""
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == _STR:
        return tag, event.value
    if tag == _MERGE:
        return tag, None
    construct = loader.yaml_constructors.get(tag)
    if construct is None:
        raise _Unusual
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    return tag, construct(loader, node)


def _parse_checked(text: str) -> YamlDocument:
    """Check the shape, compose, check every node, construct: every error named and placed."""
    loader = _Loader(text)
    try:
        _check_shape(text)
        node = loader.get_single_node()
        if node is None:
            raise YamlSourceError("file is empty: expected a Sigma rule", 1)
        lines: dict[KeyPath, int] = {}
        _check_and_map(node, (), lines, 0, set())
        data = loader.construct_document(node)
    except yaml.composer.ComposerError as error:
        raise YamlSourceError(_yaml_message(error), _mark_line(error)) from error
    except yaml.MarkedYAMLError as error:
        raise YamlSourceError(_yaml_message(error), _mark_line(error)) from error
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        raise YamlSourceError(
            f"invalid YAML: {error.reason} (#x{error.character:04x})", line
        ) from error
    except yaml.YAMLError as error:
        raise YamlSourceError(f"invalid YAML: {error}") from error
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise YamlSourceError("a rule file must be a YAML mapping (key: value)", 1)
    return YamlDocument(data=data, lines=lines)


def _check_shape(text: str) -> None:
    """Refuse deep nesting and bulk from the parser's events, before anything recursive sees it.

    libyaml's parser is iterative, but composing nodes recurses in C: a file of a hundred
    thousand `[` would crash the process (and the Lambda with every other rule) there.
    """
    loader = _Loader(text)
    try:
        depth = nodes = 0
        while True:
            event: yaml.Event = loader.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    raise YamlSourceError(
                        f"file holds more than {MAX_YAML_NODES:,} YAML values: "
                        "a rule file is a page, split it into several rules",
                        _event_line(event),
                    )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH + 1:
                    raise YamlSourceError(
                        f"nesting deeper than {MAX_YAML_DEPTH} levels", _event_line(event)
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.StreamEndEvent):
                return
    finally:
        loader.dispose()


def _event_line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark is not None else None


def _check_and_map(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], depth: int, visited: set[int]
) -> None:
    if depth > MAX_YAML_DEPTH:
        raise YamlSourceError(
            f"nesting deeper than {MAX_YAML_DEPTH} levels", node.start_mark.line + 1
        )
    # The composer hands out the anchored node again for each alias: meeting a node twice means
    # an alias, which rule files never need and which alias bombs are made of.
    if id(node) in visited:
        raise YamlSourceError(
            "YAML anchors and aliases are not allowed in rule files", node.start_mark.line + 1
        )
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlSourceError("YAML merge keys (<<) are not allowed in rule files", line)
            if key in seen:
                raise YamlSourceError(f"duplicate key {key!r}", line)
            seen.add(key)
            lines[(*path, key)] = line
            _check_and_map(value_node, (*path, key), lines, depth + 1, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _check_and_map(item, (*path, index), lines, depth + 1, visited)


def _mark_line(error: yaml.MarkedYAMLError) -> int | None:
    mark = error.problem_mark or error.context_mark
    return mark.line + 1 if mark is not None else None


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    problem = error.problem or "invalid YAML"
    if "expected a single document" in problem or "but found another document" in problem:
        return "one rule per file: found more than one YAML document"
    if "found undefined alias" in problem or "alias" in problem:
        return "YAML anchors and aliases are not allowed in rule files"
    context = f" {error.context}" if error.context else ""
    return f"invalid YAML:{context} {problem}".strip()
