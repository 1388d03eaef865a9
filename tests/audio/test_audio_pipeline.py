"""The whole audio path through the pipeline runner: FLAC → 16 kHz chunks → silero-vad → speech events."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config.models import PipelineConfig
from edge_agent.pipeline.runner import Pipeline
from edge_agent.stages.types import Outbound


def test_vad_pipeline_publishes_speech_segments_and_cpu(
    silero_model: Path, speech: tuple[Path, list[tuple[float, float]]]
) -> None:
    path, truth = speech
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "audio_file", "path": str(path), "rate": 16000, "chunk": 512, "context": 64},
            "model": {"path": str(silero_model)},
            "postprocess": {"kind": "vad", "min_silence_s": 0.25},
            "accounting": {"watts_per_busy_core": 2.5},
        }
    )
    out: list[Outbound] = []
    pipe = Pipeline("mic", cfg, out.append)
    pipe.start()
    assert pipe.finished.wait(60)
    pipe.stop()
    snap = pipe.snapshot()
    assert snap["failures"] == 0, snap["error"]
    results = [o.body for o in out if o.kind == "results"]
    events = [o.body for o in out if o.kind == "events"]
    assert len(results) == snap["inferred"] > 300
    assert {"speech_prob", "speech"} <= set(results[0]["output"])
    t0 = results[0]["ts"]  # the first chunk starts at offset 0
    starts = [e["ts"] - t0 for e in events if e["event"] == "start"]
    ends = [e["ts"] - t0 for e in events if e["event"] == "end"]
    assert len(starts) == len(ends) == len(truth)
    for s, e, (ts, te) in zip(starts, ends, truth, strict=True):
        assert s == pytest.approx(ts, abs=0.3)
        assert e == pytest.approx(te, abs=0.3)
    cpu = snap["cpu"]
    assert cpu["results"] == snap["inferred"]
    assert cpu["cpu_s_per_result"]["inference"] > 0
    assert cpu["energy_j_per_result_estimate"] == pytest.approx(cpu["cpu_s_per_result_total"] * 2.5, rel=1e-3)
