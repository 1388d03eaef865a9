"""The arm64 system test (scripts/arm64/system-test.sh): the .deb built and installed in an emulated
Debian bookworm arm64 root, doctor on a Raspberry Pi 5 device tree, the agent on the demo video
publishing to this session's Mosquitto, the results received here on the host.

Root only (chroot, mounts, binfmt_misc). Cold, the root and the .deb are built (tens of minutes on a
busy machine); warm, both come from ~/.cache/edge-agent/arm64 (docs/deploy.md, "arm64 under emulation").
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.arm64.roots import SCRIPTS, need_arm64
from tests.conftest import Collector

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "edge/arm64-test/orientation/results"

pytestmark = [pytest.mark.arm64, pytest.mark.timeout(5400)]


class SystemRun:
    def __init__(self, out: Path, received: list[dict[str, Any]], log: str) -> None:
        self.out = out
        self.received = received
        self.log = log

    def text(self, name: str) -> str:
        return (self.out / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def system_run(mosquitto: Any, tmp_path_factory: pytest.TempPathFactory) -> SystemRun:
    need_arm64()
    out = tmp_path_factory.mktemp("arm64-system")
    collector = Collector(mosquitto.port, [TOPIC])
    try:
        proc = subprocess.run(
            [str(SCRIPTS / "system-test.sh"), "--port", str(mosquitto.port), "--out", str(out)],
            env={**os.environ, "EDGE_ARM64_PYTHON": str(ROOT / ".venv" / "bin" / "python")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=5000,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-4000:]
        frames = len(Path(out / "truth.txt").read_text().split())
        collector.wait_for(lambda m: len(m) >= frames, timeout=30)
        return SystemRun(out, collector.json(), proc.stdout)
    finally:
        collector.close()


def test_inside_the_root_the_machine_is_aarch64(system_run: SystemRun) -> None:
    # uname -m (the kernel's answer, as qemu-user reports it) and platform.machine() of the agent's venv
    assert system_run.text("machine.txt").split() == ["aarch64", "aarch64"]


def test_doctor_on_a_pi5_device_tree_picks_the_rpi5_profile(system_run: SystemRun) -> None:
    report = json.loads(system_run.text("doctor.json"))
    assert system_run.text("doctor.rc").strip() == "0", system_run.text("doctor.err")
    assert report["profile"] == "rpi5"
    assert "device-tree names 'Raspberry Pi 5'" in report["profile_reasons"]


def test_the_installed_agent_publishes_every_frame_to_the_host(system_run: SystemRun) -> None:
    import jsonschema

    truth = system_run.text("truth.txt").split()
    assert system_run.text("agent.rc").strip() == "0", system_run.text("agent.log")[-3000:]
    schema = json.loads((ROOT / "docs" / "result.schema.json").read_text())
    got = sorted(system_run.received, key=lambda r: r["frame"])
    assert [r["frame"] for r in got] == list(range(len(truth)))
    for r in got:
        jsonschema.validate(r, schema)
        assert r["model"] == "orinet-orientation"
    # OriNet fp32 on the aarch64 kernels: every orientation right, as on the host (the worked example)
    right = sum(r["output"]["top"][0]["label"] == truth[r["frame"]] for r in got)
    assert right == len(truth)
    # mosquitto_sub on the host saw the same results
    lines = system_run.text("results.jsonl").splitlines()
    assert sorted(json.loads(line)["frame"] for line in lines) == list(range(len(truth)))
