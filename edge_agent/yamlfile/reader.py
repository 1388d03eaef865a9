"""The one YAML reader for every file the agent reads: the agent config, hardware profiles, fusion zones.

It turns bytes into plain data (dicts with string keys, lists, str/int/float/bool/None) plus the line
of every key, and refuses, as one `ConfigIssue` naming the key path and line, everything that is not a
config: a file over `MAX_BYTES` (checked before decoding), UTF-16/32 or other non-UTF-8 bytes, NUL and
other control characters, tags outside YAML's core schema (`!!python/...`, `!custom`), aliases that
would expand past `ALIAS_BUDGET` nodes (billion laughs) or refer to their own ancestor, nesting deeper
than `MAX_DEPTH`, keys that are not plain scalars, more than one document, over-long numbers.

Why PyYAML's event stream and not ruamel.yaml: the events come from libyaml (C) when it is present, and
the parser behind them is a state machine, so 256 KiB parse in a few tens of milliseconds and no input
can exhaust the stack. This module builds the data itself, iteratively, from those events: aliases
are counted by the size of what they stand for before anything is expanded, and nothing is resolved to
a Python object beyond the core types. ruamel.yaml is the round-trip writer for remote `set` (it keeps
comments); reading stays here so that every file gets the same limits.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from edge_agent.errors import ConfigError, ConfigIssue

Loc = tuple[str | int, ...]

MAX_BYTES = 256 * 1024  # a real config is a few KiB; ImageNet's 1,000 labels inline are ~20 KiB
MAX_DEPTH = 64  # the deepest real config (zones' polygons in events) nests ~8 levels
ALIAS_BUDGET = 10_000  # nodes that aliases may add, all aliases together
MAX_NUMBER_CHARS = 64

# YAML forbids C0 controls but tab/LF/CR, DEL and C1 but NEL; surrogates and U+FFFE/U+FFFF are not text.
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_CHAR_NAMES = {0: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {None, "!", *(_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map"))}
_ARTICLE = {"null": "null", "bool": "a bool", "int": "an int", "float": "a float"}
_MERGE = object()  # the pending key of a `<<:` merge

_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass(slots=True)
class YamlDoc:
    """A parsed YAML file: its data and the line of every key path (mapping keys, sequence items)."""

    data: Any
    lines: dict[Loc, int]
    source: str

    def line(self, loc: Loc) -> int | None:
        """The line of the deepest part of `loc` present in the file (a missing key: its parent's)."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None


def dotted(loc: Loc) -> str:
    """`("pipelines", "door", "labels", 3)` -> `pipelines.door.labels[3]`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _RefusedError(Exception):
    def __init__(self, loc: Loc, line: int | None, message: str) -> None:
        shown = dotted(loc) if len(loc) <= 12 else f"{dotted(loc[:8])}...({len(loc)} levels)"
        self.issue = ConfigIssue(shown, line, message)


def read_yaml_file(path: Path) -> YamlDoc:
    """Read a YAML file, refusing one over MAX_BYTES before reading it (a FIFO or /dev/zero included)."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _one(str(path), "", None, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        size = path.stat().st_size if path.is_file() else 0
        shown = f"{size:,} bytes" if size > MAX_BYTES else f"more than {MAX_BYTES:,} bytes"
        raise _one(str(path), "", None, f"file too large: {shown}; the limit is {MAX_BYTES:,} bytes")
    return read_yaml_bytes(raw, str(path))


def read_yaml_bytes(raw: bytes, source: str) -> YamlDoc:
    """Decode and parse a file's bytes; raise ConfigError with one issue when it is not a usable YAML file."""
    if len(raw) > MAX_BYTES:
        raise _one(source, "", None, f"file too large: {len(raw):,} bytes; the limit is {MAX_BYTES:,} bytes")
    return read_yaml_text(_decode(raw, source), source)


def read_yaml_text(text: str, source: str) -> YamlDoc:
    """Parse YAML text (already decoded); same checks as read_yaml_bytes except the encoding."""
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _one(source, "", None, f"text too large: more than {MAX_BYTES:,} bytes as UTF-8")
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is allowed (and means nothing)
    bad = _BAD_CHAR.search(text)
    if bad is not None:
        at = bad.start()
        line, col = text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
        loc = _near_key(_BAD_CHAR.sub(" ", text), at)
        raise _one(source, dotted(loc), line, f"{_char_name(bad.group())} at column {col} is not allowed")
    builder = _Builder()
    try:
        builder.run(text)
    except _RefusedError as exc:
        raise ConfigError(source, [exc.issue]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
        mark_line = int(mark.line) + 1 if mark is not None else None
        raise _one(source, dotted(builder.where()), mark_line, f"not valid YAML: {problem}") from None
    return YamlDoc(builder.root, builder.lines, source)


def _one(source: str, path: str, line: int | None, message: str) -> ConfigError:
    return ConfigError(source, [ConfigIssue(path, line, message)])


def _decode(raw: bytes, source: str) -> str:
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if raw.startswith(bom):
            raise _one(source, "", 1, f"the file is {name} (byte-order mark); save it as UTF-8")
    if len(raw) >= 4 and raw.count(0) * 4 >= len(raw):
        raise _one(
            source,
            "",
            1,
            "the file is full of NUL bytes (UTF-16 without a byte-order mark?); save it as UTF-8",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start
        line, col = raw.count(b"\n", 0, at) + 1, at - (raw.rfind(b"\n", 0, at) + 1) + 1
        loose = raw.decode("utf-8", "replace")
        loc = _near_key(_BAD_CHAR.sub(" ", loose), len(raw[:at].decode("utf-8", "replace")))
        msg = f"not UTF-8: byte 0x{raw[at]:02x} at column {col}; save the file as UTF-8"
        raise _one(source, dotted(loc), line, msg) from None


def _char_name(ch: str) -> str:
    code = ord(ch)
    name = _CHAR_NAMES.get(code)
    return f"control character U+{code:04X}" + (f" ({name})" if name else "")


def _near_key(text: str, offset: int) -> Loc:
    """The key path of the last key that starts before `offset` (for errors found before parsing)."""
    builder = _Builder()
    with contextlib.suppress(yaml.YAMLError, _RefusedError):
        builder.run(text)  # keys before the first problem are enough
    best: Loc = ()
    for index, loc in builder.keys:
        if index > offset:
            break
        best = loc
    return best


def _line(ev: yaml.Event) -> int:
    return int(ev.start_mark.line) + 1 if ev.start_mark is not None else 0


def _index(ev: yaml.Event) -> int:
    return int(ev.start_mark.index) if ev.start_mark is not None else 0


@dataclass(slots=True)
class _Frame:
    value: dict[str, Any] | list[Any]
    loc: Loc
    anchor: str | None
    weight: int = 1
    key: str | object | None = None  # mapping: the key waiting for its value
    merges: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Anchor:
    value: Any
    weight: int
    open: bool


class _Builder:
    """Events -> plain data, iteratively, with the line of every key and every limit checked."""

    def __init__(self) -> None:
        self.root: Any = None
        self.lines: dict[Loc, int] = {}
        self.keys: list[tuple[int, Loc]] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchor] = {}
        self.expanded = 0
        self.documents = 0

    def where(self) -> Loc:
        if not self.stack:
            return ()
        top = self.stack[-1]
        return (*top.loc, top.key) if isinstance(top.key, str) else top.loc

    def run(self, text: str) -> None:
        loader = _Loader(text)
        try:
            while loader.check_event():
                ev = loader.get_event()
                if ev is not None:
                    self._event(ev)
        finally:
            loader.dispose()

    def _event(self, ev: yaml.Event) -> None:
        if isinstance(ev, yaml.ScalarEvent):
            self._scalar(ev)
        elif isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            self._start(ev)
        elif isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            self._end()
        elif isinstance(ev, yaml.AliasEvent):
            self._alias(ev)
        elif isinstance(ev, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _RefusedError((), _line(ev), "expected one YAML document, found a second (---)")

    def _child(self, ev: yaml.Event) -> Loc | None:
        """Where the node starting at `ev` goes; None when it is a mapping key (handled by the caller)."""
        line = _line(ev)
        if not self.stack:
            self.lines[()] = line
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            loc = (*top.loc, len(top.value))
            self.lines[loc] = line
            self.keys.append((_index(ev), loc))
            return loc
        if top.key is None:
            return None
        return top.loc if top.key is _MERGE else (*top.loc, str(top.key))

    def _check_tag(self, ev: yaml.NodeEvent, loc: Loc) -> None:
        tag: str | None = getattr(ev, "tag", None)
        if tag is not None and tag not in _ALLOWED_TAGS:
            shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
            raise _RefusedError(
                loc,
                _line(ev),
                f"tag {shown} is not allowed: only YAML's core types (str, int, float, bool, null, "
                "sequence, mapping)",
            )

    def _scalar(self, ev: yaml.ScalarEvent) -> None:
        loc = self._child(ev)
        line = _line(ev)
        if loc is None:  # a mapping key: kept as its text, so `on:` or `1:` stay the names written
            top = self.stack[-1]
            self._check_tag(ev, top.loc)
            key = ev.value
            kloc = (*top.loc, key)
            self._check_text(key, kloc, line)
            assert isinstance(top.value, dict)
            if key == "<<" and ev.implicit[0]:
                top.key = _MERGE
                return
            if key in top.value:
                raise _RefusedError(kloc, line, "duplicate key")
            self.lines[kloc] = line
            self.keys.append((_index(ev), kloc))
            top.key = key
            self._anchor(ev.anchor, key, 1)
            return
        self._check_tag(ev, loc)
        value = self._construct(ev, loc, line)
        self._anchor(ev.anchor, value, 1)
        self._add(value, 1, loc, line)

    def _construct(self, ev: yaml.ScalarEvent, loc: Loc, line: int) -> Any:
        tag = ev.tag
        if tag is None or tag == "!":
            tag = str(_RESOLVER.resolve(ScalarNode, ev.value, ev.implicit)) if tag is None else _CORE + "str"  # type: ignore[no-untyped-call]
        name = tag[len(_CORE) :] if tag.startswith(_CORE) else "str"
        if name in ("int", "float") and len(ev.value) > MAX_NUMBER_CHARS:
            raise _RefusedError(loc, line, f"number too long (more than {MAX_NUMBER_CHARS} characters)")
        if name not in ("null", "bool", "int", "float"):  # str, and 1.1's timestamp/merge: keep the text
            self._check_text(ev.value, loc, line)
            return ev.value
        try:
            return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, ScalarNode(tag, ev.value))
        except (ValueError, KeyError, yaml.YAMLError):
            raise _RefusedError(
                loc, line, f"expected {_ARTICLE[name]} for !!{name}, got {ev.value!r}"
            ) from None

    def _check_text(self, text: str, loc: Loc, line: int) -> None:
        bad = _BAD_CHAR.search(text)
        if bad is not None:  # a double-quoted escape such as "\0" or "\e"
            raise _RefusedError(loc, line, f"{_char_name(bad.group())} is not allowed in a value")

    def _start(self, ev: yaml.SequenceStartEvent | yaml.MappingStartEvent) -> None:
        loc = self._child(ev)
        line = _line(ev)
        if loc is None:
            top = self.stack[-1]
            raise _RefusedError(top.loc, line, "a mapping key must be a plain name, not a list or mapping")
        self._check_tag(ev, loc)
        if len(self.stack) >= MAX_DEPTH:
            raise _RefusedError(loc, line, f"nested deeper than {MAX_DEPTH} levels")
        value: dict[str, Any] | list[Any] = {} if isinstance(ev, yaml.MappingStartEvent) else []
        self.stack.append(_Frame(value, loc, ev.anchor))
        if ev.anchor is not None:
            self.anchors[ev.anchor] = _Anchor(value, 0, open=True)

    def _end(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict):
            for merged in frame.merges:  # YAML merge keys: keys written here win over merged ones
                for k, v in merged.items():
                    frame.value.setdefault(k, v)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = _Anchor(frame.value, frame.weight, open=False)
        self._add(frame.value, frame.weight, frame.loc, self.lines.get(frame.loc))

    def _alias(self, ev: yaml.AliasEvent) -> None:
        line = _line(ev)
        loc = self._child(ev)
        where = loc if loc is not None else self.stack[-1].loc
        anchor = self.anchors.get(ev.anchor or "")
        if anchor is None:
            raise _RefusedError(where, line, f"alias *{ev.anchor} has no anchor &{ev.anchor} before it")
        if anchor.open:
            raise _RefusedError(
                where, line, f"alias *{ev.anchor} refers to a node that contains it (recursive)"
            )
        self.expanded += anchor.weight
        if self.expanded > ALIAS_BUDGET:
            raise _RefusedError(
                where,
                line,
                f"aliases expand to more than {ALIAS_BUDGET:,} nodes (refused, as billion laughs)",
            )
        if loc is None:  # an alias as a mapping key: only a plain scalar may be one
            if isinstance(anchor.value, dict | list):
                raise _RefusedError(where, line, "a mapping key must be a plain name, not a list or mapping")
            ev_key = yaml.ScalarEvent(
                None, None, (True, False), str(anchor.value), ev.start_mark, ev.end_mark
            )
            self._scalar(ev_key)
            return
        self._add(anchor.value, anchor.weight, loc, line)

    def _anchor(self, name: str | None, value: Any, weight: int) -> None:
        if name is not None:
            self.anchors[name] = _Anchor(value, weight, open=False)

    def _add(self, value: Any, weight: int, loc: Loc, line: int | None) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.weight += weight
        if isinstance(top.value, list):
            top.value.append(value)
            return
        if top.key is _MERGE:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, dict) for v in items):
                raise _RefusedError(top.loc, line, "a merge key (<<) takes a mapping or a list of mappings")
            top.merges.extend(items)
        else:
            top.value[str(top.key)] = value
        top.key = None
