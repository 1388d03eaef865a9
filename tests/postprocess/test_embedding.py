"""Embedding decoder: exact vectors, norms and encodings."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from edge_agent.bundle.settings import EmbeddingPost
from edge_agent.errors import ModelError
from edge_agent.postprocess import build_postprocessor


def test_float16_base64_of_the_normalised_vector() -> None:
    result = build_postprocessor(EmbeddingPost())([np.array([[3.0, 4.0]], np.float32)], None)
    assert result == {
        "dim": 2,
        "b64": base64.b64encode(np.array([0.6, 0.8], "<f2").tobytes()).decode(),
        "norm": 5.0,
    }
    decoded = np.frombuffer(base64.b64decode(result["b64"]), "<f2")
    np.testing.assert_array_equal(decoded, np.array([0.6, 0.8], np.float16))


def test_list_and_none_encodings() -> None:
    out = [np.array([[1.0, 2.0, 2.0]])]
    assert build_postprocessor(EmbeddingPost(encoding="list"))(out, None) == {
        "vector": [0.3333, 0.6667, 0.6667]
    }
    assert build_postprocessor(EmbeddingPost(encoding="list", normalize=False))(out, None) == {
        "vector": [1.0, 2.0, 2.0]
    }
    assert build_postprocessor(EmbeddingPost(encoding="none"))(out, None) == {"dim": 3, "norm": 3.0}


def test_token_embeddings_are_mean_pooled() -> None:
    tokens = np.array([[[1.0, 0.0, 2.0], [3.0, 0.0, 2.0]]])  # [1, T=2, D=3] → mean [2, 0, 2]
    result = build_postprocessor(EmbeddingPost(encoding="list", normalize=False))([tokens], None)
    assert result == {"vector": [2.0, 0.0, 2.0]}


def test_zero_vector_is_not_divided_by_zero() -> None:
    result = build_postprocessor(EmbeddingPost(encoding="list"))([np.zeros((1, 4, 1, 1))], None)
    assert result == {"vector": [0.0, 0.0, 0.0, 0.0]}
    json.dumps(result)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (1, 0)])
def test_outputs_that_are_not_one_vector(shape: tuple[int, ...]) -> None:
    with pytest.raises(ModelError, match=r"expected a vector \[1, D\] or token embeddings"):
        build_postprocessor(EmbeddingPost())([np.zeros(shape)], None)
