"""The Raspberry Pi OS first-boot user-data: valid cloud-config, a config the agent accepts, secrets apart."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.config.loader import parse_config

USER_DATA = Path(__file__).resolve().parents[2] / "deploy" / "cloud-init" / "user-data.yaml"


def _doc() -> dict[str, Any]:
    text = USER_DATA.read_text()
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@pytest.mark.skipif(
    shutil.which("cloud-init") is None, reason="cloud-init not installed (apt-get install cloud-init)"
)
def test_cloud_init_schema_accepts_it() -> None:
    run = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(USER_DATA)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Valid cloud-config" in run.stdout


def _files() -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in _doc()["write_files"]}


def test_written_config_is_valid_for_the_agent() -> None:
    cfg = parse_config(_files()["/etc/edge-agent/config.yaml"]["content"], "user-data config.yaml")
    assert cfg.mqtt.port == 8883
    assert cfg.mqtt.tls is not None
    assert "password" not in _files()["/etc/edge-agent/config.yaml"]["content"]


def test_secret_goes_to_the_credential_file() -> None:
    cred = _files()["/etc/edge-agent/credentials/mqtt-password"]
    assert cred["permissions"] == "0600"


def test_installs_and_enables_the_service() -> None:
    cmds = [" ".join(c) if isinstance(c, list) else c for c in _doc()["runcmd"]]
    assert any("apt-get install -y /boot/firmware/onnx-edge-agent.deb" in c for c in cmds)
    assert "systemctl enable --now edge-agent.service" in cmds
    assert cmds.index("chgrp edge-agent /etc/edge-agent/config.yaml") > 0, "after the package made the group"
