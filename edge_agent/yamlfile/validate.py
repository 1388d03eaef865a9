"""pydantic validation of a parsed YAML file, every error mapped back to its key path and line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edge_agent.errors import ConfigError, ConfigIssue
from edge_agent.yamlfile.reader import Loc, YamlDoc, dotted

M = TypeVar("M", bound=BaseModel)

MAX_ISSUES = 20  # a file that is wrong everywhere is reported in a readable amount, then counted

# Tags of pydantic's tagged unions (the node's own `kind` value), never YAML keys.
_TAGS = {"classification", "yolo", "ssd", "embedding", "raw", "http", "bundle"}  # + escalate.to


def validate_doc(cls: type[M], doc: YamlDoc, source_kinds: Sequence[str] = ()) -> M:
    """`cls.model_validate(doc.data)`, or ConfigError listing every issue with its key path and line.
    `source_kinds`: what a `source:` block's missing `kind` could be (the agent config's registered kinds)."""
    try:
        return cls.model_validate(doc.data)
    except ValidationError as exc:
        issues = [_issue(err, doc, source_kinds) for err in exc.errors()]
    raise ConfigError(doc.source, capped(issues)) from None


def capped(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """At most MAX_ISSUES issues, plus one that says how many more there were."""
    if len(issues) <= MAX_ISSUES:
        return issues
    more = ConfigIssue("", None, f"... and {len(issues) - MAX_ISSUES:,} more errors")
    return [*issues[:MAX_ISSUES], more]


def _issue(err: Any, doc: YamlDoc, source_kinds: Sequence[str]) -> ConfigIssue:
    loc = _clean_loc(tuple(p for p in err["loc"] if p != "[key]"), doc.data)
    msg, value = _describe(err)
    if loc and loc[-1] == "source" and str(err["type"]).startswith("union_tag_"):
        # source kinds (video, audio, sensors) are a tagged union: point at the `kind` key
        loc = (*loc, "kind")
        if err["type"] == "union_tag_not_found":
            msg = f"missing 'kind' ({', '.join(source_kinds)})"
    return ConfigIssue(dotted(loc), doc.line(loc), msg, value)


def _clean_loc(loc: tuple[int | str, ...], data: Any) -> Loc:
    """Drop pydantic's union/discriminator tags (e.g. 'classification') that are not YAML keys."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # a tagged union's tag is the node's own `kind` value (source, postprocess kinds)
        if isinstance(node, dict) and part in node:  # noqa: SIM114 - apart, mypy keeps the index types
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict | list):
            # A key that is missing (required) is still worth naming; a tag that is not in the data is not.
            if isinstance(part, str) and not _is_tag(part):
                out.append(part)
                node = None
        else:
            if isinstance(part, str) and not _is_tag(part):
                out.append(part)
            node = None
    return tuple(out)


def _is_tag(part: str) -> bool:
    return part in _TAGS or part.startswith(("function-", "tuple[", "list[", "dict[", "literal["))


def _describe(err: Any) -> tuple[str, str | None]:
    msg = str(err["msg"])
    etype = str(err["type"])
    value = err.get("input")
    if etype == "extra_forbidden":
        return "unknown key (not in the schema; check spelling and indentation)", None
    if etype == "missing":
        return "required key is missing", None
    if etype == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"expected kind to be one of {ctx.get('expected_tags')}", _shown(ctx.get("tag"))
    if etype == "union_tag_not_found":
        return "missing 'kind' (one of classification, yolo, ssd, embedding, raw)", None
    shown = None if isinstance(value, dict | list) else _shown(value)
    if msg.startswith("Input should be "):
        msg = "expected " + msg.removeprefix("Input should be ")
    elif msg.startswith("String should "):
        msg = "expected a name that should " + msg.removeprefix("String should ")
    else:
        msg = msg.removeprefix("Value error, ")
    return msg, shown


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
