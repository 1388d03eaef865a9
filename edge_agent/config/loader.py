"""Read a YAML config into `AgentConfig`: the shared reader's limits, the schema, names that must fit the
topic tree, and relative paths made relative to the config file's folder. Every error has its key path
and line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edge_agent.bundle.settings import ClassificationPost, DetectionPost
from edge_agent.config.kinds import source_kinds
from edge_agent.config.models import AgentConfig
from edge_agent.config.names import check_names, models_of
from edge_agent.credentials import credential_path
from edge_agent.errors import ConfigError, ConfigIssue
from edge_agent.sources.sensor_config import ReplaySensorConfig
from edge_agent.sources.signal_config import AudioSourceConfig
from edge_agent.sources.video_config import SourceConfig
from edge_agent.text.source_paths import resolve_text_paths
from edge_agent.yamlfile.reader import YamlDoc, read_yaml_file, read_yaml_text
from edge_agent.yamlfile.validate import capped, validate_doc

FILE_KINDS = ("video", "folder", "audio_file", "csv", "jsonl")  # sources whose `path` is a file or folder


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config with the file it came from: `doc` gives the line of every key."""

    config: AgentConfig
    doc: YamlDoc
    base_dir: Path | None


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> AgentConfig:
    """Parse YAML text into an `AgentConfig`, or raise `ConfigError` listing every issue with its line.

    Relative paths in it are made relative to `base_dir` (the config file's folder) when given."""
    return _validated(read_yaml_text(text, source), base_dir).config


def read_config(path: str | Path) -> LoadedConfig:
    """Read and validate a config file, keeping its lines for later checks (config_checks.check_runnable)."""
    p = Path(path)
    return _validated(read_yaml_file(p), p.parent.resolve())


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate a config file."""
    return read_config(path).config


def _validated(doc: YamlDoc, base_dir: Path | None) -> LoadedConfig:
    if not isinstance(doc.data, dict):
        msg = "expected a mapping at the top (device, mqtt, pipelines...)"
        raise ConfigError(doc.source, [ConfigIssue("", 1, msg)])
    cfg = validate_doc(AgentConfig, doc, source_kinds())
    issues = check_names(cfg, doc)
    if issues:
        raise ConfigError(doc.source, capped(issues))
    return LoadedConfig(_resolve_paths(cfg, base_dir), doc, base_dir)


def _resolve_paths(cfg: AgentConfig, base_dir: Path | None) -> AgentConfig:
    """Relative paths in the file are relative to the file's folder, not to the working directory (nor to
    the model: a pipeline's labels_file too). Paths inside a bundle's manifest stay relative to the bundle."""
    state = os.environ.get("STATE_DIRECTORY")
    if state and "state_dir" not in cfg.device.model_fields_set:
        cfg.device.state_dir = Path(state.split(":")[0])
    if base_dir is None:
        return cfg

    def rel(p: Path) -> Path:
        return p if p.is_absolute() else base_dir / p

    for pipe in cfg.pipelines.values():
        for _loc, model in models_of(pipe):
            model.path = rel(model.path)
            model.trusted_keys = [rel(k) for k in model.trusted_keys]
        src = pipe.source
        if isinstance(src, SourceConfig | AudioSourceConfig | ReplaySensorConfig) and src.kind in FILE_KINDS:
            src.path = str(rel(Path(src.path)))
        resolve_text_paths(src, rel)
        post = pipe.postprocess
        if isinstance(post, ClassificationPost | DetectionPost) and post.labels_file is not None:
            post.labels_file = rel(post.labels_file)
    tls = cfg.mqtt.tls
    if tls is not None:
        for key in ("ca_file", "cert_file", "key_file"):
            value: Path | None = getattr(tls, key)
            if value is not None and not value.is_absolute():
                # A bare name handed over by systemd LoadCredential= is the credential; else the folder's.
                found = credential_path(value.name) if len(value.parts) == 1 else None
                setattr(tls, key, found or base_dir / value)
    commands = cfg.fleet.commands
    commands.trusted_keys = [rel(k) for k in commands.trusted_keys]
    if cfg.outbox.path is not None:
        cfg.outbox.path = rel(cfg.outbox.path)
    cfg.device.state_dir = rel(cfg.device.state_dir)
    return cfg
