"""Data readers, fingerprints and source detection: the small pieces the pipeline trusts."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.bundle.settings import PreprocessConfig
from exporters.data import fingerprint, load_samples, preprocess_image, split
from exporters.errors import DataError, UsageError
from exporters.sources import SourceSpec, infer_task, load_source, source_kind

INPUTS = [("input", [1, 4], "float32")]


def test_npy_rows_become_batch_one_feeds(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(12, dtype=np.float64).reshape(3, 4))
    feeds = load_samples(tmp_path / "x.npy", INPUTS, None, None)
    assert len(feeds) == 3
    assert feeds[1]["input"].shape == (1, 4)
    assert feeds[1]["input"].dtype == np.float32


def test_npz_needs_arrays_named_like_the_inputs(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", other=np.zeros((2, 4)))
    with pytest.raises(DataError, match=r"needs arrays named \['input'\]"):
        load_samples(tmp_path / "x.npz", INPUTS, None, None)


def test_text_needs_a_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("hello\n")
    with pytest.raises(DataError, match="tokenizer"):
        load_samples(tmp_path / "s.txt", INPUTS, None, None)


def test_image_folder_uses_the_preprocessing(tmp_path: Path) -> None:
    import skimage.data

    cv2.imwrite(str(tmp_path / "a.png"), skimage.data.chelsea()[..., ::-1])
    pre = PreprocessConfig(size=(64, 48), resize="letterbox", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    feeds = load_samples(tmp_path, [("img", [1, 3, 48, 64], "float32")], pre, None)
    x = feeds[0]["img"]
    assert x.shape == (1, 3, 48, 64)
    # letterbox pads with grey 114 -> (114/255 - 0.5) / 0.25 on the first rows
    assert np.isclose(x[0, 0, 0, 0], (114 / 255 - 0.5) / 0.25, atol=1e-5)


def test_nhwc_rgb_preprocessing_matches_a_hand_computation() -> None:
    bgr = np.zeros((10, 10, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in BGR order
    x = preprocess_image(bgr, PreprocessConfig(layout="nhwc"), (10, 10))
    assert x.shape == (1, 10, 10, 3)
    assert x[0, 0, 0].tolist() == [1.0, 0.0, 0.0]


def test_fingerprint_is_stable_and_sensitive() -> None:
    a = [{"input": np.ones((1, 4), np.float32)}]
    b = [{"input": np.ones((1, 4), np.float32) * 2}]
    assert fingerprint(a) == fingerprint([{"input": np.ones((1, 4), np.float32)}])
    assert fingerprint(a) != fingerprint(b)


def test_split_never_calibrates_on_held_out_samples() -> None:
    samples = [{"i": np.full((1,), k)} for k in range(20)]
    calib, held = split(samples)
    assert len(held) == 5
    assert not {int(s["i"][0]) for s in calib} & {int(s["i"][0]) for s in held}


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("m.onnx", "onnx"),
        ("m.tflite", "tflite"),
        ("m.joblib", "sklearn"),
        ("m.pkl", "sklearn"),
        ("pkg.models:build", "torch"),
        ("some/file.py:build", "torch"),
        ("org/model", "huggingface"),
    ],
)
def test_source_kind(source: str, kind: str) -> None:
    assert source_kind(source) == kind


def test_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"expected a \.onnx"):
        source_kind(str(tmp_path / "model.bin"))
    with pytest.raises(UsageError, match=r"without config\.json"):
        source_kind(str(tmp_path))


def test_torch_source_needs_an_input_shape(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    with pytest.raises(UsageError, match="--input-shape"):
        load_source(SourceSpec("pkg.mod:fn"), tmp_path)


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ([("logits", [1, 1000])], ("classification", None)),
        ([("sentence_embedding", ["batch", 384])], ("embedding", None)),
        ([("regressors", [1, 896, 16]), ("classificators", [1, 896, 1])], ("detection", "blazeface")),
        ([("output0", [1, 84, 8400])], ("detection", "yolo")),
        ([("y", [1, 3, 64, 64])], ("raw", None)),
    ],
)
def test_infer_task(outputs: list[tuple[str, list[int | str]]], expected: tuple[str, str | None]) -> None:
    assert infer_task(outputs) == expected
