"""The two ways into an arm64 root enter it the same way: scripts/arm64/in-root.sh (the system test,
the .deb build) and exporters/device_check_chroot.py (edge-export device-check) run one mount script."""

from __future__ import annotations

import re
import subprocess

from exporters.device_check_chroot import DEFAULT_CPU, ENTER
from tests.arm64.roots import SCRIPTS


def test_in_root_sh_runs_the_exporter_s_mount_script() -> None:
    text = (SCRIPTS / "in-root.sh").read_text(encoding="utf-8")
    m = re.search(r"/bin/sh -ec '\n(.*?)' in-root ", text, re.S)
    assert m is not None, "in-root.sh: no mount script between /bin/sh -ec '...' and in-root"
    assert m.group(1) == ENTER
    assert f'cpu="${{EDGE_ARM64_CPU:-{DEFAULT_CPU}}}"' in text


def test_the_mount_script_is_valid_sh() -> None:
    proc = subprocess.run(["sh", "-n", "-c", ENTER], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
