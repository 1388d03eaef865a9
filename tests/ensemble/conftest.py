"""A real labelled set (scikit-learn digits) and real classifiers exported to ONNX with skl2onnx."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx (export side) builds the test models")


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/test split of the 1797 8x8 digits, pixels scaled to 0..1 (float32, 64 features)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    return x_tr, y_tr, x_te, y_te


@pytest.fixture(scope="session")
def digit_models(digits: tuple[np.ndarray, ...], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """small: logistic regression (3 KB); large: 3-nearest-neighbours over the training set (275 KB,
    ~100x the compute); tree: a depth-8 decision tree. ONNX files."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    x_tr, y_tr, _, _ = digits
    out = tmp_path_factory.mktemp("digits")
    models = {
        "small": LogisticRegression(C=0.5, solver="newton-cg", max_iter=100),
        "large": KNeighborsClassifier(3),
        "tree": DecisionTreeClassifier(max_depth=8, random_state=0),
    }
    paths = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; accuracy is asserted by the tests
            model.fit(x_tr, y_tr)
        onx = skl2onnx.to_onnx(
            model, x_tr[:1], options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3}
        )
        paths[name] = out / f"{name}.onnx"
        paths[name].write_bytes(onx.SerializeToString())
    return paths
