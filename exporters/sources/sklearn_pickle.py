"""scikit-learn source: a joblib/pickle file converted with skl2onnx (no ZipMap, plain tensors).

Loading a pickle runs whatever code it holds, so it is refused without `trust_pickle`: only load
files you made yourself or got from someone you trust.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from exporters.errors import SourceError, UntrustedPickleError
from exporters.sources import Feed, Loaded, SourceSpec

log = logging.getLogger(__name__)


def _unpickle(path: Path) -> Any:
    if path.suffix.lower() == ".joblib":
        import joblib

        return joblib.load(path)
    with path.open("rb") as f:
        return pickle.load(f)


def load(spec: SourceSpec, workdir: Path) -> Loaded:
    path = Path(spec.source)
    if not spec.trust_pickle:
        raise UntrustedPickleError(
            f"{path}: loading a pickle/joblib file runs code from it; pass --trust-pickle "
            "only for files you made or trust"
        )
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    log.warning("loading %s runs the code inside it (trusted by --trust-pickle)", path)
    try:
        model = _unpickle(path)
    except Exception as exc:  # any unpickling failure: report it as a source problem
        raise SourceError(f"{path}: cannot load ({type(exc).__name__}: {exc})") from exc
    n = getattr(model, "n_features_in_", None)
    if not isinstance(n, int):
        raise SourceError(f"{path}: {type(model).__name__} is not a fitted scikit-learn estimator")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    is_classifier = hasattr(model, "predict_proba") or hasattr(model, "classes_")
    try:
        onx = convert_sklearn(
            model,
            initial_types=[("input", FloatTensorType([None, n]))],
            options={"zipmap": False} if is_classifier else None,
            target_opset={"": spec.opset, "ai.onnx.ml": 3},
        )
    except Exception as exc:  # skl2onnx raises many types for unsupported estimators
        raise SourceError(f"{path}: skl2onnx cannot convert {type(model).__name__}: {exc}") from exc
    dst = workdir / "source.onnx"
    dst.write_bytes(onx.SerializeToString())

    def reference(feeds: list[Feed]) -> np.ndarray:
        x = np.concatenate([next(iter(f.values())) for f in feeds]).astype(np.float32)
        return np.asarray(model.predict(x))

    labels = [str(c) for c in model.classes_] if hasattr(model, "classes_") else None
    return Loaded(
        onnx_path=dst,
        kind="sklearn",
        task=spec.task or ("classification" if is_classifier else "raw"),
        labels=labels,
        reference=reference,
        notes={"estimator": type(model).__name__, "n_features": n},
    )
