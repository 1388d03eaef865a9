"""Calibration and held-out data: image folders, .npy/.npz arrays, text lines → model feeds.

Every sample becomes one feed dict at batch 1, shaped for the model's inputs. Images go through
the agent's own Preprocessor with the bundle's PreprocessConfig (resize mode, padding, colour,
scale, layout, dtype), so what is calibrated and gated here is what the device will see.
`fingerprint` hashes the samples so a bundle records which data calibrated it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_agent.bundle.preprocess import ORT_TYPES, Preprocessor
from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.errors import ModelError
from exporters.errors import DataError
from exporters.sources import Feed

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

PRESETS: dict[str, PreprocessConfig] = {
    "imagenet": PreprocessConfig(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    "unit": PreprocessConfig(),
    "signed": PreprocessConfig(scale=1 / 127.5, mean=(1.0, 1.0, 1.0)),
}


# numpy dtype names (the pipeline's input specs) -> the onnxruntime type strings the agent reads.
_ORT_TYPES = {v: k for k, v in ORT_TYPES.items()}


def image_preprocessor(
    cfg: PreprocessConfig, shape: list[int | str], dtype: str = "float32", size: tuple[int, int] = (224, 224)
) -> Preprocessor:
    """The agent's own Preprocessor for a model input of `shape` and numpy `dtype`.

    The exporter calibrates, gates and writes golden inputs with exactly the code the device runs on
    every frame (edge_agent/bundle/preprocess.py), so the two cannot drift. Dynamic height/width
    take `cfg.size`, else `size` (width, height).
    """
    w, h = cfg.size or size
    ch = 1 if cfg.color == "gray" else 3
    nchw = cfg.layout == "nchw"
    dims: list[int | str] = list(shape) if len(shape) == 4 else [1, ch, h, w] if nchw else [1, h, w, ch]
    hi, wi = (2, 3) if nchw else (1, 2)
    for i, fixed in ((hi, h), (wi, w)):
        if not (isinstance(dims[i], int) and int(dims[i]) > 0):
            dims[i] = fixed  # a dynamic side: the size the config (or the default) gives
    ort_type = _ORT_TYPES.get(dtype)
    if ort_type is None:
        raise DataError(f"image input: expected one of {', '.join(_ORT_TYPES)}, got dtype {dtype}")
    try:
        return Preprocessor(cfg, dims, ort_type)
    except ModelError as exc:
        raise DataError(str(exc)) from exc


def preprocess_image(bgr: np.ndarray, cfg: PreprocessConfig, size: tuple[int, int]) -> np.ndarray:
    """One decoded BGR uint8 image → a batch-1 tensor as `cfg` describes (size is width, height),
    through the agent's Preprocessor."""
    tensor, _ = image_preprocessor(cfg, [], cfg.dtype, size)(bgr)
    return tensor


def _images(
    folder: Path, input_name: str, shape: list[int | str], cfg: PreprocessConfig, dtype: str = "float32"
) -> Iterator[Feed]:
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    pre = image_preprocessor(cfg, shape, dtype)
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{p}: not a readable image")
        try:
            tensor, _ = pre(bgr)
        except ModelError as exc:
            raise DataError(f"{p}: {exc}") from exc
        yield {input_name: tensor}


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
        it: Iterator[Feed] = _images(path, names[0], inputs[0][1], preprocess, inputs[0][2])
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
