"""Read a YAML config into `AgentConfig`, mapping every validation error back to its YAML line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge_agent.config.models import AgentConfig
from edge_agent.errors import ConfigError, ConfigIssue

Loc = tuple[str | int, ...]


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = f"not valid YAML: {exc.problem or exc.context}"
        raise ConfigError(source, [ConfigIssue("", line, msg)]) from exc


def _index(node: yaml.Node, loc: Loc, lines: dict[Loc, int], dupes: list[ConfigIssue]) -> None:
    """Record the line of every key and item, and report duplicate keys (YAML silently keeps the last)."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*loc, key)
            if key in seen:
                dupes.append(ConfigIssue(_dotted(child), key_node.start_mark.line + 1, "duplicate key"))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, dupes)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*loc, i), lines, dupes)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of the deepest part of `loc` present in the file (a missing key points at its parent)."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


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
    return part in {"classification", "yolo", "ssd", "embedding", "raw"} or part.startswith(
        ("function-", "tuple[", "list[", "dict[", "literal[")
    )


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
        return f"expected kind to be one of {ctx.get('expected_tags')}", repr(ctx.get("tag"))
    if etype == "union_tag_not_found":
        return "missing 'kind' (one of classification, yolo, ssd, embedding, raw)", None
    shown = None if isinstance(value, dict | list) else repr(value)
    if msg.startswith("Input should be "):
        msg = "expected " + msg.removeprefix("Input should be ")
    elif msg.startswith("String should "):
        msg = "expected a name that should " + msg.removeprefix("String should ")
    else:
        msg = msg.removeprefix("Value error, ")
    return msg, shown


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> AgentConfig:
    """Parse YAML text into an `AgentConfig`, or raise `ConfigError` listing every issue with its line."""
    node = _compose(text, source)
    lines: dict[Loc, int] = {}
    dupes: list[ConfigIssue] = []
    if node is not None:
        _index(node, (), lines, dupes)
    if dupes:
        raise ConfigError(source, dupes)
    data = yaml.safe_load(text) if node is not None else None
    if not isinstance(data, dict):
        raise ConfigError(
            source, [ConfigIssue("", 1, "expected a mapping at the top (device, mqtt, pipelines...)")]
        )
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = _clean_loc(tuple(p for p in err["loc"] if p != "[key]"), data)
            msg, value = _describe(err)
            if loc and loc[-1] == "source" and str(err["type"]).startswith("union_tag_"):
                # source kinds (video, audio, sensors) are a tagged union: point at the `kind` key
                loc = (*loc, "kind")
                if err["type"] == "union_tag_not_found":
                    msg = (
                        "missing 'kind' (video, folder, camera, stream, audio_file, alsa, csv, jsonl, "
                        "serial, iio, mqtt)"
                    )
            issues.append(ConfigIssue(_dotted(loc), _line_for(loc, lines), msg, value))
        raise ConfigError(source, issues) from None
    return _resolve_paths(cfg, base_dir)


def _resolve_paths(cfg: AgentConfig, base_dir: Path | None) -> AgentConfig:
    """Relative paths in the file are relative to the file, not to the working directory."""
    state = os.environ.get("STATE_DIRECTORY")
    if state and "state_dir" not in cfg.device.model_fields_set:
        cfg.device.state_dir = Path(state.split(":")[0])
    if base_dir is None:
        return cfg
    for pipe in cfg.pipelines.values():
        if not pipe.model.path.is_absolute():
            pipe.model.path = base_dir / pipe.model.path
        pipe.model.trusted_keys = [k if k.is_absolute() else base_dir / k for k in pipe.model.trusted_keys]
        if (
            pipe.source.kind in ("video", "folder", "audio_file", "csv", "jsonl")
            and not Path(pipe.source.path).is_absolute()
        ):
            pipe.source.path = str(base_dir / pipe.source.path)
        members = [
            *(pipe.ensemble.members if pipe.ensemble else []),
            *([pipe.cascade.large] if pipe.cascade else []),
        ]
        for m in members:  # ensemble / cascade models, like the pipeline's own
            if not m.model.path.is_absolute():
                m.model.path = base_dir / m.model.path
    if not cfg.device.state_dir.is_absolute():
        cfg.device.state_dir = base_dir / cfg.device.state_dir
    return cfg


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate a config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [ConfigIssue("", None, f"cannot read file: {exc.strerror}")]) from exc
    return parse_config(text, str(p), p.parent.resolve())
