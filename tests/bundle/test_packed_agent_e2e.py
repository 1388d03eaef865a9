"""End to end: a real `edge-agent run` process whose model.path is a signed `.bundle.tgz` publishes its
results over a real Mosquitto; a second start reuses the unpacked copy; a bad archive is refused."""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.archive import pack
from edge_agent.bundle.sign import public_pem
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker
from tests.faults.conftest import AgentProcess, tiny_model, write_video
from tests.remote.update.bundle_factory import bundle_from_model

__all__ = ["tiny_model"]  # the fault tests' model fixture, used below

FRAMES = 24


def _wait_for_log(proc: AgentProcess, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.stderr():
        assert proc.proc.poll() is None, proc.stderr()
        assert time.monotonic() < deadline, proc.stderr()
        time.sleep(0.05)


def _stop(proc: AgentProcess) -> None:
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, proc.stderr()


@pytest.fixture
def tiny_colour(tiny_model: Path) -> Path:
    """The fault tests' tiny real ONNX model (tests/faults/conftest.py)."""
    return tiny_model


def _config(
    port: int, device: str, *, state: Path, video: Path, model: Path, trusted: Path, loop: bool = False
) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "device": {"id": device, "state_dir": str(state)},
            "mqtt": {"host": "127.0.0.1", "port": port},
            "outbox": {"commit_interval_ms": 20},
            "log_level": "info",
            "pipelines": {
                "colour": {
                    "source": {"kind": "video", "path": str(video), "loop": loop},
                    "model": {"path": str(model), "trusted_keys": [str(trusted)]},
                }
            },
        }
    )


@pytest.mark.slow
def test_agent_runs_a_packed_bundle_and_reuses_its_unpacked_copy(
    tmp_path: Path, mosquitto: LocalBroker, collector_factory: Any, device_id: str, tiny_colour: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    trusted = tmp_path / "release.pub"
    trusted.write_bytes(public_pem(key.public_key()))
    bundle = bundle_from_model(
        tmp_path / "colour",
        tiny_colour,
        key,
        name="colour",
        version="1.2",
        preprocess={"size": [16, 16]},
        postprocess={"kind": "classification", "labels": ["r", "g", "b"], "top_k": 1},
    )
    archive = pack(bundle, tmp_path / "colour.bundle.tgz")
    video = write_video(tmp_path / "v.avi", FRAMES)
    state = tmp_path / "state"
    cfg = _config(
        mosquitto.port, device_id, state=state, video=video, model=archive, trusted=trusted, loop=True
    )
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/colour/results"])

    first = AgentProcess(cfg, tmp_path)
    assert col.wait_for(lambda ms: len(ms) >= FRAMES, timeout=60), first.stderr()
    _stop(first)
    results = col.json()
    assert {r["model"] for r in results} == {"colour@1.2"}  # the bundle's manifest named the model
    assert all(r["output"]["top"][0]["label"] in {"r", "g", "b"} for r in results)
    unpacked = state / "packed" / hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (unpacked / "manifest.json").is_file()
    assert "unpacked and verified into" in first.stderr()
    inode = (unpacked / "model.onnx").stat().st_ino

    second = AgentProcess(cfg, tmp_path)
    # Results of the first run can still be reaching the collector: count from the moment the second
    # run has its model open (its SIGTERM handler is in place by then), not from its launch.
    _wait_for_log(second, "reusing the unpacked copy")
    seen = len(col.messages)
    assert col.wait_for(lambda ms: len(ms) >= seen + FRAMES, timeout=60), second.stderr()
    _stop(second)
    assert "reusing the unpacked copy" in second.stderr()
    assert "unpacked and verified into" not in second.stderr()
    assert (unpacked / "model.onnx").stat().st_ino == inode  # the same files, not unpacked again
    assert [p.name for p in (state / "packed").iterdir()] == [unpacked.name]


@pytest.mark.slow
def test_agent_refuses_a_packed_bundle_signed_by_another_key(
    tmp_path: Path, mosquitto: LocalBroker, device_id: str, tiny_colour: Path
) -> None:
    trusted = tmp_path / "release.pub"
    trusted.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    bundle = bundle_from_model(
        tmp_path / "colour",
        tiny_colour,
        Ed25519PrivateKey.generate(),
        name="colour",
        version="1.2",
        preprocess={"size": [16, 16]},
        postprocess={"kind": "classification", "labels": ["r", "g", "b"], "top_k": 1},
    )
    archive = pack(bundle, tmp_path / "colour.bundle.tgz")
    video = write_video(tmp_path / "v.avi", 4)
    state = tmp_path / "state"
    cfg = _config(mosquitto.port, device_id, state=state, video=video, model=archive, trusted=trusted)
    proc = AgentProcess(cfg, tmp_path, "--until-done")
    assert proc.wait(120) == 1
    err = proc.stderr()
    assert "packed bundle refused" in err
    assert "signature does not verify with any trusted key" in err
    assert "Traceback" not in err
    assert not (state / "packed").exists() or not list((state / "packed").iterdir())
