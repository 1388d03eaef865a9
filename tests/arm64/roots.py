"""What the arm64 tests share: the skip when emulation cannot run here, and an installed arm64 root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "arm64"
CANNOT = 3  # rootfs.sh's exit code when this machine cannot emulate arm64 (not root, no binfmt)


def need_arm64() -> None:
    """Skip unless an arm64 root can run here: root, and qemu-aarch64 registered with binfmt_misc
    (rootfs.sh installs qemu-user-static and registers it when it can). Builds the base root once."""
    if os.geteuid() != 0:
        pytest.skip("arm64 under emulation needs root (chroot, mounts, binfmt_misc)")
    proc = subprocess.run(
        [str(SCRIPTS / "rootfs.sh")], capture_output=True, text=True, timeout=3600, check=False
    )
    if proc.returncode == CANNOT:
        pytest.skip(f"arm64 emulation unavailable: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr[-3000:]


def agent_root(dest: Path) -> Path:
    """`dest`: an arm64 root with this checkout's .deb installed (cached after the first build)."""
    need_arm64()
    proc = subprocess.run(
        [str(SCRIPTS / "agent-root.sh"), str(dest)], capture_output=True, text=True, timeout=5000, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dest
