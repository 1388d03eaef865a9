"""Checks that need the whole config and its lines but no file system: names that would collide with the
topic tree, MQTT topic prefixes, execution provider names. parse_config runs them (so a remote `set`
gets them too)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import cache

from edge_agent.config.models import AgentConfig, PipelineConfig
from edge_agent.errors import ConfigIssue
from edge_agent.inference.config import ModelConfig
from edge_agent.sources.sensor_config import legacy_keys
from edge_agent.topics import DEVICE_LEVEL
from edge_agent.yamlfile.reader import Loc, YamlDoc, dotted

# What the agent publishes or subscribes to under `<prefix>/<device>/` besides pipelines: a pipeline
# named like one of these would have its results read as commands, replies or status.
RESERVED_PIPELINE_NAMES = frozenset({*DEVICE_LEVEL, "cmd", "reply"})

def models_of(pipe: PipelineConfig) -> Iterator[tuple[Loc, ModelConfig]]:
    """Every model a pipeline runs, with its key path below the pipeline."""
    yield ("model",), pipe.model
    if pipe.ensemble is not None:
        for i, member in enumerate(pipe.ensemble.members):
            yield ("ensemble", "members", i, "model"), member.model
    if pipe.cascade is not None:
        yield ("cascade", "large", "model"), pipe.cascade.large.model


@cache
def known_providers() -> tuple[str, ...]:
    """Every execution provider ONNX Runtime knows of (installed or not); empty if ORT is absent."""
    try:
        import onnxruntime as ort
    except ImportError:
        return ()
    return tuple(ort.get_all_providers())


def check_names(cfg: AgentConfig, doc: YamlDoc) -> list[ConfigIssue]:
    """Pipeline names that collide with the topic tree; execution providers ONNX Runtime does not know."""
    issues: list[ConfigIssue] = []
    for name, pipe in cfg.pipelines.items():
        loc: Loc = ("pipelines", name)
        if name in RESERVED_PIPELINE_NAMES:  # topics are case-sensitive: CMD does not collide
            reserved = ", ".join(sorted(RESERVED_PIPELINE_NAMES))
            msg = f"pipeline name collides with the agent's own topics under <prefix>/<device>/ ({reserved})"
            issues.append(ConfigIssue(dotted(loc), doc.line(loc), msg, repr(name)))
        for sub, model in models_of(pipe):
            issues.extend(_provider_issues((*loc, *sub), model, doc))
    issues.extend(legacy_source_keys(cfg, doc, errors=True))
    return issues


def legacy_source_keys(cfg: AgentConfig, doc: YamlDoc, *, errors: bool) -> list[ConfigIssue]:
    """Old keys of sensor sources (sources.sensor_config.legacy_keys): the errors (`errors=True`:
    an mqtt input's `host`/`port` naming another broker than `mqtt:`) or the deprecation warnings."""
    pipes = doc.data.get("pipelines") if isinstance(doc.data, dict) else None
    if not isinstance(pipes, dict):
        return []
    out: list[ConfigIssue] = []
    for name in cfg.pipelines:
        raw = pipes.get(name)
        source = raw.get("source") if isinstance(raw, dict) else None
        for found in legacy_keys(source, cfg.mqtt.host, cfg.mqtt.port):
            if found.error == errors:
                loc: Loc = ("pipelines", name, "source", found.key)
                out.append(ConfigIssue(dotted(loc), doc.line(loc), found.message))
    return out


def _provider_issues(loc: Loc, model: ModelConfig, doc: YamlDoc) -> Iterator[ConfigIssue]:
    known = known_providers()
    if not known or model.providers is None:
        return
    for i, spec in enumerate(model.providers):
        if spec.name in known:
            continue
        ploc = (*loc, "providers", i)
        close = difflib.get_close_matches(spec.name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see onnxruntime.get_all_providers()"
        msg = f"unknown execution provider: expected one of ONNX Runtime's providers ({hint})"
        yield ConfigIssue(dotted(ploc), doc.line(ploc), msg, repr(spec.name))
