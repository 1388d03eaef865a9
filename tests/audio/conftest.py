"""Real speech for the audio tests: espeak-ng utterances placed between stretches of quiet noise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile", reason="the audio extra (soundfile) is not installed")
silero_vad = pytest.importorskip("silero_vad", reason="silero-vad is not installed (install-test-models.sh)")

RATE = 22050  # espeak-ng's output rate: the source must resample it to 16 kHz
UTTERANCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Turn on the kitchen lights please.",
]


@pytest.fixture(scope="session")
def silero_model() -> Path:
    path = Path(silero_vad.__file__).parent / "data" / "silero_vad.onnx"
    assert path.is_file(), path
    return path


def _say(text: str, out: Path) -> np.ndarray:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed")
    subprocess.run([espeak, "-w", str(out), text], check=True, capture_output=True)
    x, sr = sf.read(str(out), dtype="float32")
    assert sr == RATE
    return x


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float]]]:
    """1.5 s quiet, utterance, 2 s quiet, utterance, 1.5 s quiet, written as FLAC; with the truth:
    (start, end) seconds of each utterance's audible part."""
    tmp = tmp_path_factory.mktemp("speech")
    rng = np.random.default_rng(7)
    gaps = [1.5, 2.0, 1.5]
    parts: list[np.ndarray] = []
    truth: list[tuple[float, float]] = []
    t = 0.0
    for i, text in enumerate(UTTERANCES):
        parts.append(np.zeros(int(gaps[i] * RATE), np.float32))
        t += gaps[i]
        x = _say(text, tmp / f"u{i}.wav")
        audible = np.flatnonzero(np.abs(x) > 0.01)
        truth.append((t + audible[0] / RATE, t + audible[-1] / RATE))
        parts.append(x)
        t += len(x) / RATE
    parts.append(np.zeros(int(gaps[-1] * RATE), np.float32))
    signal = np.concatenate(parts)
    signal += rng.normal(0, 0.002, signal.shape).astype(np.float32)  # a quiet room, not digital zero
    path = tmp / "speech.flac"
    sf.write(str(path), signal, RATE)
    return path, truth


@pytest.fixture(scope="session")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s of silence then loud-ish white and brown noise, no speech."""
    rng = np.random.default_rng(3)
    white = rng.normal(0, 0.05, 3 * RATE)
    brown = np.cumsum(rng.normal(0, 0.01, 3 * RATE))
    brown = 0.2 * brown / np.abs(brown).max()
    signal = np.concatenate([np.zeros(2 * RATE), white, brown]).astype(np.float32)
    path = tmp_path_factory.mktemp("noise") / "noise.wav"
    sf.write(str(path), signal, RATE)
    return path
