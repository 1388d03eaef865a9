"""The camera/stream goes away mid-run and comes back: the pipeline keeps running and resumes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.demo.broker import LocalBroker, free_port
from tests.helpers import serve, wait


@pytest.mark.slow
def test_stream_disappears_and_comes_back_pipeline_resumes(
    mosquitto: LocalBroker, fast_config: Any, video_2000: Path, persistent_subscriber: Any, device_id: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/{video_2000.name}"
    sub = persistent_subscriber(mosquitto.port, f"edge/{device_id}/+/results")
    srv = serve(video_2000.parent, port)
    agent = Agent(
        fast_config(
            mosquitto.port, source={"kind": "stream", "path": url, "retry_min_s": 0.2, "retry_max_s": 1}
        )
    )
    agent.start()
    pipe = agent.pipelines["fast"]
    source = lambda: pipe.snapshot()["source"]  # noqa: E731
    try:
        assert wait(lambda: pipe.inferred > 100, 30), agent.status()
        srv.shutdown()
        srv.server_close()  # the camera is gone
        assert wait(lambda: source()["state"] == "retrying", 30), source()
        time.sleep(0.5)  # the frame or two already decoded before the stream went away still finish
        gone_at = pipe.inferred
        time.sleep(2)
        assert pipe.state == "running"
        assert source()["state"] == "retrying"
        assert "cannot open stream" in (source()["last_error"] or "")
        assert pipe.inferred == gone_at  # nothing to infer while it is away
        srv = serve(video_2000.parent, port)  # and back
        assert wait(lambda: pipe.inferred > gone_at + 100, 30), source()
        assert pipe.state == "running"
        assert wait(lambda: agent.outbox.depth == 0, 20)
    finally:
        agent.stop(drain_s=1)
        srv.shutdown()
        srv.server_close()
    last = agent.outbox.stats.last_seq["fast"]
    assert sub.wait_unique(last, 20)
    (rep,) = sub.tracker.report(expect_last={(device_id, "fast"): last})
    assert rep.missing == []
