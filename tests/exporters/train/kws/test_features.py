"""The in-graph log-mel front: exported to ONNX it matches numpy's FFT on real speech, with plain ops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra")
onnx = pytest.importorskip("onnx", reason="needs the export extra")

from exporters.metrics import session  # noqa: E402
from exporters.train.export import to_onnx  # noqa: E402
from exporters.train.kws.features import (  # noqa: E402
    LogMel,
    MelSpec,
    mel_filterbank,
    reference_logmel,
)
from exporters.train.kws.speech import Rendition, espeak, say  # noqa: E402

PLAIN_OPS = {"Conv", "Slice", "Mul", "Add", "Transpose", "MatMul", "Log", "Unsqueeze", "Constant", "Shape",
             "Gather", "Squeeze"}  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """A second of real espeak-ng speech over quiet noise, 16 kHz."""
    tmp = tmp_path_factory.mktemp("say")
    word = say(Rendition("seven", "en-us+f2", 150, 50), 16000, espeak(), tmp / "w.wav")
    x = np.random.default_rng(0).normal(0, 0.003, 16000).astype(np.float32)
    x[2000 : 2000 + len(word)] += word[:14000]
    return x


@pytest.mark.parametrize("spec", [MelSpec(), MelSpec(n_fft=512, hop=128, n_mels=64)])
def test_onnx_logmel_matches_numpy_fft(spec: MelSpec, clip: np.ndarray, tmp_path: Path) -> None:
    path = to_onnx(LogMel(spec), clip[None], tmp_path / "logmel.onnx")
    got = session(path).run(None, {"input": clip[None]})[0][0, 0]
    want = reference_logmel(clip, spec)
    assert got.shape == want.shape == (spec.n_mels, spec.frames(len(clip)))
    # Log power: float32 convolution against float64 FFT. Bands with real energy agree to 1e-3 nats;
    # the near-silent ones (power ~1e-6) differ more in absolute log, so they are held to 0.05.
    loud = want > np.log(1e-3)
    assert loud.mean() > 0.2  # the clip really has speech in it
    np.testing.assert_allclose(got[loud], want[loud], atol=1e-3)
    np.testing.assert_allclose(got, want, atol=0.05)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ops <= PLAIN_OPS, ops - PLAIN_OPS  # no STFT/DFT op: every EP and the quantizer know these


def test_mel_filterbank_triangles_cover_the_band_in_order() -> None:
    spec = MelSpec()
    fb = mel_filterbank(spec)
    assert fb.shape == (spec.bins, spec.n_mels)
    assert np.all(fb >= 0)
    assert np.all(fb.max(axis=0) > 0.5)
    peaks = fb.argmax(axis=0)
    assert np.all(np.diff(peaks) >= 0)  # centres rise with the band index
    assert peaks[-1] * spec.rate / spec.n_fft > 6000  # the top band sits high in the 8 kHz band


def test_too_short_a_clip_is_refused() -> None:
    with pytest.raises(ValueError, match="at least n_fft=400"):
        MelSpec().frames(100)
