"""`edge-agent demo` (what `scripts/demo` runs) as a newcomer runs it: a real subprocess, a real broker
(Mosquitto when installed, else the embedded one), the real OriNet model. Everything it writes goes in
one temporary folder that must be gone afterwards, on success, on Ctrl-C, on SIGTERM and on an error;
`--keep` keeps it. Each run gets its own TMPDIR so the check sees only what the demo made.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.demo.broker import free_port

REPO = Path(__file__).resolve().parents[2]
# ONNX Runtime writes its telemetry session file `$TMPDIR/.ses` when it is imported (one fixed name,
# reused by every process that imports it): not the demo's.
NOT_OURS = {".ses"}

pytestmark = pytest.mark.slow
pytest.importorskip("skimage", reason="the demo video needs scikit-image (the demo extra)")


def _env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge_agent.cli.main", "demo", "--fps", "0", *args]


def _left(tmp: Path) -> set[str]:
    return {p.name for p in tmp.iterdir()} - NOT_OURS


def _wait_for_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 120) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return seen
    raise AssertionError(f"no line matching {pattern!r}; got {seen!r}")


def test_demo_gets_every_result_and_leaves_nothing(orinet_path: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    run = subprocess.run(
        _cmd("--frames-per-view", "1"),
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "12 results received over MQTT" in run.stdout
    assert re.search(r"12/12 orientations right", run.stdout), run.stdout
    assert _left(tmp) == set()


def test_keep_keeps_the_video_and_the_state(orinet_path: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    run = subprocess.run(
        _cmd("--frames-per-view", "1", "--keep"),
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    kept = re.search(r"^kept:\s+(\S+)", run.stdout, re.M)
    assert kept, run.stdout
    workdir = Path(kept.group(1))
    assert workdir.parent == tmp
    assert (workdir / "demo.avi").stat().st_size > 0
    assert (workdir / "state").is_dir()


def test_ctrl_c_while_running_prints_the_summary_and_cleans_up(orinet_path: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    proc = subprocess.Popen(
        _cmd("--frames-per-view", "1", "--loop"),
        env=_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(proc, r"^seq +\d+ ")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "results received over MQTT" in out
    assert _left(tmp) == set()


def test_sigterm_while_writing_the_video_cleans_up(orinet_path: Path, tmp_path: Path) -> None:
    """A long video (2,400 frames) so the signal lands while it is being written."""
    tmp = tmp_path / "tmp"
    proc = subprocess.Popen(
        _cmd("--frames-per-view", "200"),
        env=_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size > 0 for p in tmp.glob("edge-agent-demo-*/demo.avi")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the demo never started writing its video"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # 128 + SIGTERM when the signal lands before the agent starts (the usual case); 0 or 1 with the
    # summary if the video was already written and the agent had started.
    assert proc.returncode in (0, 1, 128 + signal.SIGTERM), out + err
    if proc.returncode == 128 + signal.SIGTERM:
        assert "interrupted (SIGTERM)" in err
    assert _left(tmp) == set()


def test_an_unreachable_broker_is_one_line_and_leaves_nothing(orinet_path: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    port = free_port()  # nothing listens there
    run = subprocess.run(
        _cmd("--frames-per-view", "1", "--broker", f"127.0.0.1:{port}"),
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"edge-agent: cannot reach the broker at 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr
    assert _left(tmp) == set()
