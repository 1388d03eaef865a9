"""The bundle manifest: the contract between the exporter (writes it) and the agent (trusts it).

A bundle is one directory: `manifest.json`, `manifest.sig` (detached ed25519 signature over the
exact bytes of manifest.json), the ONNX model, and any files listed in `files` (labels, tokenizer,
golden inputs/outputs, EP-context caches). Pre/post-processing reuse the config models, so a
setting means the same thing in a bundle as in a YAML file.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge_agent.bundle import rewrite
from edge_agent.bundle.settings import PostprocessConfig, PreprocessConfig

SCHEMA_VERSION: Final = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TensorSpec(_M):
    name: str
    dtype: str = Field(description="numpy dtype name, e.g. float32, int64, uint8")
    shape: list[int | str] = Field(description="static sizes, or names for dynamic dimensions")
    layout: str | None = Field(default=None, description="e.g. NCHW, NHWC, NC, NT")


class FileEntry(_M):
    path: str = Field(description="relative to the bundle directory, '/' separated")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class TextSpec(_M):
    tokenizer_files: list[str] = Field(default_factory=list)
    max_length: int = 128


class AudioSpec(_M):
    sample_rate: int = Field(gt=0)
    window: int = Field(gt=0, description="samples per model call")
    context: int = Field(default=0, ge=0, description="samples of left context prepended to each window")
    stateful: bool = False


class PromptSpec(_M):
    """How the model was tuned to be asked (the finetune writes it; the text pipeline uses it unless its
    config says otherwise). The chat template wraps `system` and `template.format(input=...)`; then the
    assistant's answer begins with `answer_prefix` (e.g. `{"severity": "`): `classify` scores each label
    as the continuation `label + label_suffix` after it; `extract` generates JSON under `schema`."""

    system: str | None = None
    template: str = Field(default="{input}", description="user turn; {input} is the text to work on")
    answer_prefix: str = Field(default="", description="the answer's first characters, before the label")
    label_suffix: str = Field(default="", description="what follows a label in the answer, e.g. a quote")
    labels: list[str] = Field(default_factory=list, description="classify: the label set it was tuned on")
    label_field: str | None = Field(default=None, description="the JSON field the label fills, if any")
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="extract: JSON Schema of the answer it was tuned on"
    )
    input_rewrite: list[tuple[str, str]] = Field(
        default_factory=list,
        description="[pattern, replacement] regex substitutions made on the input before the template, "
        "in order (edge_agent.bundle.rewrite), e.g. a log line's timestamp, host and pid cut",
    )

    @field_validator("input_rewrite")
    @classmethod
    def _rules_compile(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return rewrite.check(v)


class SlmSpec(_M):
    """A small language model run by onnxruntime-genai (task "slm"; docs/slm.md).

    `folder` holds genai_config.json, the ONNX decoder (the manifest's `model`), its external weights
    and the tokenizer files; the agent opens it with `onnxruntime_genai.Model(<bundle>/<folder>)` and
    never needs torch or transformers. Every file in it is listed in the manifest's `files`."""

    folder: str = Field(default="model", description="folder inside the bundle with genai_config.json")
    architecture: str = Field(description="decoder family, e.g. llama, phi3, mistral, qwen2")
    precision: Literal["int4", "int8", "fp16", "fp32"]
    max_length: int = Field(
        gt=0, description="KV-cache length set in genai_config.json (prompt + new tokens)"
    )
    context_length: int = Field(gt=0, description="the source model's own context window")
    vocab_size: int = Field(gt=0)
    eos_token_ids: list[int] = Field(min_length=1)
    chat_template: str | None = Field(default=None, description="Jinja chat template of the source model")
    source: str = Field(description="what it was built from: file name and sha256 of the GGUF or HF folder")
    prompt: PromptSpec | None = Field(default=None, description="the task it was tuned for, if any")


class QuantizationInfo(_M):
    mode: Literal["none", "dynamic", "static-qdq", "fp16", "qnn-a16w8", "int4", "int8"]
    per_channel: bool = False
    activation_type: str | None = None
    weight_type: str | None = None
    calibration_method: str | None = None
    calibration_fingerprint: str | None = Field(
        default=None, description="sha256 over the calibration inputs, so a build can be reproduced"
    )
    excluded_nodes: list[str] = Field(default_factory=list)
    bias_corrected: bool = Field(
        default=False,
        description="biases moved so each channel's mean output matches fp32 on calibration data",
    )


class GoldenCase(_M):
    """A canary: run `inputs` (npz, one array per model input) and compare with `outputs` (npz)."""

    inputs: str
    outputs: str
    atol: float = Field(default=1e-3, ge=0)
    rtol: float = Field(default=1e-3, ge=0)


class Manifest(_M):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: str
    task: Literal["classification", "detection", "embedding", "anomaly", "vad", "raw", "slm"]
    created: str = Field(description="ISO 8601 UTC")
    exporter_version: str
    onnx_version: str | None = None
    onnxruntime_version: str | None = None
    target: str = Field(description="hardware profile name the bundle was built for")
    model: str = Field(description="path of the ONNX model inside the bundle")
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    preprocess: PreprocessConfig | None = None
    text: TextSpec | None = None
    audio: AudioSpec | None = None
    slm: SlmSpec | None = Field(default=None, description="task slm: the language model's settings")
    postprocess: PostprocessConfig | None = None
    quantization: QuantizationInfo = Field(default_factory=lambda: QuantizationInfo(mode="none"))
    files: list[FileEntry] = Field(min_length=1)
    golden: list[GoldenCase] = Field(default_factory=list)
    report: dict[str, Any] = Field(default_factory=dict, description="measured on the build machine")

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"
