"""Embeddings: one vector (mean-pooled over tokens if needed), optionally L2-normalised, published as
base64 float16 (compact), a JSON list, or only its size and norm."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.settings import EmbeddingPost
from edge_agent.errors import ModelError
from edge_agent.postprocess import as_tensor, rounded
from edge_agent.stages.types import Letterbox


def vector(out: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """[D], [1,D], [1,D,1,1] → [D]; token embeddings [1,T,D] → their mean over T."""
    shape = list(out.shape)
    if out.ndim == 3 and shape[0] == 1 and shape[1] > 1 and shape[2] > 1:
        # No attention mask reaches here: every position counts (models with padding should pool inside).
        return out[0].astype(np.float64).mean(axis=0)  # type: ignore[no-any-return]
    if out.size == 0 or sum(d > 1 for d in shape) > 1:
        raise ModelError(
            f"embedding: expected a vector [1, D] or token embeddings [1, T, D], got shape {shape}"
        )
    return out.reshape(-1).astype(np.float64)


class Embedding:
    def __init__(self, cfg: EmbeddingPost) -> None:
        self.cfg = cfg

    def __call__(self, outputs: list[npt.NDArray[Any]], lb: Letterbox | None) -> dict[str, Any]:
        if not outputs:
            raise ModelError("embedding: expected at least one output, got none")
        v = vector(as_tensor(outputs[0], "embedding"))
        norm = float(np.linalg.norm(v))
        if self.cfg.normalize and norm > 0:
            v = v / norm
        if self.cfg.encoding == "float16-b64":
            b64 = base64.b64encode(v.astype("<f2").tobytes()).decode("ascii")
            return {"dim": int(v.size), "b64": b64, "norm": rounded(norm)}
        if self.cfg.encoding == "list":
            return {"vector": np.round(v, 4).tolist()}
        return {"dim": int(v.size), "norm": rounded(norm)}
