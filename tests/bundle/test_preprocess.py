"""Preprocessor: exact tensors against a plain reference, letterbox geometry, model-driven settings,
and real ONNX Runtime sessions accepting what it produces."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.errors import ModelError

IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
RNG = np.random.default_rng(7)


def reference(frame: npt.NDArray[np.uint8], cfg: PreprocessConfig, w: int, h: int) -> npt.NDArray[Any]:
    """The obvious, slow implementation the fast one must match."""
    fh, fw = frame.shape[:2]
    if cfg.resize == "stretch":
        img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        s = min(w / fw, h / fh)
        nw, nh = round(fw * s), round(fh * s)
        img = np.full((h, w, 3), cfg.pad_value, np.uint8)
        top, left = (h - nh) // 2, (w - nw) // 2
        img[top : top + nh, left : left + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    if cfg.color == "rgb":
        img = img[:, :, ::-1]
    elif cfg.color == "gray":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[:, :, None]
    c = img.shape[2]
    if cfg.dtype == "uint8":
        x: npt.NDArray[Any] = img.copy()
    else:
        x = (img.astype(np.float64) * cfg.scale - np.array(cfg.mean[:c])) / np.array(cfg.std[:c])
    if cfg.layout == "nchw":
        x = x.transpose(2, 0, 1)
    x = x[None]
    if cfg.dtype == "int8":
        return np.clip(np.rint(x), -128, 127).astype(np.int8)
    return x.astype(cfg.dtype)


ORT_TYPE = {
    "float32": "tensor(float)",
    "float16": "tensor(float16)",
    "uint8": "tensor(uint8)",
    "int8": "tensor(int8)",
}


def shape_for(cfg: PreprocessConfig, w: int, h: int) -> list[int | str]:
    c = 1 if cfg.color == "gray" else 3
    return ["batch", c, h, w] if cfg.layout == "nchw" else ["batch", h, w, c]


@pytest.mark.parametrize(
    ("resize", "color", "layout", "dtype"),
    list(
        itertools.product(
            ["stretch", "letterbox"],
            ["rgb", "bgr", "gray"],
            ["nchw", "nhwc"],
            ["float32", "float16", "uint8", "int8"],
        )
    ),
)
def test_matches_reference(resize: str, color: str, layout: str, dtype: str) -> None:
    extra: dict[str, Any] = {"scale": 1.0, "mean": (128.0, 120.0, 110.0)} if dtype == "int8" else IMAGENET
    cfg = PreprocessConfig.model_validate(
        {"resize": resize, "color": color, "layout": layout, "dtype": dtype, "pad_value": 77, **extra}
    )
    w, h = 48, 40
    pre = Preprocessor(cfg, shape_for(cfg, w, h), ORT_TYPE[dtype])
    for fh, fw in [(90, 160), (120, 70), (40, 48)]:  # wide, tall, exact: geometry changes between calls
        frame = RNG.integers(0, 256, (fh, fw, 3), dtype=np.uint8)
        x, _ = pre(frame)
        ref = reference(frame, cfg, w, h)
        assert x.shape == ref.shape
        assert x.dtype == ref.dtype
        tol = {"float32": 1e-5, "float16": 2e-3, "uint8": 0, "int8": 1}[dtype]
        np.testing.assert_allclose(x.astype(np.float64), ref.astype(np.float64), atol=tol, rtol=0)


def test_exact_values_for_a_flat_colour() -> None:
    cfg = PreprocessConfig(mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.125))
    pre = Preprocessor(cfg, [1, 3, 8, 8], "tensor(float)")
    frame = np.empty((16, 16, 3), np.uint8)
    frame[:] = (0, 51, 255)  # BGR: blue 0, green 51 (0.2), red 255 (1.0)
    x, lb = pre(frame)
    # RGB order: red (1-0.5)/0.5 = 1, green (0.2-0.5)/0.25 = -1.2, blue (0-0.5)/0.125 = -4
    np.testing.assert_allclose(x[0, :, 0, 0], [1.0, -1.2, -4.0], rtol=1e-6)
    assert np.all(x[0, 0] == x[0, 0, 0, 0])
    assert (lb.scale_x, lb.scale_y, lb.pad_x, lb.pad_y) == (0.5, 0.5, 0.0, 0.0)


def test_letterbox_geometry_and_padding() -> None:
    cfg = PreprocessConfig(resize="letterbox", pad_value=255, dtype="uint8", color="bgr")
    pre = Preprocessor(cfg, [1, 3, 64, 64], "tensor(uint8)")
    frame = np.zeros((100, 200, 3), np.uint8)  # 2:1 → 64x32 centred, 16 rows of padding above and below
    x, lb = pre(frame)
    assert (lb.in_w, lb.in_h, lb.frame_w, lb.frame_h) == (64, 64, 200, 100)
    assert (lb.pad_x, lb.pad_y) == (0.0, 16.0)
    assert lb.scale_x == pytest.approx(64 / 200)
    assert lb.scale_y == pytest.approx(32 / 100)
    assert np.all(x[0, :, :16] == 255)
    assert np.all(x[0, :, 48:] == 255)
    assert np.all(x[0, :, 16:48] == 0)
    assert lb.to_frame(0.0, 16.0) == (0.0, 0.0)
    assert lb.to_frame(64.0, 48.0) == (1.0, 1.0)
    assert lb.to_frame(32.0, 32.0) == pytest.approx((0.5, 0.5))


def test_letterbox_round_trip_of_a_drawn_rectangle() -> None:
    """A rectangle drawn in the frame, found in the tensor, maps back to where it was drawn."""
    cfg = PreprocessConfig(resize="letterbox", dtype="uint8", color="gray", pad_value=0)
    pre = Preprocessor(cfg, [1, 1, 320, 320], "tensor(uint8)")
    frame = np.zeros((720, 1280, 3), np.uint8)
    x1, y1, x2, y2 = 400, 200, 880, 560
    frame[y1:y2, x1:x2] = 255
    x, lb = pre(frame)
    ys, xs = np.nonzero(x[0, 0] > 127)
    fx1, fy1 = lb.to_frame(float(xs.min()), float(ys.min()))
    fx2, fy2 = lb.to_frame(float(xs.max() + 1), float(ys.max() + 1))
    px = 1.0 / lb.scale_x  # one model pixel, in frame pixels
    assert fx1 * 1280 == pytest.approx(x1, abs=px)
    assert fy1 * 720 == pytest.approx(y1, abs=px)
    assert fx2 * 1280 == pytest.approx(x2, abs=px)
    assert fy2 * 720 == pytest.approx(y2, abs=px)


def test_size_from_model_and_dynamic_sizes() -> None:
    assert Preprocessor(PreprocessConfig(), ["batch", 3, 320, 256], "tensor(float)").width == 256
    with pytest.raises(ModelError, match=r"dynamic dimensions; set preprocess.size"):
        Preprocessor(PreprocessConfig(), ["batch", 3, "height", "width"], "tensor(float)")
    pre = Preprocessor(PreprocessConfig(size=(96, 64)), [None, 3, None, None], "tensor(float)")
    x, _ = pre(np.zeros((10, 10, 3), np.uint8))
    assert x.shape == (1, 3, 64, 96)
    with pytest.raises(ModelError, match=r"expected the model's 320x320 .* got 96x64"):
        Preprocessor(PreprocessConfig(size=(96, 64)), [1, 3, 320, 320], "tensor(float)")


def test_settings_left_at_default_follow_the_model() -> None:
    pre = Preprocessor(PreprocessConfig(), [1, 224, 224, 3], "tensor(uint8)")
    assert (pre.layout, pre.dtype) == ("nhwc", "uint8")
    x, _ = pre(np.zeros((50, 50, 3), np.uint8))
    assert (x.shape, x.dtype) == ((1, 224, 224, 3), np.uint8)


@pytest.mark.parametrize(
    ("cfg", "shape", "dtype", "message"),
    [
        (PreprocessConfig(dtype="float32"), [1, 3, 8, 8], "tensor(uint8)", r"expected uint8 .* got float32"),
        (PreprocessConfig(), [1, 3, 8, 8], "tensor(double)", r"got element type tensor\(double\)"),
        (PreprocessConfig(color="gray"), [1, 3, 8, 8], "tensor(float)", r"expected 1 channel"),
        (PreprocessConfig(layout="nchw"), [1, 8, 8, 3], "tensor(float)", r"expected 3 channel"),
        (PreprocessConfig(), [1, 3, 8], "tensor(float)", r"expected a 4-D input"),
    ],
)
def test_model_mismatches_are_model_errors(
    cfg: PreprocessConfig, shape: list[Any], dtype: str, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        Preprocessor(cfg, shape, dtype)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32), np.zeros((8,), np.uint8)],
)
def test_bad_frames_are_refused(frame: npt.NDArray[Any]) -> None:
    pre = Preprocessor(PreprocessConfig(), [1, 3, 8, 8], "tensor(float)")
    with pytest.raises(ModelError, match=r"expected an HxWx3 uint8 BGR frame"):
        pre(frame)


def test_gray_frames_are_accepted() -> None:
    pre = Preprocessor(PreprocessConfig(scale=1.0), [1, 3, 4, 4], "tensor(float)")
    x, _ = pre(np.full((8, 8), 9, np.uint8))
    assert np.all(x == 9.0)


def _identity_model(path: Path, elem: int, shape: list[Any]) -> Path:
    inp = helper.make_tensor_value_info("x", elem, shape)
    out = helper.make_tensor_value_info("y", elem, shape)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id", [inp], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(
    ("elem", "layout", "shape"),
    [
        (TensorProto.FLOAT, "nchw", ["batch", 3, 32, 48]),
        (TensorProto.FLOAT16, "nchw", [1, 3, 32, 48]),
        (TensorProto.UINT8, "nhwc", [1, 32, 48, 3]),
        (TensorProto.INT8, "nhwc", ["n", 32, 48, 3]),
    ],
)
def test_real_sessions_take_the_tensor(tmp_path: Path, elem: int, layout: str, shape: list[Any]) -> None:
    sess = ort.InferenceSession(
        str(_identity_model(tmp_path / "id.onnx", elem, shape)), providers=["CPUExecutionProvider"]
    )
    inp = sess.get_inputs()[0]
    pre = Preprocessor(
        PreprocessConfig(resize="letterbox", scale=1.0, mean=(128, 128, 128)), inp.shape, inp.type
    )
    assert pre.layout == layout
    x, _ = pre(RNG.integers(0, 256, (100, 120, 3), dtype=np.uint8))
    (y,) = sess.run(None, {inp.name: x})
    np.testing.assert_array_equal(y, x)
