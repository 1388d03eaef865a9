"""deploy/install.sh's plan for each kind of device (the plan is printed before anything changes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

INSTALL = Path(__file__).resolve().parents[2] / "deploy" / "install.sh"


def _plan(tmp_path: Path, arch: str, tegra: bool = False, *args: str) -> subprocess.CompletedProcess[str]:
    osr = tmp_path / "os-release"
    osr.write_text('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    tegra_file = tmp_path / "nv_tegra_release"
    if tegra:
        tegra_file.write_text(
            "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64\n"
        )
    env = {
        "PATH": "/usr/bin:/bin",
        "EDGE_AGENT_OS_RELEASE": str(osr),
        "EDGE_AGENT_TEGRA_RELEASE": str(tegra_file),
        "EDGE_AGENT_ARCH": arch,
    }
    return subprocess.run(
        [str(INSTALL), "--plan", *args], capture_output=True, text=True, env=env, check=False
    )


def test_pi_os_arm64_plan(tmp_path: Path) -> None:
    run = _plan(tmp_path, "aarch64")
    assert run.returncode == 0, run.stderr
    assert "target debian 12, aarch64; onnxruntime from onnxruntime" in run.stdout


def test_32_bit_os_is_refused_with_the_reason(tmp_path: Path) -> None:
    run = _plan(tmp_path, "armv7l")
    assert run.returncode == 1
    assert "64-bit" in run.stderr


def test_jetson_needs_jetpack_wheel_and_system_site_packages(tmp_path: Path) -> None:
    run = _plan(tmp_path, "aarch64", True)
    assert run.returncode == 1
    assert "--ort-wheel" in run.stderr
    wheel = "onnxruntime_gpu-1.23.0-cp310-cp310-linux_aarch64.whl"
    run = _plan(tmp_path, "aarch64", True, "--ort-wheel", wheel)
    assert run.returncode == 0, run.stderr
    assert f"onnxruntime from {wheel}" in run.stdout
    assert "--system-site-packages" in run.stdout


@pytest.mark.parametrize("script", ["install.sh", "build-deb.sh", "make-venv.sh"])
def test_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(INSTALL.parent / script)], check=True)
