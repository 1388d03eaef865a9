"""Quantization recipes → ONNX Runtime's quantizers: dynamic int8, static QDQ, fp16, QNN A16W8.

A `QuantSpec` is one point the fallback ladder can try; `quantize` writes that variant and `info`
turns it into the manifest's QuantizationInfo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.bundle.manifest import QuantizationInfo
from edge_agent.hardware.profile import QuantRecipe
from exporters.errors import ExportError
from exporters.sources import Feed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QuantSpec:
    mode: str
    per_channel: bool = True
    activation_type: str = "uint8"
    weight_type: str = "int8"
    method: str = "minmax"
    exclude: tuple[str, ...] = ()
    op_types: tuple[str, ...] | None = None
    bias_correction: bool = False

    @classmethod
    def from_recipe(cls, recipe: QuantRecipe, *, transformer: bool = False) -> QuantSpec:
        # Transformers lose too much with per-tensor dynamic int8 (MiniLM: cosine 0.965 vs 0.993).
        per_channel = recipe.per_channel or (transformer and recipe.mode == "dynamic")
        act = "uint16" if recipe.mode == "qnn-a16w8" else recipe.activation_type
        weight = "uint8" if recipe.mode == "qnn-a16w8" else recipe.weight_type
        return cls(recipe.mode, per_channel, act, weight, recipe.calibration)

    def replace(self, **changes: Any) -> QuantSpec:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["exclude"] = list(self.exclude)
        return d


class FeedReader:
    """ORT CalibrationDataReader over feeds, with a progress bar on stderr."""

    def __init__(self, feeds: list[Feed], desc: str = "calibrate", progress: bool = True) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=len(feeds), desc=desc, file=sys.stderr, disable=None if progress else True, leave=False
        )
        self._it = iter(feeds)

    def get_next(self) -> Feed | None:
        item = next(self._it, None)
        if item is None:
            self._bar.close()
        else:
            self._bar.update(1)
        return item

    def rewind(self) -> None:  # ORT calls it for some calibrators; one pass is all we give
        return None


def _reader(feeds: list[Feed], progress: bool) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(FeedReader, CalibrationDataReader):  # type: ignore[misc]
        pass

    return Reader(feeds, progress=progress)


def _qtype(name: str) -> Any:
    from onnxruntime.quantization import QuantType

    return {
        "uint8": QuantType.QUInt8,
        "int8": QuantType.QInt8,
        "uint16": QuantType.QUInt16,
        "int16": QuantType.QInt16,
    }[name]


def _method(name: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    return {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[name]


def quantize(spec: QuantSpec, src: Path, dst: Path, calib: list[Feed], *, progress: bool = True) -> Path:
    """Write `src` quantized per `spec` to `dst`."""
    # ORT's calibrators print() their progress: keep stdout clean for --json reports.
    if spec.bias_correction and spec.mode != "static-qdq":
        raise ExportError(f"bias correction applies to static-qdq, not {spec.mode}")
    with contextlib.redirect_stdout(sys.stderr):
        _quantize(spec, src, dst, calib, progress)
    if spec.bias_correction:
        from exporters.bias_correction import correct_bias

        try:
            correct_bias(src, dst, dst, calib, progress=progress)
        except Exception as exc:  # ORT and onnx raise many types; each means this variant failed
            raise ExportError(f"bias correction failed: {type(exc).__name__}: {exc}") from exc
    return dst


def _quantize(spec: QuantSpec, src: Path, dst: Path, calib: list[Feed], progress: bool) -> Path:
    from onnxruntime import quantization as q

    try:
        if spec.mode == "dynamic":
            q.quantize_dynamic(
                src,
                dst,
                per_channel=spec.per_channel,
                weight_type=_qtype(spec.weight_type),
                nodes_to_exclude=list(spec.exclude),
                op_types_to_quantize=list(spec.op_types) if spec.op_types else None,
            )
        elif spec.mode == "static-qdq":
            if not calib:
                raise ExportError("static quantization needs calibration data (--calib)")
            q.quantize_static(
                src,
                dst,
                _reader(calib, progress),
                quant_format=q.QuantFormat.QDQ,
                per_channel=spec.per_channel,
                activation_type=_qtype(spec.activation_type),
                weight_type=_qtype(spec.weight_type),
                calibrate_method=_method(spec.method),
                nodes_to_exclude=list(spec.exclude),
                op_types_to_quantize=list(spec.op_types) if spec.op_types else None,
            )
        elif spec.mode == "qnn-a16w8":
            import onnx
            from onnxruntime.quantization.execution_providers.qnn import (
                get_qnn_qdq_config,
                qnn_preprocess_model,
            )

            # ORT 1.31's qnn_preprocess_model fails on models carrying metadata_props (as
            # quant_pre_process leaves them): hand it a copy without.
            bare = onnx.load(str(src))
            del bare.metadata_props[:]
            staged = dst.with_name(dst.stem + ".qnnin.onnx")
            onnx.save(bare, str(staged))
            pre = dst.with_name(dst.stem + ".qnnpre.onnx")
            if not qnn_preprocess_model(staged, pre):
                pre = staged  # nothing to fuse; the helper wrote no file
            cfg = get_qnn_qdq_config(
                pre,
                _reader(calib, progress),
                calibrate_method=_method(spec.method),
                activation_type=_qtype(spec.activation_type),
                weight_type=_qtype(spec.weight_type),
                per_channel=spec.per_channel,
                nodes_to_exclude=list(spec.exclude) or None,
            )
            q.quantize(pre, dst, cfg)
        elif spec.mode == "fp16":
            import onnx
            from onnxruntime.transformers.float16 import convert_float_to_float16

            # Inputs and outputs stay float32 so the device's pre/post-processing is unchanged.
            model = convert_float_to_float16(
                onnx.load(str(src)), keep_io_types=True, node_block_list=list(spec.exclude) or None
            )
            onnx.save(model, str(dst))
        else:
            raise ExportError(f"unknown quantization mode {spec.mode!r}")
    except ExportError:
        raise
    except Exception as exc:  # ORT's quantizers raise many types; each means this variant failed
        raise ExportError(f"{spec.mode} quantization failed: {type(exc).__name__}: {exc}") from exc
    return dst


def info(spec: QuantSpec | None, calib_fingerprint: str | None) -> QuantizationInfo:
    """The manifest's description of how the bundled model was quantized."""
    if spec is None or spec.mode == "none":
        return QuantizationInfo(mode="none")
    static = spec.mode in ("static-qdq", "qnn-a16w8")
    return QuantizationInfo(
        mode=spec.mode,  # type: ignore[arg-type]
        per_channel=spec.per_channel,
        activation_type=spec.activation_type if static else ("float16" if spec.mode == "fp16" else "float32"),
        weight_type="float16" if spec.mode == "fp16" else spec.weight_type,
        calibration_method=spec.method if static else None,
        calibration_fingerprint=calib_fingerprint if static else None,
        excluded_nodes=list(spec.exclude),
        bias_corrected=spec.bias_correction,
    )
