"""Prepare an fp32 ONNX model for a target: check, choose the opset, fix shapes, optimise offline.

Steps, in order: onnx.checker; opset raised to what quantization needs (13: per-channel QDQ axes)
or the profile asks for; dynamic dimensions fixed where the profile needs static shapes (NPUs);
then ONNX Runtime's offline basic graph optimisation plus shape inference (quant_pre_process),
which is the form the quantizer expects. The result is the fp32 reference every variant is gated
against.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.hardware.profile import HardwareProfile
from exporters.errors import SourceError, UsageError

log = logging.getLogger(__name__)

MIN_QUANT_OPSET = 13


@dataclass(slots=True)
class Prepared:
    path: Path
    opset: int
    fixed_dims: dict[str, int] = field(default_factory=dict)
    optimized: bool = False


def _opset(model: object) -> int:
    for imp in model.opset_import:  # type: ignore[attr-defined]
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 0


def prepare(
    src: Path,
    dst: Path,
    profile: HardwareProfile,
    *,
    quantize: bool,
    static_dims: dict[str, int] | None = None,
) -> Prepared:
    """Write the prepared fp32 model to `dst`."""
    import onnx
    from onnx import version_converter

    try:
        onnx.checker.check_model(str(src))
        model = onnx.load(str(src))
    except (onnx.checker.ValidationError, OSError, ValueError) as exc:
        raise SourceError(f"{src}: not a valid ONNX model ({exc})") from exc
    opset = _opset(model)
    want = max(opset, MIN_QUANT_OPSET if quantize else 0, profile.opset if opset < profile.opset else 0)
    if opset and want > opset:
        log.info("raising opset %d -> %d", opset, want)
        try:
            model = version_converter.convert_version(model, want)
        except Exception as exc:  # the converter raises RuntimeError/ValidationError per adapter
            raise SourceError(f"{src}: cannot convert opset {opset} to {want} ({exc})") from exc
        opset = want
    fixed: dict[str, int] = {}
    if profile.static_shapes:
        fixed = _fix_dims(model, static_dims or {})
    staged = dst.with_name(dst.stem + ".staged.onnx")
    onnx.save(model, str(staged))
    optimized = True
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        # Symbolic shape inference fails on some transformer graphs (MiniLM); ONNX's own pass is enough.
        quant_pre_process(str(staged), str(dst), skip_symbolic_shape=True)
    except Exception as exc:  # optimisation is an improvement, not a requirement
        log.warning("ORT offline optimisation skipped (%s); using the checked model as is", exc)
        optimized = False
        onnx.save(onnx.shape_inference.infer_shapes(model), str(dst))
    staged.unlink(missing_ok=True)
    return Prepared(path=dst, opset=opset, fixed_dims=fixed, optimized=optimized)


def _fix_dims(model: object, static_dims: dict[str, int]) -> dict[str, int]:
    """Replace every named input dimension by a size: batch-like names get 1, others must be given."""
    fixed: dict[str, int] = {}
    for inp in model.graph.input:  # type: ignore[attr-defined]
        for d in inp.type.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                continue
            name = d.dim_param or "?"
            if name in static_dims:
                size = static_dims[name]
            elif "batch" in name.lower() or name in ("N", "?"):
                size = 1
            else:
                raise UsageError(
                    f"the target needs static shapes; input {inp.name!r} has dynamic dimension {name!r}: "
                    f"give --static-dim {name}=SIZE"
                )
            d.ClearField("dim_param")
            d.dim_value = size
            fixed[name] = size
    return fixed
