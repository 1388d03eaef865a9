"""silero-vad on espeak-ng speech read from FLAC, resampled 22.05 → 16 kHz, chunked with context."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
import soundfile as sf

from edge_agent.bundle.settings import VadPost
from edge_agent.events.threshold import Threshold
from edge_agent.inference.streaming import vad_session
from edge_agent.postprocess.vad import Vad
from edge_agent.sources.audio import AudioFileSource
from edge_agent.sources.signal_config import AudioSourceConfig


def _segments(model: Path, audio: Path) -> tuple[list[tuple[float, float]], int]:
    cfg = VadPost()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    session = vad_session(
        ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"]), cfg, 16000
    )
    post, events = Vad(cfg), Threshold(cfg.events())
    src = AudioFileSource(
        AudioSourceConfig(kind="audio_file", path=str(audio), rate=16000, chunk=512, context=64)
    )
    src.open()
    t0, frames, seen = None, 0, []
    while (frame := src.read()) is not None:
        assert frame.data.shape == (576,)
        t0 = frame.ts - frame.meta["offset_s"] if t0 is None else t0
        out = post(session.run({"input": frame.data[None, :]}), None)
        seen += events.update(out, frame.ts)
        frames += 1
    src.close()
    assert t0 is not None
    seen += events.flush(frame_end := t0 + frames * 512 / 16000)
    assert all(e["ts"] <= frame_end for e in seen)
    starts = [e["ts"] - t0 for e in seen if e["event"] == "start"]
    ends = [e["ts"] - t0 for e in seen if e["event"] == "end"]
    return list(zip(starts, ends, strict=True)), frames


def test_speech_segments_match_truth(
    silero_model: Path, speech: tuple[Path, list[tuple[float, float]]]
) -> None:
    path, truth = speech
    segments, frames = _segments(silero_model, path)
    assert len(segments) == len(truth), (segments, truth)
    for (start, end), (t_start, t_end) in zip(segments, truth, strict=True):
        assert start == pytest.approx(t_start, abs=0.3)
        assert end == pytest.approx(t_end, abs=0.3)
    duration = sf.info(str(path)).duration  # every sample reached the model, at the model's rate
    assert frames * 512 / 16000 == pytest.approx(duration, abs=2 * 512 / 16000)


def test_silence_and_noise_give_no_speech(silero_model: Path, noise: Path) -> None:
    segments, frames = _segments(silero_model, noise)
    assert frames > 200
    assert segments == []
