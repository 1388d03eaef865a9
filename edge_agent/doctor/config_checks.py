"""Checks of a config file as the service would use it: it parses, the broker answers on TCP, TLS files
and the password are where the agent will look, models and cameras exist."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from edge_agent.config.checks import missing_files
from edge_agent.config.loader import LoadedConfig, read_config
from edge_agent.config.models import AgentConfig
from edge_agent.credentials import credential_path, read_secret
from edge_agent.doctor.probe import Root
from edge_agent.doctor.report import Report
from edge_agent.errors import ConfigError
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.pipeline.layout import inference_budget, plan, shares
from edge_agent.sources.video_config import SourceConfig


def check_broker(report: Report, host: str, port: int, timeout: float) -> None:
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            reason = f"no answer within {timeout:g}s"
        report.add(
            "error",
            "broker",
            f"cannot open a TCP connection to {host}:{port}: {reason}",
            "start the broker, check mqtt.host / mqtt.port in the config and any firewall between "
            "(TLS brokers usually listen on 8883)",
        )
        return
    ms = (time.perf_counter() - t0) * 1000
    report.add("ok", "broker", f"{host}:{port} accepts TCP connections ({ms:.0f} ms)")


CREDENTIAL_SOURCE = "/etc/edge-agent/credentials"


def _locate(root: Root, raw: Path, resolved: Path) -> tuple[Path, str]:
    """Where a TLS file named in the config really is, as the service will see it.

    `raw` is the value written, `resolved` the loader's (relative: the config's folder, or the
    credential). A bare name or a /run/credentials/... path is a systemd credential: inside the service
    it is in $CREDENTIALS_DIRECTORY; from a shell, doctor checks the file LoadCredential= reads it from.
    """
    if not raw.is_absolute() and resolved.is_file():
        return resolved, str(resolved)
    if len(raw.parts) == 1 or (raw.parts[1:2] == ("run",) and "credentials" in raw.parts):
        found = credential_path(raw.name)
        if found is not None:
            return found, str(found)
        if raw.is_absolute() and raw.is_file():
            return raw, str(raw)
        source = f"{CREDENTIAL_SOURCE}/{raw.name}"
        return root.path(source), f"{raw} (from {source})"
    if not raw.is_absolute():
        return resolved, str(resolved)
    return root.path(raw), str(raw)


def _tls_file(report: Report, root: Root, key: str, where: str, located: tuple[Path, str]) -> None:
    real, shown = located
    if not real.is_file() or real.stat().st_size == 0:
        report.add(
            "error",
            "tls",
            f"mqtt.tls.{key} ({where}) {shown} does not exist or is empty",
            "copy the PEM file there (keys: into /etc/edge-agent/credentials/, 0600 root, and name "
            "/run/credentials/edge-agent.service/<file> in the config)",
        )
        return
    if not os.access(real, os.R_OK):
        report.add(
            "error",
            "tls",
            f"mqtt.tls.{key} ({where}) {shown} is not readable by this user",
            f"chgrp edge-agent {shown} && chmod 0640 {shown}, or pass it with LoadCredential=",
        )
        return
    if b"-----BEGIN" not in real.read_bytes()[:4096]:
        report.add(
            "warn",
            "tls",
            f"mqtt.tls.{key} ({where}) {shown} is not PEM",
            "convert it: openssl x509 -outform PEM",
        )
        return
    report.add("ok", "tls", f"mqtt.tls.{key} ({where}) {shown} is readable PEM")


def check_tls_and_secrets(report: Report, loaded: LoadedConfig, root: Root) -> None:
    mqtt = loaded.config.mqtt
    if mqtt.tls is not None:
        raw_tls = loaded.doc.data.get("mqtt", {}).get("tls", {})
        for key in ("ca_file", "cert_file", "key_file"):
            value = getattr(mqtt.tls, key)
            if value is not None:
                loc = ("mqtt", "tls", key)
                where = f"line {loaded.doc.line(loc)}"
                raw = Path(str(raw_tls.get(key, value)))
                _tls_file(report, root, key, where, _locate(root, raw, Path(value)))
        if mqtt.port == 1883:
            report.add(
                "warn", "tls", "TLS is configured on port 1883", "brokers serve TLS on 8883 by default"
            )
    # An empty secret is none: the unit's SetCredential= default for an absent file is empty.
    if mqtt.username and not read_secret("mqtt-password", mqtt.password_env):
        report.add(
            "warn",
            "credentials",
            f"user {mqtt.username} has no password in $CREDENTIALS_DIRECTORY/mqtt-password "
            f"or ${mqtt.password_env} (doctor sees the service's credentials only when run inside it)",
            "put it in /etc/edge-agent/credentials/mqtt-password (0600 root), loaded by LoadCredential=",
        )


_FIXES = {
    "model": "copy the bundle or .onnx file there (bundles go under the state directory); relative paths "
    "are relative to the config file's folder",
    "files": "put the file there, or fix the path (relative paths are relative to the config file's folder)",
}


def check_pipelines(report: Report, loaded: LoadedConfig, root: Root) -> None:
    """Every file the config names (models, labels, file sources, keys) and every camera."""
    for issue in missing_files(loaded, tls=False):
        topic = "model" if ".model." in f".{issue.path}." or issue.path.endswith("model.path") else "files"
        report.add("error", topic, str(issue), _FIXES[topic])
    for name, pipe in loaded.config.pipelines.items():
        if not pipe.enabled:
            continue
        src = pipe.source
        if isinstance(src, SourceConfig) and src.kind == "camera":
            dev = f"/dev/video{src.path}" if src.path.isdigit() else src.path
            if not root.path(dev).exists():
                report.add(
                    "error",
                    "cameras",
                    f"pipelines.{name}.source.path {dev} is absent",
                    "plug the camera in and check `v4l2-ctl --list-devices`; a CSI camera on a Pi needs "
                    "its overlay enabled in /boot/firmware/config.txt",
                )


def check_config(report: Report, path: Path, root: Root, timeout: float) -> AgentConfig | None:
    """Load the config and run its checks; None (with an error finding) when it does not load."""
    try:
        loaded = read_config(path)
    except ConfigError as exc:
        report.add("error", "config", str(exc).replace("\n", " "), "fix the lines named above")
        return None
    cfg = loaded.config
    report.add("ok", "config", f"{path} is valid ({len(cfg.pipelines)} pipeline(s))")
    check_broker(report, cfg.mqtt.host, cfg.mqtt.port, timeout)
    check_tls_and_secrets(report, loaded, root)
    check_pipelines(report, loaded, root)
    return cfg


def check_threads(report: Report, cfg: AgentConfig, profile: HardwareProfile | None, cores: int) -> None:
    """One line per enabled pipeline: the thread layout `edge-agent run` would choose here (before the
    model opens: a bundle whose manifest says vad still gets one worker then)."""
    share = shares(cfg.pipelines, profile, cores or None)
    for name, layout_cores in share.items():
        pipe = cfg.pipelines[name]
        layout = plan(pipe, layout_cores, low_memory=bool(profile and profile.low_memory))
        budget = inference_budget(profile, cores or None)
        report.add("info", "threads", f"pipelines.{name}: {layout.describe()} (budget {budget} core(s))")
