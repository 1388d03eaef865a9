"""Quantization-aware training: the ladder's last int8 rung, for sources that are torch modules.

When every post-training rung misses the budget, the source's nn.Module is fine-tuned with fake
quantization that computes what ONNX Runtime's static QDQ model will (exporters/qat/fakequant.py),
distilled from the fp32 model's own outputs, so unlabelled images are enough
(exporters/qat/train.py). The fine-tuned *float* model is then exported and prepared like the
original, and the ladder quantizes it with the project's own `quantize()` and the same calibration
data: the QDQ graph is exactly the kind every other rung writes, and ORT runs it at int8 speed.

Why not PyTorch's PT2E flow (`prepare_qat_pt2e`/`convert_pt2e`, in torchao beside torch 2.13):
its converted model exports its own QDQ placement and observers, which is not what
`quantize_static` writes and would need its own checks that ORT fuses it into int8 kernels; and
torchao would be a new dependency for the fake-quant arithmetic, a few lines of torch here. What
matters for QAT is that training sees the rounding the deployed model does; quantizing with the
same `quantize()` guarantees that for the weights (recomputed from the final weights) and the
activation ranges (re-measured on the same calibration samples).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from exporters.errors import ExportError
from exporters.qat.train import QatSettings, finetune
from exporters.quantize import QuantSpec
from exporters.sources import Feed, SourceSpec

__all__ = ["Qat", "QatSettings", "qat_rung"]

# (the spec the fine-tuned model will be quantized with) -> (its prepared fp32 ONNX, training notes)
Qat = Callable[[QuantSpec], tuple[Path, dict[str, Any]]]


def qat_rung(  # noqa: PLR0917 - one call site, the pipeline's
    source: SourceSpec | None,
    kind: str,
    calib: list[Feed],
    train: Callable[[], list[Feed]],
    prepare_fp32: Callable[[Path], Path],
    settings: QatSettings,
    workdir: Path,
) -> tuple[Qat | None, str | None]:
    """(the QAT rung, None), or (None, why it cannot be climbed for this source).

    `train` loads the training samples when the rung is climbed (not before: it is the last rung);
    `prepare_fp32` turns an exported ONNX file into the fp32 reference the way the original was.
    """
    if kind != "torch" or source is None:
        return None, f"the source is {kind}, not a torch module: there are no trainable weights"
    if source.input_shape is None:
        return None, "the torch source has no --input-shape"
    shape = source.input_shape

    def climb(spec: QuantSpec) -> tuple[Path, dict[str, Any]]:
        if (spec.mode, spec.activation_type, spec.weight_type, spec.method) != (
            "static-qdq",
            "uint8",
            "int8",
            "minmax",
        ):
            raise ExportError(
                f"QAT emulates static QDQ u8 activations, s8 weights, minmax; got {spec.as_dict()}"
            )
        from exporters.sources.torch_module import build_module, export_onnx

        feeds = train() or calib
        names = {k for f in feeds + calib for k in f}
        if len(names) != 1:
            raise ExportError(f"QAT handles models with one input, got {sorted(names)}")
        (name,) = names
        try:
            tuned, notes = finetune(
                build_module(source.source, source.weights),
                [f[name] for f in feeds],
                [f[name] for f in calib],
                per_channel=spec.per_channel,
                float_output=bool(spec.exclude),
                settings=settings,
            )
            onnx_path = export_onnx(tuned, shape, workdir / "qat_source.onnx", source.opset)
        except ExportError:
            raise
        except Exception as exc:  # torch raises many types; each means this rung failed
            raise ExportError(f"QAT failed: {type(exc).__name__}: {exc}") from exc
        return prepare_fp32(onnx_path), notes

    return climb, None
