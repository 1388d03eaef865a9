"""Every key path of the agent's config schema, walked from its JSON Schema: the `set` tests check the
remote-set allow-list against it, and the hostile corpus tries every key the allow-list leaves out."""

from __future__ import annotations

from typing import Any

from edge_agent.config.models import AgentConfig

PIPE = "orient"  # the pipeline name in `pipelines.<name>` (the corpus agent's one pipeline)


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def schema_leaves() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every key path of the config schema (pipeline name `orient`, other map keys `k`), with its schema.

    Lists and maps of scalars are leaves (a merge patch replaces them whole); objects are levels.
    """
    root = AgentConfig.model_json_schema()
    out: dict[tuple[str, ...], dict[str, Any]] = {}

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        node = _resolve(root, node)
        alts = node.get("anyOf") or node.get("oneOf") or node.get("allOf")
        if alts:
            objects = [
                a for a in (_resolve(root, x) for x in alts) if {"properties", "anyOf", "oneOf"} & a.keys()
            ]
            if not objects:
                out.setdefault(path, node)
            for alt in objects:
                walk(alt, path)
            return
        if "properties" in node:
            for key, sub in node["properties"].items():
                walk(sub, (*path, key))
            return
        extra = node.get("additionalProperties")
        if not isinstance(extra, dict) and node.get("patternProperties"):
            extra = next(iter(node["patternProperties"].values()))  # pipelines: names match NAME_RE
        if isinstance(extra, dict):
            sub = _resolve(root, extra)
            if "properties" in sub or "anyOf" in sub or "oneOf" in sub:
                walk(sub, (*path, PIPE if path == ("pipelines",) else "k"))
                return
        out.setdefault(path, node)

    walk(root, ())
    return sorted(out.items())
