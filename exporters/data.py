"""Calibration and held-out data: image folders, .npy/.npz arrays, text lines → model feeds.

Every sample becomes one feed dict at batch 1, shaped for the model's inputs. Images are
preprocessed exactly as the bundle's PreprocessConfig says, so what is measured here is what the
device will see. `fingerprint` hashes the samples so a bundle records which data calibrated it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_agent.config.models import PreprocessConfig
from exporters.errors import DataError
from exporters.sources import Feed

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

PRESETS: dict[str, PreprocessConfig] = {
    "imagenet": PreprocessConfig(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    "unit": PreprocessConfig(),
    "signed": PreprocessConfig(scale=1 / 127.5, mean=(1.0, 1.0, 1.0)),
}


def preprocess_image(bgr: np.ndarray, cfg: PreprocessConfig, size: tuple[int, int]) -> np.ndarray:
    """One decoded BGR uint8 image → a batch-1 tensor as `cfg` describes (size is width, height)."""
    import cv2

    w, h = cfg.size or size
    if cfg.resize == "letterbox":
        r = min(w / bgr.shape[1], h / bgr.shape[0])
        nw, nh = round(bgr.shape[1] * r), round(bgr.shape[0] * r)
        canvas = np.full((h, w, 3), cfg.pad_value, np.uint8)
        top, left = (h - nh) // 2, (w - nw) // 2
        canvas[top : top + nh, left : left + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
        img: np.ndarray = canvas
    else:
        img = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
    if cfg.color == "rgb":
        img = img[..., ::-1]
    elif cfg.color == "gray":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
    x: np.ndarray = img.astype(np.float32) * np.float32(cfg.scale)
    ch = x.shape[-1]
    x = (x - np.asarray(cfg.mean[:ch], np.float32)) / np.asarray(cfg.std[:ch], np.float32)
    if cfg.layout == "nchw":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None]).astype(cfg.dtype)


def _images(folder: Path, input_name: str, shape: list[int | str], cfg: PreprocessConfig) -> Iterator[Feed]:
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    hw = shape[2:4] if cfg.layout == "nchw" else shape[1:3]
    size = (hw[1], hw[0]) if all(isinstance(v, int) and v > 0 for v in hw) else (224, 224)
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{p}: not a readable image")
        yield {input_name: preprocess_image(bgr, cfg, (int(size[0]), int(size[1])))}


def _text(
    path: Path, text_dir: Path | None, input_names: list[str], max_length: int, fixed: int | None
) -> Iterator[Feed]:
    if text_dir is None:
        raise DataError(f"{path}: text lines need a model with tokenizer files (a Hugging Face source)")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(text_dir))  # type: ignore[no-untyped-call]
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for line in lines:
        # A static-shape model (NPU targets) takes exactly `fixed` tokens: pad every line to it.
        pad = {"padding": "max_length"} if fixed else {}
        enc = tok(line, truncation=True, max_length=fixed or max_length, return_tensors="np", **pad)
        missing = [n for n in input_names if n not in enc]
        if missing:
            raise DataError(f"the tokenizer gives no {missing} for the model's inputs {input_names}")
        yield {n: np.asarray(enc[n], dtype=np.int64) for n in input_names}


def _arrays(path: Path, input_names: list[str]) -> Iterator[Feed]:
    if path.suffix == ".npz":
        with np.load(path) as z:
            arrays = {n: z[n] for n in input_names if n in z}
        if len(arrays) != len(input_names):
            raise DataError(f"{path}: needs arrays named {input_names}, has {sorted(arrays)}")
    else:
        if len(input_names) != 1:
            raise DataError(f"{path}: a .npy feeds one input; the model has {input_names} (use .npz)")
        arrays = {input_names[0]: np.load(path)}
    n = {len(a) for a in arrays.values()}
    if len(n) != 1:
        raise DataError(f"{path}: arrays differ in sample count {sorted(n)}")
    for i in range(n.pop()):
        yield {k: a[i : i + 1] for k, a in arrays.items()}


def load_samples(
    path: Path,
    inputs: list[tuple[str, list[int | str], str]],
    preprocess: PreprocessConfig | None,
    text_dir: Path | None,
    *,
    limit: int | None = None,
    max_length: int = 128,
) -> list[Feed]:
    """Read samples from `path` for a model with `inputs` [(name, shape, numpy dtype)]."""
    names = [n for n, _, _ in inputs]
    if path.is_dir():
        if preprocess is None:
            raise DataError(
                f"{path}: images need preprocessing settings (--preprocess imagenet, unit, signed)"
            )
        it: Iterator[Feed] = _images(path, names[0], inputs[0][1], preprocess)
    elif path.suffix in (".npy", ".npz"):
        it = _arrays(path, names)
    elif path.suffix == ".txt":
        seq = inputs[0][1][1] if len(inputs[0][1]) > 1 else None
        it = _text(path, text_dir, names, max_length, seq if isinstance(seq, int) and seq > 0 else None)
    else:
        raise DataError(f"{path}: expected an image folder, .npy, .npz or .txt (one sentence a line)")
    out: list[Feed] = []
    dtypes = {n: d for n, _, d in inputs}
    for feed in it:
        out.append({k: v.astype(dtypes[k], copy=False) for k, v in feed.items()})
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise DataError(f"{path}: no samples")
    return out


def fingerprint(samples: list[Feed]) -> str:
    """sha256 over every sample's names, dtypes, shapes and bytes, in order."""
    h = hashlib.sha256()
    for feed in samples:
        for k in sorted(feed):
            a = np.ascontiguousarray(feed[k])
            h.update(f"{k}|{a.dtype}|{a.shape}|".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def split(samples: list[Feed], every: int = 4) -> tuple[list[Feed], list[Feed]]:
    """(calibration, held-out) from one set: every `every`-th sample is held out, never calibrated on."""
    held = samples[every - 1 :: every]
    calib = [s for i, s in enumerate(samples) if i % every != every - 1]
    return calib, held
