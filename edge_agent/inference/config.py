"""The model block of a pipeline (ModelConfig: file or bundle, execution providers, threads, trusted keys).

The inference domain owns it; ensembles and cascades reuse it for their members, and edge_agent.config
composes it into PipelineConfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from edge_agent.strict import Strict


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
    intra_op_threads: int = Field(default=1, ge=0, le=256, description="ORT intra-op threads (0 = ORT).")
    inter_op_threads: int = Field(default=1, ge=0, le=256, description="ORT inter-op threads (0 = ORT).")
    trusted_keys: list[Path] = Field(
        default_factory=list,
        description="ed25519 public keys (PEM or raw 32-byte hex) a bundle's signature must match. "
        "Empty: checksums are verified, signatures are not required.",
    )

    _norm = field_validator("providers", mode="before")(_provider_list)

    @field_validator("path", mode="before")
    @classmethod
    def _non_empty(cls, v: Any) -> Any:
        # Path("") is ".", the working directory: an empty value must not become a folder to search.
        if isinstance(v, str) and not v.strip():
            raise ValueError("expected a .onnx file, a bundle directory or a .bundle.tgz, got an empty path")
        return v
