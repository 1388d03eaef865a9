"""The model block of a pipeline (ModelConfig: file or bundle, execution providers, threads, trusted keys).

The inference domain owns it; ensembles and cascades reuse it for their members, and edge_agent.config
composes it into PipelineConfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from edge_agent.strict import Strict, auto_or_int


class ProviderSpec(Strict):
    name: str = Field(description="ONNX Runtime execution provider, e.g. CPUExecutionProvider.")
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Provider options passed to ONNX Runtime as given."
    )


def _provider_list(value: Any) -> Any:
    """Accept `[CPUExecutionProvider]` as shorthand for `[{name: CPUExecutionProvider}]`."""
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


class ModelConfig(Strict):
    path: Path = Field(
        description="A .onnx file, a bundle directory (manifest.json inside), or a packed bundle "
        "(*.bundle.tgz, unpacked into <state_dir>/packed/); relative to the config file's folder."
    )
    id: str | None = Field(
        default=None, description="Model id in results; defaults to the bundle's name@version or file stem."
    )
    providers: list[ProviderSpec] | None = Field(
        default=None,
        description="EP preference list; None uses the hardware profile's chain, else CPU.",
    )
    require_accelerator: bool = Field(
        default=False,
        description="Fail to start rather than fall back silently to CPUExecutionProvider.",
    )
    intra_op_threads: Annotated[int, Field(ge=0, le=256)] | Literal["auto"] = Field(
        default="auto",
        description="ORT intra-op threads (0 = ORT's own choice). auto: chosen with `workers` from the "
        "cores the hardware profile gives inference, split fairly across pipelines (docs/pipelines.md).",
    )
    workers: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
        default="auto",
        description="Inference threads sharing this model's session, results kept in frame order. More "
        "than 1 only where frames are independent (no vad state, ensemble or cascade); auto: chosen "
        "with intra_op_threads.",
    )
    inter_op_threads: int = Field(default=1, ge=0, le=256, description="ORT inter-op threads (0 = ORT).")
    trusted_keys: list[Path] = Field(
        default_factory=list,
        description="ed25519 public keys (PEM or raw 32-byte hex) a bundle's signature must match. "
        "Empty: checksums are verified, signatures are not required.",
    )

    _norm = field_validator("providers", mode="before")(_provider_list)
    _threads = field_validator("intra_op_threads", mode="before")(auto_or_int(0, 256))
    _workers = field_validator("workers", mode="before")(auto_or_int(1, 64))

    @property
    def intra_op(self) -> int:
        """The intra-op threads to open a session with: the set number, 1 where still `auto` (an
        ensemble member, a session opened outside a pipeline's layout)."""
        return 1 if self.intra_op_threads == "auto" else self.intra_op_threads

    @field_validator("path", mode="before")
    @classmethod
    def _non_empty(cls, v: Any) -> Any:
        # Path("") is ".", the working directory: an empty value must not become a folder to search.
        if isinstance(v, str) and not v.strip():
            raise ValueError("expected a .onnx file, a bundle directory or a .bundle.tgz, got an empty path")
        return v
