"""docs/exporter.md's worked example, run as written: images, key, export, verify, the agent, MQTT.

The bash block after the `worked-example` marker is taken from the doc itself and run in an empty
directory with this venv's commands first on PATH, so the doc cannot drift from what works. The
only change: the broker's port 1884 becomes a free one, so the test never meets a broker already
running on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "exporter.md"
MARKER = "<!-- worked-example: tests/exporters/test_worked_example.py runs the next bash block -->"

pytestmark = pytest.mark.slow


def worked_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert text.index(MARKER) < text.index("## Commands"), "the worked example must come first"
    m = re.search(re.escape(MARKER) + r"\n```bash\n(.*?)\n```\n", text, re.S)
    assert m is not None, f"{DOC}: no bash block after the worked-example marker"
    return m.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_doc_starts_with_the_worked_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    first = text.index("\n## ")
    assert text[first:].startswith("\n## Worked example")
    script = worked_example()
    for command in ("edge-export keygen", "edge-export build", "edge-export verify", "edge-agent run"):
        assert command in script


@pytest.mark.timeout(900)  # about a minute quiet; the subprocess's own limit comes first
def test_worked_example_runs_to_a_signed_bundle_in_the_agent(tmp_path: Path) -> None:
    pytest.importorskip("occular_deskew", reason="the demo extra (scripts/install-test-models.sh)")
    pytest.importorskip("skimage", reason="the demo extra")
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run does)")
    script = worked_example().replace("1884", str(_free_port()))
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([bindir, "/usr/sbin", os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,  # about a minute quiet; generous for a loaded machine
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:]
    assert "calib: 32 images; holdout: 16" in out
    assert "preprocess imagenet, letterbox on grey 255 (resize from the source)" in out
    assert re.search(r"gate: top1_agreement = [\d.]+ \(max drop 0.03\) passed", out), out
    assert "ok: orinet@1 (classification, static-qdq), signed by " in out
    assert "OK: agent.yaml (1 pipeline(s): orientation)" in out
    assert "36 results over MQTT from model orinet@1; 36/36 orientations right" in out
    assert (tmp_path / "bundles" / "orinet.bundle.tgz").is_file()
    assert (tmp_path / "keys" / "release.pub").is_file()
