"""The `anomaly` postprocess kind: a model's output → one anomaly score and a flag.

Three model shapes, all ONNX, none needing sklearn or torch on the device:
- isolation_forest: skl2onnx's IsolationForest graph (outputs label, scores = decision_function,
  negative when anomalous); score = -decision, so higher is more anomalous and 0 is sklearn's cut.
- reconstruction: an autoencoder; score = mean squared error between its input and its output.
- score: the model outputs the score itself (one number), e.g. a one-class model or a custom graph.
Events (anomaly start/end with hysteresis) come from `AnomalyPost.events()`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.settings import AnomalyPost
from edge_agent.errors import ModelError
from edge_agent.stages.types import Letterbox

Tensor = npt.NDArray[Any]


class Anomaly:
    """Postprocess and InputPostprocess (edge_agent.stages.protocols): with `needs_input`
    (reconstruction) the pipeline also passes the model input."""

    def __init__(self, cfg: AnomalyPost) -> None:
        self.cfg = cfg
        self.needs_input = cfg.method == "reconstruction"

    def score(self, outputs: list[Tensor], model_input: Tensor | None = None) -> float:
        """The anomaly score of one window (higher is more anomalous)."""
        try:
            out = np.asarray(outputs[self.cfg.output], dtype=np.float64)
        except IndexError:
            raise ModelError(f"anomaly: output {self.cfg.output}: the model has {len(outputs)}") from None
        if self.cfg.method == "reconstruction":
            if model_input is None:
                raise ModelError("anomaly reconstruction: expected the model input, got none")
            x = np.asarray(model_input, dtype=np.float64)
            if x.size != out.size:
                raise ModelError(
                    f"anomaly reconstruction: expected an output shaped like the input "
                    f"{list(x.shape)}, got {list(out.shape)}"
                )
            return float(np.mean((out.reshape(-1) - x.reshape(-1)) ** 2))
        if out.size != 1:
            raise ModelError(
                f"anomaly {self.cfg.method}: expected one value per window, got {list(out.shape)}"
            )
        value = float(out.reshape(-1)[0])
        return -value if self.cfg.method == "isolation_forest" else value

    def __call__(
        self, outputs: list[Tensor], lb: Letterbox | None, model_input: Tensor | None = None
    ) -> dict[str, Any]:
        s = self.score(outputs, model_input)
        return {"score": round(s, 6), "anomaly": s >= self.cfg.threshold}
