"""The `anomaly` postprocess kind: a model's output → one anomaly score and a flag.

Three model shapes, all ONNX, none needing sklearn or torch on the device:
- isolation_forest: skl2onnx's IsolationForest graph (outputs label, scores = decision_function,
  negative when anomalous); score = -decision, so higher is more anomalous and 0 is sklearn's cut.
- reconstruction: an autoencoder; score = mean squared error between its input and its output.
- score: the model outputs the score itself (one number), e.g. a one-class model or a custom graph.
Events (anomaly start/end with hysteresis) come from `AnomalyPost.events()`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from edge_agent.config_base import Strict
from edge_agent.errors import ModelError
from edge_agent.events.config import ThresholdConfig
from edge_agent.stages.types import Letterbox

Tensor = npt.NDArray[Any]


class AnomalyPost(Strict):
    """Postprocess for anomaly models: a score per window and anomaly start/end events."""

    kind: Literal["anomaly"] = "anomaly"
    method: Literal["isolation_forest", "reconstruction", "score"] = Field(
        default="isolation_forest", description="How the score is read from the model (see module doc)."
    )
    output: int = Field(
        default=-1, description="Output index holding the decision / reconstruction / score (-1: last)."
    )
    threshold: float = Field(default=0.0, description="A score at or above this is an anomaly.")
    clear: float | None = Field(
        default=None, description="The anomaly ends below this (hysteresis); None: the threshold."
    )
    min_on_s: float = Field(default=0.0, ge=0, description="Score must stay high this long to start.")
    min_off_s: float = Field(default=0.0, ge=0, description="Score must stay low this long to end.")

    @model_validator(mode="after")
    def _order(self) -> AnomalyPost:
        if self.clear is not None and self.clear > self.threshold:
            raise ValueError("clear must be <= threshold")
        return self

    def events(self) -> ThresholdConfig:
        """The anomaly start/end event logic this config implies."""
        return ThresholdConfig(
            name="anomaly",
            key="score",
            on=self.threshold,
            off=self.clear,
            min_on_s=self.min_on_s,
            min_off_s=self.min_off_s,
        )


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
