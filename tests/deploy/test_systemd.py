"""The systemd units: `systemd-analyze verify` is clean, the security exposure stays at or under 3.0,
the template matches the main unit, and the unit grants what the hardware profiles need.

verify refuses a unit whose ExecStart program is missing on this machine. Rather than installing a stub
at /opt/edge-agent/bin (which would touch the machine) or using --root (it needs a whole systemd tree),
each test verifies a copy of the unit, byte for byte except ExecStart's program, which points at a stub
script in the test's temporary directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.doctor.checks import UNIT_GROUPS
from edge_agent.hardware import all_profiles

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
PROGRAM = "/opt/edge-agent/bin/edge-agent"
SA = shutil.which("systemd-analyze")
needs_sa = pytest.mark.skipif(SA is None, reason="systemd-analyze not installed (apt-get install systemd)")
MAX_EXPOSURE = 3.0


def _stubbed(tmp_path: Path, unit: str, as_name: str | None = None) -> Path:
    stub = tmp_path / "edge-agent"
    stub.write_text("#!/bin/sh\necho edge-agent stub\n")
    stub.chmod(0o755)
    text = (UNITS / unit).read_text()
    assert PROGRAM in text
    out = tmp_path / (as_name or unit)
    out.write_text(text.replace(PROGRAM, str(stub)))
    return out


def _exposure(unit: Path) -> float:
    assert SA is not None
    run = subprocess.run(
        [SA, "security", "--offline=true", "--threshold=30", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", run.stdout)
    assert found, run.stdout[-500:]
    return float(found.group(1))


@needs_sa
@pytest.mark.parametrize(
    ("unit", "as_name"), [("edge-agent.service", None), ("edge-agent@.service", "edge-agent@door.service")]
)
def test_verify_is_clean(tmp_path: Path, unit: str, as_name: str | None) -> None:
    path = _stubbed(tmp_path, unit, as_name)
    assert SA is not None
    run = subprocess.run([SA, "verify", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    # verify exits 0 on unknown keys and bad values too; they only show on stderr.
    assert run.stderr.strip() == "", run.stderr


@needs_sa
@pytest.mark.parametrize(
    ("unit", "as_name"), [("edge-agent.service", None), ("edge-agent@.service", "edge-agent@door.service")]
)
def test_security_exposure_at_most_3(tmp_path: Path, unit: str, as_name: str | None) -> None:
    score = _exposure(_stubbed(tmp_path, unit, as_name))
    assert score <= MAX_EXPOSURE
    documented = (REPO / "docs" / "deploy.md").read_text()
    assert f"exposure {score}" in documented, "docs/deploy.md must state the score this prints"


@needs_sa
def test_jit_drop_in_keeps_the_score(tmp_path: Path) -> None:
    unit = _stubbed(tmp_path, "edge-agent.service")
    dropin = tmp_path / "edge-agent.service.d"
    dropin.mkdir()
    shutil.copy(UNITS / "jit.conf", dropin / "jit.conf")
    score = _exposure(unit)
    assert score <= MAX_EXPOSURE
    assert f"exposure {score} with the jit drop-in" in (REPO / "docs" / "deploy.md").read_text()


def _lines(unit: str) -> list[str]:
    return [ln for ln in (UNITS / unit).read_text().splitlines() if ln and not ln.startswith("#")]


def test_template_is_the_main_unit_per_instance() -> None:
    """One set of settings: the template differs only where the instance name goes."""
    main, tmpl = _lines("edge-agent.service"), _lines("edge-agent@.service")
    assert len(main) == len(tmpl)
    differing = [(a, b) for a, b in zip(main, tmpl, strict=True) if a != b]
    assert differing, "the template must use %i"
    assert all("%i" in b for _, b in differing)


def _values(key: str) -> list[str]:
    return [ln.split("=", 1)[1] for ln in _lines("edge-agent.service") if ln.startswith(f"{key}=")]


def test_required_settings() -> None:
    assert _values("Type") == ["notify"]
    assert _values("ExecStart") == [f"{PROGRAM} run -c /etc/edge-agent/config.yaml"]
    assert _values("Restart") == ["on-failure"]
    assert _values("ConditionPathExists") == ["/etc/edge-agent/config.yaml"]
    assert _values("DevicePolicy") == ["closed"]
    assert _values("ProtectSystem") == ["strict"]
    assert _values("WatchdogSec")
    assert _values("StartLimitBurst")
    assert {v.split(":")[0] for v in _values("LoadCredential")} == {"mqtt-password", "client.key"}
    # Every LoadCredential has a default, or an absent file would fail the start.
    assert {v.split(":")[0] for v in _values("SetCredential")} == {"mqtt-password", "client.key"}


def test_groups_match_doctor() -> None:
    assert tuple(_values("SupplementaryGroups")[0].split()) == UNIT_GROUPS


# How each profile's accelerator nodes are let through DevicePolicy=closed.
DEVICE_RULES = {
    "/dev/accel/accel*": "char-accel",
    "/dev/nvmap": "/dev/nvmap",
    "/dev/nvhost-*": "char-nvhost-*",
    "/dev/nvgpu/igpu0/*": "char-nvgpu*",
    "/dev/fastrpc-cdsp*": "char-fastrpc*",
}


def test_device_allow_covers_every_profile() -> None:
    allowed = {v.split()[0] for v in _values("DeviceAllow")}
    for prof in all_profiles().values():
        for pattern in prof.accelerator.devices:
            assert pattern in DEVICE_RULES, f"{prof.name}: say how {pattern} passes DevicePolicy=closed"
            assert DEVICE_RULES[pattern] in allowed
        for group in prof.accelerator.groups:
            assert group in UNIT_GROUPS, f"{prof.name}: group {group} is not in SupplementaryGroups"
    assert {"char-video4linux", "char-i2c", "char-gpiochip"} <= allowed


MDWE_PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN (Linux 6.3+)
    sys.exit(77)
import numpy as np, onnxruntime as ort, cv2, paho.mqtt.client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from edge_agent.bundle.keys import PublicKey, signature_ok
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
s.run(None, {"x": np.zeros((1, 3, 32, 32), np.float32)})
k = Ed25519PrivateKey.generate()
assert signature_ok(PublicKey(k.public_key().public_bytes_raw()), k.sign(b"x"), b"x")  # PyNaCl (cffi)
cv2.resize(np.zeros((8, 8, 3), np.uint8), (4, 4))
"""


def test_cpu_stack_runs_under_memory_deny_write_execute(tiny_model: Path) -> None:
    """The unit's MemoryDenyWriteExecute=yes holds for the CPU EP, OpenCV, paho, PyNaCl and cryptography.

    The kernel's PR_SET_MDWE applies the same rule as systemd's seccomp filter (no W+X mappings, no
    mprotect that adds exec), so this runs the real stack under it.
    """
    run = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE, str(tiny_model)], capture_output=True, text=True, check=False
    )
    if run.returncode == 77:
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    assert run.returncode == 0, run.stderr[-2000:]
