"""The published payloads, as pydantic models used only to generate and check their JSON Schema.

The hot path builds plain dicts (edge_agent/pipeline/runner.py, edge_agent/outbox/store.py); these
models are the documentation: docs/result.schema.json is generated from them and a test checks every
payload the end-to-end tests receive against it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ClassScore(BaseModel):
    label: str
    index: int
    score: float = Field(ge=0, le=1)


class ClassificationOutput(_Open):
    top: list[ClassScore] = Field(description="best classes first")


class Detection(BaseModel):
    label: str
    index: int
    score: float = Field(ge=0, le=1)
    box: list[float] = Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in 0..1 of the frame")


class DetectionOutput(_Open):
    detections: list[Detection]
    counts: dict[str, int]


class EmbeddingOutput(_Open):
    dim: int
    norm: float | None = None
    b64: str | None = Field(default=None, description="base64 of little-endian float16 values")
    vector: list[float] | None = None


class RawOutput(_Open):
    outputs: list[dict[str, Any]]


class ResultPayload(BaseModel):
    """One message on <prefix>/<device>/<pipeline>/results (QoS 1)."""

    model_config = ConfigDict(extra="forbid")
    v: int = Field(description="payload schema version (1)")
    device: str
    pipeline: str
    seq: int = Field(ge=1, description="per device and pipeline; survives restarts; gaps mean loss")
    ts: float = Field(description="capture time, Unix seconds")
    model: str = Field(description="model id (bundle name@version or file stem)")
    latency_ms: float = Field(ge=0, description="preprocess + inference + postprocess")
    frame: int = Field(ge=0, description="frame index within the source")
    output: ClassificationOutput | DetectionOutput | EmbeddingOutput | RawOutput | dict[str, Any]


def result_schema() -> dict[str, Any]:
    schema = ResultPayload.model_json_schema()
    schema["$id"] = "https://edge-agent.invalid/schemas/result-v1.json"
    return schema
