"""Raw decoder: shapes, types, statistics and small tensors' values, exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_agent.bundle.settings import RawPost
from edge_agent.errors import ModelError
from edge_agent.postprocess import build_postprocessor


def test_summary_and_values() -> None:
    post = build_postprocessor(RawPost(max_values=4), output_names=["prob", "state"])
    result = post([np.array([[0.12345, 0.5]], np.float32), np.arange(10, dtype=np.int64).reshape(2, 5)], None)
    assert result == {
        "outputs": [
            {
                "name": "prob",
                "shape": [1, 2],
                "dtype": "float32",
                "min": 0.1235,
                "max": 0.5,
                "mean": 0.3117,
                "values": [0.1235, 0.5],
            },
            {"name": "state", "shape": [2, 5], "dtype": "int64", "min": 0.0, "max": 9.0, "mean": 4.5},
        ]
    }


def test_no_names_nan_bool_and_empty() -> None:
    result = build_postprocessor(RawPost())(
        [np.array([np.nan, 1.0]), np.array([True, False]), np.zeros((0, 3), np.float32)], None
    )
    assert result["outputs"][0] == {
        "shape": [2],
        "dtype": "float64",
        "min": None,
        "max": None,
        "mean": None,
        "values": [None, 1.0],
    }
    assert result["outputs"][1] == {
        "shape": [2],
        "dtype": "bool",
        "min": 0.0,
        "max": 1.0,
        "mean": 0.5,
        "values": [1.0, 0.0],
    }
    assert result["outputs"][2] == {
        "shape": [0, 3],
        "dtype": "float32",
        "min": None,
        "max": None,
        "mean": None,
        "values": [],
    }
    json.dumps(result, allow_nan=False)


def test_non_numeric_outputs_are_refused() -> None:
    with pytest.raises(ModelError, match=r"expected a numeric tensor, got dtype <U1"):
        build_postprocessor(RawPost())([np.array(["a"])], None)
    with pytest.raises(ModelError, match=r"expected a tensor output, got list"):
        build_postprocessor(RawPost())([[{"a": 1.0}]], None)  # type: ignore[list-item]
