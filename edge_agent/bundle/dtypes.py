"""ONNX Runtime element types and the numpy dtype names a bundle manifest uses (`TensorSpec.dtype`).

The one table: the exporter writes manifests with it and the agent's preprocessors check model inputs
against it. A leaf module (numpy-free, imports nothing of the project).
"""

from __future__ import annotations

from typing import Final

# onnxruntime's `NodeArg.type` strings -> numpy dtype names.
ORT_TO_NUMPY: Final = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(bool)": "bool",
}
NUMPY_TO_ORT: Final = {v: k for k, v in ORT_TO_NUMPY.items()}


def ort_types(*names: str) -> dict[str, str]:
    """The part of the table for these numpy dtype names, in the order given (ORT type -> numpy name)."""
    return {NUMPY_TO_ORT[n]: n for n in names}
