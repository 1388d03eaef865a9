"""How both halves ask ONNX Runtime to run a model: as written. The exporter's gate, its latency runs
and the device's sessions apply the same settings, so that what the gate measured is what the device
computes. A leaf module (imports nothing of the project, not even onnxruntime).

ONNX Runtime (1.31, the version pinned here) has a graph transformer, `WeightBiasQuantization`,
that quantizes at load the float weights of any Conv, Gemm or MatMul whose activation input comes
from a DequantizeLinear. Those are exactly the nodes the exporter keeps in float on purpose
(`quantization.excluded_nodes`: the ladder's sensitive layers and float outputs, `--exclude`, the
QAT model's float output layer), so left on it would silently undo every exclusion: the node runs
int8 after all, with the int8 kernels' working buffers (docs/deploy.md, "The small board's memory
on arm64"). Off, a node left in float runs in float. A bundle without exclusions has no float
weights beside quantized activations, so for it this changes nothing.
"""

from __future__ import annotations

from typing import Final, Protocol

# ORT's kOrtSessionOptionsDisableSpecifiedOptimizers: a comma-separated list of transformer names.
DISABLE_OPTIMIZERS_KEY: Final = "optimization.disable_specified_optimizers"
DISABLED_OPTIMIZERS: Final = ("WeightBiasQuantization",)
SESSION_CONFIG: Final = {DISABLE_OPTIMIZERS_KEY: ",".join(DISABLED_OPTIMIZERS)}


class _Options(Protocol):
    def add_session_config_entry(self, key: str, value: str) -> None: ...


def as_written(so: _Options) -> None:
    """Apply the project's graph settings to an `onnxruntime.SessionOptions`."""
    for key, value in SESSION_CONFIG.items():
        so.add_session_config_entry(key, value)
