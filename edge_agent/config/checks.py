"""Whether a valid config can run on this machine: every file it names exists (model, labels, TLS,
trusted keys, file sources), its hardware profile loads, its execution providers are installed.

`config validate`, `run` (before anything starts) and `doctor -c` use it; each finding names the key
path and line. Missing files are errors; an execution provider that is not installed here is a warning
(the agent would fall back to CPU, or refuse the pipeline with `require_accelerator: true`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.bundle.settings import ClassificationPost, DetectionPost
from edge_agent.config.loader import LoadedConfig
from edge_agent.config.models import PipelineConfig
from edge_agent.config.names import legacy_source_keys, models_of
from edge_agent.errors import ConfigError, ConfigIssue
from edge_agent.hardware.profile import load_profile
from edge_agent.sources.sensor_config import ReplaySensorConfig
from edge_agent.sources.signal_config import AudioSourceConfig
from edge_agent.sources.video_config import SourceConfig
from edge_agent.text.source_paths import text_path_problems
from edge_agent.yamlfile.reader import Loc, dotted

FILE_SOURCES = ("video", "audio_file", "csv", "jsonl")


@dataclass(slots=True)
class Findings:
    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)


def check_runnable(loaded: LoadedConfig, available: list[str] | None = None) -> Findings:
    """Files that must exist and providers that must be installed; `available` overrides ORT's list."""
    cfg = loaded.config
    found = Findings(errors=missing_files(loaded))
    if cfg.device.hardware_profile is not None:
        _profile(loaded, cfg.device.hardware_profile, found)
    found.warnings.extend(_provider_warnings(loaded, available))
    found.warnings.extend(legacy_source_keys(cfg, loaded.doc, errors=False))  # deprecated sensor keys
    return found


def missing_files(loaded: LoadedConfig, *, tls: bool = True) -> list[ConfigIssue]:
    """One error per file the config names that is not there (`tls=False`: leave the TLS files out)."""
    cfg, files = loaded.config, _Files(loaded)
    for name, pipe in cfg.pipelines.items():
        if pipe.enabled:
            files.pipeline(("pipelines", name), pipe)
    if tls and cfg.mqtt.tls is not None:
        for key in ("ca_file", "cert_file", "key_file"):
            value: Path | None = getattr(cfg.mqtt.tls, key)
            if value is not None:
                files.need(("mqtt", "tls", key), value, "expected a PEM file")
    for i, key_path in enumerate(cfg.fleet.commands.trusted_keys):
        files.need(("fleet", "commands", "trusted_keys", i), key_path, "expected a public key file")
    return files.errors


class _Files:
    """Collects one error per missing file, with the key's path and line."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.errors: list[ConfigIssue] = []

    def need(self, loc: Loc, path: Path, what: str, *, folder_ok: bool = False, folder: bool = False) -> None:
        if path.is_dir() if folder else (path.is_file() or (folder_ok and path.is_dir())):
            return
        state = "does not exist"
        if path.exists():
            state = "is not a folder" if folder else "is a folder"
        msg = f"{path} {state}; {what}"
        self.errors.append(ConfigIssue(dotted(loc), self.loaded.doc.line(loc), msg))

    def pipeline(self, base: Loc, pipe: PipelineConfig) -> None:
        for sub, model in models_of(pipe):
            loc = (*base, *sub)
            what = "expected a .onnx file, a bundle directory or a .bundle.tgz"
            self.need((*loc, "path"), model.path, what, folder_ok=True)
            for i, key in enumerate(model.trusted_keys):
                self.need((*loc, "trusted_keys", i), key, "expected a public key file")
        src = pipe.source  # serial, iio, mqtt: a port, a device folder, a topic (opened at run time)
        if isinstance(src, SourceConfig | AudioSourceConfig | ReplaySensorConfig):
            if src.kind in FILE_SOURCES:
                what = f"expected a file for a {src.kind} source"
                self.need((*base, "source", "path"), Path(src.path), what)
            elif src.kind == "folder":
                what = "expected a folder of images"
                self.need((*base, "source", "path"), Path(src.path), what, folder=True)
        for sub_key, msg in text_path_problems(src):
            loc = (*base, "source", sub_key)
            self.errors.append(ConfigIssue(dotted(loc), self.loaded.doc.line(loc), msg))
        post = pipe.postprocess
        if isinstance(post, ClassificationPost | DetectionPost) and post.labels_file is not None:
            what = "expected a text file, one label per line"
            self.need((*base, "postprocess", "labels_file"), post.labels_file, what)


def _profile(loaded: LoadedConfig, name: str, found: Findings) -> None:
    loc = ("device", "hardware_profile")
    try:
        load_profile(name)
    except ConfigError as exc:
        first = exc.issues[0]
        msg = f"hardware profile {name!r} does not load: {first}"
        found.errors.append(ConfigIssue(dotted(loc), loaded.doc.line(loc), msg))


def _provider_warnings(loaded: LoadedConfig, available: list[str] | None) -> Iterator[ConfigIssue]:
    if available is None:
        try:
            import onnxruntime as ort
        except ImportError:
            return
        available = list(ort.get_available_providers())
    for name, pipe in loaded.config.pipelines.items():
        if not pipe.enabled:
            continue
        for sub, model in models_of(pipe):
            for i, spec in enumerate(model.providers or []):
                if spec.name in available:
                    continue
                loc = ("pipelines", name, *sub, "providers", i)
                then = (
                    "the pipeline will not start (require_accelerator: true)"
                    if model.require_accelerator
                    else "the pipeline would fall back to the next provider, at worst CPUExecutionProvider"
                )
                msg = f"execution provider {spec.name} is not installed here: {then}"
                yield ConfigIssue(dotted(loc), loaded.doc.line(loc), msg)
