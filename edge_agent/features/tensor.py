"""Audio chunks and sensor windows → a batch-1 model input tensor (the image Preprocessor's sibling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.dtypes import ort_types
from edge_agent.errors import ModelError
from edge_agent.stages.types import Letterbox

_DTYPES = {t: np.dtype(n).type for t, n in ort_types("float32", "float64", "float16").items()}


class SignalPreprocessor:
    """Shapes 1-D chunks / feature vectors and 2-D raw windows to the model's input rank.

    Rank 2 inputs ([batch, n]) get the data flattened; rank 3 ([batch, size, channels]) get the window
    as it is. Fixed dimensions are checked, so a window/feature config that does not match the model
    fails on the first frame with both shapes named.
    """

    def __init__(self, input_shape: Sequence[int | str | None], input_type: str) -> None:
        if input_type not in _DTYPES:
            raise ModelError(f"signal input: expected a float tensor, got {input_type}")
        if len(input_shape) not in (2, 3):
            raise ModelError(f"signal input: expected rank 2 or 3 [batch, ...], got {list(input_shape)}")
        self.shape = list(input_shape)
        self.dtype = _DTYPES[input_type]

    def __call__(self, data: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], Letterbox | None]:
        x = np.asarray(data, dtype=self.dtype)
        x = x.reshape(1, -1) if len(self.shape) == 2 else x.reshape(1, x.shape[0], -1)
        for got, want in zip(x.shape[1:], self.shape[1:], strict=True):
            if isinstance(want, int) and want > 0 and got != want:
                raise ModelError(
                    f"signal input: the model wants {self.shape}, the source gives "
                    f"{list(x.shape)} (check window size / features)"
                )
        return x, None
