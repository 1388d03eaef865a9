"""Audio sources: resampling, chunking with context, files, and ALSA capture through a stand-in arecord."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge_agent.errors import SourceError
from edge_agent.sources.audio import AlsaSource, Chunker, Resampler, open_audio_source
from edge_agent.sources.signal_config import AudioSourceConfig


def _tone(freq: float, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(("src", "dst"), [(44100, 16000), (22050, 16000), (8000, 16000), (48000, 16000)])
def test_streaming_resampler_keeps_pitch_and_length(src: int, dst: int) -> None:
    x = _tone(440.0, src, 2.0)
    whole = Resampler(src, dst)(x)
    r = Resampler(src, dst)
    pieces = np.concatenate([r(x[i : i + 777]) for i in range(0, len(x), 777)])
    np.testing.assert_allclose(pieces, whole, atol=1e-5)  # chunk boundaries change nothing
    assert len(whole) == pytest.approx(2.0 * dst, abs=2)
    spectrum = np.abs(np.fft.rfft(whole[dst // 4 : dst // 4 + dst]))  # one second, away from the edges
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)


def test_downsampling_removes_what_the_new_rate_cannot_hold() -> None:
    # 7 kHz at 44.1 kHz would alias to 1 kHz at 8 kHz without the low-pass.
    y = Resampler(44100, 8000)(_tone(7000.0, 44100, 1.0))
    assert np.sqrt(np.mean(y[400:-400] ** 2)) < 0.02


def test_chunks_carry_context_of_the_previous_chunk() -> None:
    c = Chunker(chunk=4, context=2)
    frames = c.push(np.arange(1, 11, dtype=np.float32))
    assert [list(f) for f, _ in frames] == [[0, 0, 1, 2, 3, 4], [3, 4, 5, 6, 7, 8]]
    assert [o for _, o in frames] == [0, 4]
    assert [list(f) for f, _ in c.push(np.array([11, 12], np.float32))] == [[7, 8, 9, 10, 11, 12]]


def test_stereo_file_channel_pick_and_timestamps(tmp_path: Path) -> None:
    left, right = _tone(300, 16000, 1.0), np.zeros(16000, np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 16000)
    src = open_audio_source(
        AudioSourceConfig(kind="audio_file", path=str(path), chunk=1000, context=0, channel=1)
    )
    src.open()
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.close()
    assert len(frames) == 16
    assert all(not f.data.any() for f in frames)  # the silent right channel
    assert [f.index for f in frames] == list(range(16))
    assert frames[3].ts - frames[0].ts == pytest.approx(3 * 1000 / 16000)
    assert frames[3].meta["offset_s"] == pytest.approx(0.1875)


def test_missing_or_broken_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        open_audio_source(AudioSourceConfig(kind="audio_file", path=str(tmp_path / "none.wav"))).open()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(SourceError, match="cannot read as audio"):
        open_audio_source(AudioSourceConfig(kind="audio_file", path=str(bad))).open()


def _fake_arecord(tmp_path: Path, pcm: bytes, fail: bool = False) -> Path:
    """A stand-in for arecord that records its arguments and writes raw S16_LE to stdout."""
    raw = tmp_path / "pcm.raw"
    raw.write_bytes(pcm)
    script = tmp_path / "arecord"
    body = f"import sys\nopen({str(tmp_path / 'args')!r}, 'w').write(' '.join(sys.argv[1:]))\n" + (
        "sys.stderr.write('audio open error: No such device'); sys.exit(1)\n"
        if fail
        else f"sys.stdout.buffer.write(open({str(raw)!r}, 'rb').read())\n"
    )
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_alsa_capture_reads_pcm_from_arecord(tmp_path: Path) -> None:
    tone = _tone(500, 48000, 0.5)
    stereo = np.stack([tone, tone], axis=1)
    script = _fake_arecord(tmp_path, (stereo * 32767).astype("<i2").tobytes())
    cfg = AudioSourceConfig(
        kind="alsa",
        path="hw:1,0",
        capture_rate=48000,
        channels=2,
        rate=16000,
        chunk=512,
        context=64,
        arecord=str(script),
    )
    src = AlsaSource(cfg, "mic")
    assert src.live
    src.open()
    frames = [src.read() for _ in range(15)]  # 0.5 s at 16 kHz = 15.6 chunks
    assert all(f is not None and f.data.shape == (576,) for f in frames)
    with pytest.raises(SourceError, match="exited"):
        src.read()  # the stand-in ends: for a microphone that is a failure, retried by the capture
    src.close()
    assert (tmp_path / "args").read_text() == "-q -D hw:1,0 -t raw -f S16_LE -r 48000 -c 2"
    last = frames[-1]
    assert last is not None
    assert np.abs(last.data).max() == pytest.approx(0.5, abs=0.02)


def test_alsa_failure_carries_arecord_message(tmp_path: Path) -> None:
    script = _fake_arecord(tmp_path, b"", fail=True)
    src = AlsaSource(AudioSourceConfig(kind="alsa", arecord=str(script)))
    src.open()
    with pytest.raises(SourceError, match="No such device"):
        src.read()
    src.close()
    with pytest.raises(SourceError, match="alsa-utils"):
        AlsaSource(AudioSourceConfig(kind="alsa", arecord=str(tmp_path / "missing"))).open()
