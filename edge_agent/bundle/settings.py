"""The pre/post settings a bundle manifest carries and a pipeline's config may override: how frames become
the model input (PreprocessConfig) and how its outputs become a result (the postprocess kinds, one
union tagged by `kind`), plus the event threshold a vad or anomaly model implies.

The exporter writes them into manifest.json and its gates preprocess with them; the agent reads them
back. One definition serves both sides, so they cannot drift. Like the whole bundle package, this
module depends on nothing above it: pydantic, the shared Strict base and the standard library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.bundle import rewrite
from edge_agent.strict import Strict


class PreprocessConfig(Strict):
    size: tuple[int, int] | None = Field(
        default=None, description="Model input [width, height]; None reads it from the model."
    )
    resize: Literal["stretch", "letterbox"] = Field(default="stretch", description="How frames are fitted.")
    pad_value: int = Field(default=114, ge=0, le=255, description="Letterbox padding grey level.")
    color: Literal["rgb", "bgr", "gray"] = Field(
        default="rgb", description="Channel order the model expects."
    )
    layout: Literal["nchw", "nhwc"] = Field(default="nchw", description="Tensor layout the model expects.")
    dtype: Literal["float32", "float16", "uint8", "int8"] = Field(
        default="float32", description="Input tensor type."
    )
    scale: float = Field(default=1.0 / 255.0, description="Multiply pixel values by this first.")
    mean: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description="Subtract per channel.")
    std: tuple[float, float, float] = Field(default=(1.0, 1.0, 1.0), description="Divide per channel.")

    @field_validator("size")
    @classmethod
    def _positive(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and (v[0] <= 0 or v[1] <= 0):
            raise ValueError("width and height must be positive")
        return v

    @field_validator("std")
    @classmethod
    def _nonzero(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(s == 0 for s in v):
            raise ValueError("std values must be non-zero")
        return v


class ClassificationPost(Strict):
    kind: Literal["classification"] = "classification"
    labels: list[str] | None = Field(default=None, description="Class names; index order.")
    labels_file: Path | None = Field(
        default=None,
        description="Text file, one label per line; relative to the config file's folder (in a bundle "
        "manifest: to the bundle directory).",
    )
    top_k: int = Field(default=3, ge=1, le=100, description="How many classes to report.")
    softmax: bool | None = Field(
        default=None, description="Apply softmax; None: only when the outputs do not already sum to 1."
    )
    threshold: float = Field(default=0.0, ge=0, le=1, description="Drop classes scoring below this.")


class DetectionPost(Strict):
    kind: Literal["yolo", "ssd"] = Field(
        description="yolo: YOLOv5 [1,N,5+C] or YOLOv8 [1,4+C,N] head; ssd: boxes/scores/classes tensors."
    )
    labels: list[str] | None = Field(default=None, description="Class names; index order.")
    labels_file: Path | None = Field(
        default=None,
        description="Text file, one label per line; relative to the config file's folder (in a bundle "
        "manifest: to the bundle directory).",
    )
    threshold: float = Field(default=0.25, ge=0, le=1, description="Minimum score.")
    iou: float = Field(default=0.45, gt=0, le=1, description="NMS IoU threshold.")
    max_detections: int = Field(default=50, ge=1, le=1000, description="Most boxes per frame.")
    classes: list[str] | None = Field(default=None, description="Keep only these labels.")
    box_format: Literal["xyxy", "yxyx", "cxcywh"] = Field(
        default="xyxy", description="ssd only: coordinate order of the boxes tensor."
    )
    normalized_boxes: bool = Field(
        default=True, description="ssd only: boxes are already in 0..1 of the model input."
    )


class EmbeddingPost(Strict):
    kind: Literal["embedding"] = "embedding"
    normalize: bool = Field(default=True, description="L2-normalise the vector.")
    encoding: Literal["float16-b64", "list", "none"] = Field(
        default="float16-b64",
        description="How the vector is published: base64 of float16 (compact), a JSON list, or not at all.",
    )


class RawPost(Strict):
    kind: Literal["raw"] = "raw"
    max_values: int = Field(
        default=16, ge=0, le=4096, description="Tensors up to this many values are published whole."
    )


class ThresholdConfig(Strict):
    """A number in each output crossing a threshold: `start` when it rises, `end` when it falls."""

    name: str = Field(default="alarm", min_length=1, description="Event name, e.g. anomaly or speech.")
    key: str = Field(
        default="score", min_length=1, description="Dotted path to a number in each output, e.g. score."
    )
    on: float = Field(description="A value at or above this starts the event.")
    off: float | None = Field(
        default=None,
        description="A value below this ends it (hysteresis: off < on stops flapping); None: same as on.",
    )
    min_on_s: float = Field(
        default=0.0, ge=0, description="The value must stay at or above `on` this long before start."
    )
    min_off_s: float = Field(
        default=0.0, ge=0, description="The value must stay below `off` this long before end."
    )

    @model_validator(mode="after")
    def _order(self) -> ThresholdConfig:
        if self.off is not None and self.off > self.on:
            raise ValueError(f"off must be <= on, got off={self.off} > on={self.on}")
        return self


class VadPost(Strict):
    """Postprocess for a voice-activity model: speech probability per chunk, speech start/end events."""

    kind: Literal["vad"] = "vad"
    threshold: float = Field(default=0.5, gt=0, lt=1, description="Speech starts at this probability.")
    neg_threshold: float | None = Field(
        default=None, ge=0, lt=1, description="Speech ends below this; None: threshold - 0.15."
    )
    min_speech_s: float = Field(
        default=0.25, ge=0, description="Speech must last this long to start an event (drops clicks)."
    )
    min_silence_s: float = Field(
        default=0.25, ge=0, description="Silence must last this long to end it (keeps words together)."
    )
    state: dict[str, str] = Field(
        default_factory=lambda: {"state": "stateN"},
        description="Recurrent state: model input name → the output that feeds it on the next call.",
    )
    rate_input: str | None = Field(
        default="sr", description="Model input taking the sample rate (int64 scalar); None: none."
    )

    @model_validator(mode="after")
    def _order(self) -> VadPost:
        if self.neg_threshold is not None and self.neg_threshold > self.threshold:
            raise ValueError("neg_threshold must be <= threshold")
        return self

    def events(self) -> ThresholdConfig:
        """The speech start/end event logic this config implies."""
        off = self.threshold - 0.15 if self.neg_threshold is None else self.neg_threshold
        return ThresholdConfig(
            name="speech",
            key="speech_prob",
            on=self.threshold,
            off=max(off, 0.0),
            min_on_s=self.min_speech_s,
            min_off_s=self.min_silence_s,
        )


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


PostprocessConfig = Annotated[
    ClassificationPost | DetectionPost | EmbeddingPost | RawPost | VadPost | AnomalyPost,
    Field(discriminator="kind"),
]


INPUT = "{input}"  # where a prompt template takes the input text


class PromptOverride(Strict):
    """Replaces parts of the bundle's prompt (PromptSpec); a field left out keeps the bundle's."""

    system: str | None = Field(default=None, description="System turn of the chat template.")
    template: str | None = Field(
        default=None, description="User turn; `{input}` is replaced by the input text (once, verbatim)."
    )
    answer_prefix: str | None = Field(
        default=None,
        description='classify: the answer\'s first characters before the label, e.g. {"severity": "',
    )
    label_suffix: str | None = Field(
        default=None, description="classify: what follows a label in the answer, e.g. a closing quote."
    )
    input_rewrite: list[tuple[str, str]] | None = Field(
        default=None,
        description="[pattern, replacement] regex substitutions made on the input before the template, "
        "in order; [] turns the bundle's off (a model tuned with them expects them).",
    )

    @field_validator("input_rewrite")
    @classmethod
    def _rules_compile(cls, v: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        return None if v is None else rewrite.check(v)

    @field_validator("template")
    @classmethod
    def _has_input(cls, v: str | None) -> str | None:
        if v is not None and INPUT not in v:
            raise ValueError(f"expected a template containing {INPUT}, got {v!r}")
        return v
