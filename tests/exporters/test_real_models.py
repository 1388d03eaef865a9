"""Real models from MODELS.md through the whole exporter: MiniLM (HF, dynamic int8), a HF classifier
fine-tuned from it, MobileNetV2 (PyTorch, static QDQ with the ladder) and BlazeFace (TFLite → ONNX)."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from hf_classifier import LABELS, Classifier

from edge_agent.bundle import verify_bundle
from edge_agent.hardware.cpu import INTERESTING_FLAGS
from exporters.data import preprocess_image
from exporters.errors import GateFailedError
from exporters.heads import decode_blazeface
from exporters.pipeline import ExportResult

pytestmark = pytest.mark.slow

# A whole ladder over a real model (its session fixture is built inside the first test that asks
# for it, and pytest-timeout counts that setup): 3x the slowest measured quiet on 2 cores, so a
# machine three times busier still passes (docs/exporter.md, "Tests").
HEAVY_TIMEOUT_S = 900


def test_minilm_dynamic_int8_keeps_cosine(minilm_bundle: ExportResult) -> None:
    m = verify_bundle(minilm_bundle.bundle.root).manifest
    gate = minilm_bundle.report["gate"]
    assert gate["metric"] == "cosine"
    assert gate["value"] >= 0.99
    assert m.task == "embedding"
    assert m.quantization.mode == "dynamic"
    assert m.quantization.per_channel
    assert m.text is not None
    assert "tokenizer/tokenizer.json" in m.text.tokenizer_files
    assert {"input_ids", "attention_mask"} <= {i.name for i in m.inputs}
    # how long the run took is reported (benchmarks/export.py compares it with the 90 s target);
    # a test never judges it: a busy machine would fail a healthy exporter
    timings = minilm_bundle.report["timings_s"]
    assert 0 < timings["load"] <= timings["total"]
    bench = minilm_bundle.report["benchmark"]
    assert bench["dynamic"]["size_bytes"] < bench["fp32"]["size_bytes"] / 3


@pytest.mark.heavy  # fine-tunes MiniLM in torch first: 27 s on a quieter machine, 210 s at load 7
@pytest.mark.timeout(HEAVY_TIMEOUT_S)
def test_local_hugging_face_classifier_exports_with_its_labels_and_agrees(
    report_classifier: Classifier, report_classifier_bundle: ExportResult
) -> None:
    """A fine-tuned BertForSequenceClassification directory: optimum cannot infer a local directory's
    task, the exporter reads it from config.json; dynamic int8 keeps every held-out prediction."""
    c = report_classifier
    assert c.train_accuracy == 1.0
    assert (c.torch_predictions == c.holdout_labels).mean() >= 0.75  # a real, if small, classifier
    rep = report_classifier_bundle.report
    assert rep["source"]["hf_task"] == "text-classification"
    gate = rep["gate"]
    assert gate["metric"] == "top1_agreement"
    assert gate["value"] >= 0.97
    b = verify_bundle(report_classifier_bundle.bundle.root)
    m = b.manifest
    assert m.task == "classification"
    assert m.quantization.mode == "dynamic"
    assert m.postprocess.kind == "classification"
    assert m.postprocess.labels == list(LABELS)
    assert m.text is not None
    assert "tokenizer/tokenizer.json" in m.text.tokenizer_files
    # the bundle's int8 model, fed by the bundle's own tokenizer, predicts what PyTorch predicts
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(b.root / "tokenizer" / "tokenizer.json"))
    sess = ort.InferenceSession(str(b.model_path), providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    preds = []
    for line in c.holdout.read_text(encoding="utf-8").splitlines():
        enc = tok.encode(line)
        feed = {
            "input_ids": np.array([enc.ids], np.int64),
            "attention_mask": np.array([enc.attention_mask], np.int64),
            "token_type_ids": np.array([enc.type_ids], np.int64),
        }
        preds.append(int(sess.run(None, {k: v for k, v in feed.items() if k in names})[0].argmax()))
    np.testing.assert_array_equal(preds, c.torch_predictions)


@pytest.mark.heavy
@pytest.mark.timeout(HEAVY_TIMEOUT_S)
def test_mobilenet_gate_climbs_the_ladder_and_reports_honestly(
    mobilenet_gate: ExportResult | GateFailedError,
) -> None:
    """Static QDQ int8 of torchvision's MobileNetV2 on held-out real crops, budget 97 % top-1 agreement.

    8-bit activations top out near 0.77 on these crops (pages, text, the moon, galaxies: fp32 itself
    nearly ties on 8 of 96), kernels or not: with ORT's graph optimisations off the same QDQ models
    agree no better. 16-bit activations with bias correction reach 0.927, 0.948 with the 3 most
    sensitive layers in float, short of the budget (docs/exporter.md). Then the QAT rung fine-tunes
    the weights under fake quantization; with CI's short training (16 steps on the 32 calibration
    crops) it stays short of 97 % too (benchmarks/qat.py runs it long). So the export must fail
    loudly, with every rung in the report, and write no bundle. If a rung passes (another CPU's
    int8 kernels, or a quieter machine's longer training), the bundle must say so.
    """
    if isinstance(mobilenet_gate, ExportResult):  # pragma: no cover - depends on the CPU's int8 kernels
        assert mobilenet_gate.report["gate"]["value"] >= 0.97
        return
    gate = mobilenet_gate.report["gate"]
    rungs = gate["rungs"]
    names = [r["rung"] for r in rungs]
    assert names[0] == "recipe"
    assert any(n.startswith("calibration") for n in names)
    assert "uint16 activations" in names
    # bias correction is tried on the 8-bit variant and again on the 16-bit one, where weight
    # rounding is what is left (when the 8-bit rung kept it, the 16-bit rung carries it): the
    # 16-bit variant with it must score clearly above every 8-bit one (measured 0.927 against 0.771)
    corrected = [r for r in rungs if r["rung"] == "bias correction"]
    assert corrected
    assert all(r["quantization"]["bias_correction"] for r in corrected)
    wide = next(r for r in rungs if r["rung"] == "uint16 activations")
    assert wide["quantization"]["method"] == "minmax"  # nothing to clip with 65,536 levels
    # (when the 8-bit rung already kept bias correction, the 16-bit rung carries it and is not redone)
    wide_corrected = wide if wide["quantization"]["bias_correction"] else corrected[-1]
    assert wide_corrected["quantization"]["activation_type"] == "uint16"
    # (post-training rungs only: QAT, the last rung, is 8-bit too but trained, and may come close)
    eight_bit = [
        r["value"] for r in rungs if r["quantization"]["activation_type"] == "uint8" and r["rung"] != "qat"
    ]
    assert wide_corrected["value"] >= 0.9
    assert wide_corrected["value"] > max(eight_bit) + 0.1
    assert any(n.startswith("exclude") for n in names)
    assert all(r["metrics"]["metric"] == "top1_agreement" and 0 < r["value"] < 0.97 for r in rungs)
    # each rung's speed beside its accuracy (how fast is a benchmark's business, not this test's)
    for r in rungs:
        assert r["latency"]["p50_ms"] > 0
        assert r["latency"]["p95_ms"] >= r["latency"]["p50_ms"]
        assert r["latency"]["speedup"] == pytest.approx(
            r["latency"]["fp32_p50_ms"] / r["latency"]["p50_ms"], rel=1e-2
        )
    # the ladder does its job: the best rung beats the naive recipe clearly
    assert max(r["value"] for r in rungs) > rungs[0]["value"] + 0.1
    assert gate["passed"] is False
    # the figures depend on the CPU's int8 features (VNNI or not), so the report names them
    host = mobilenet_gate.report["host"]
    assert host["arch"] == platform.machine()
    assert host["logical_cpus"] >= 1
    assert set(host["features"]) <= set(INTERESTING_FLAGS)
    assert isinstance(host["int8_saturates"], bool)  # the gate's int8 figures read with it
    assert "no bundle written" in str(mobilenet_gate)
    # every rung says where its flips fall: on fp32's own near-ties or on samples fp32 is sure of
    n = gate["holdout_n"]
    for r in rungs:
        m = r["metrics"]
        assert m["flips"] == round((1 - r["value"]) * n)
        assert 0 < m["near_ties"] < n
        assert m["flips_at_near_ties"] <= min(m["flips"], m["near_ties"])
        decisive = 1 - (m["flips"] - m["flips_at_near_ties"]) / (n - m["near_ties"])
        assert m["decisive_agreement"] == pytest.approx(decisive)
    assert "nearly ties on" in str(mobilenet_gate)
    # fp32 itself, its input rounded as the int8 models' first QuantizeLinear rounds it, agrees 0.958:
    # the budget is tighter than what any variant with an 8-bit input can reach, and the failure says so
    floor = gate["input_rounding_floor"]
    assert floor["metric"] == "top1_agreement"
    assert floor["value"] < 0.97
    assert "no post-training variant with an 8-bit input can meet this budget" in str(mobilenet_gate)
    _assert_qat_is_the_last_rung(rungs)
    excluded = next(r for r in rungs if r["rung"].startswith("exclude"))["quantization"]["exclude"]
    assert excluded
    assert all(n.endswith(("Conv", "Gemm")) for n in excluded)


def _assert_qat_is_the_last_rung(rungs: list[dict[str, Any]]) -> None:
    """QAT comes after every post-training rung missed: 8-bit, trained, timed like the others."""
    qat = rungs[-1]
    assert qat["rung"] == "qat"
    assert qat["quantization"]["activation_type"] == "uint8"
    assert qat["metrics"]["qat"]["steps"] >= 1
    assert qat["metrics"]["qat"]["train_samples"] == 32  # no --train-data: the calibration crops


def test_blazeface_tflite_finds_the_astronauts_face(blazeface_bundle: ExportResult) -> None:
    import skimage.data

    b = verify_bundle(blazeface_bundle.bundle.root)
    m = b.manifest
    assert m.task == "detection"
    assert m.inputs[0].shape == [1, 3, 128, 128]
    assert m.preprocess is not None
    rgb = skimage.data.astronaut()
    x = preprocess_image(np.ascontiguousarray(rgb[..., ::-1]), m.preprocess, (128, 128))
    sess = ort.InferenceSession(str(b.model_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    boxes = decode_blazeface(dict(zip(names, sess.run(None, {m.inputs[0].name: x}), strict=True)))
    assert len(boxes) >= 1
    x1, y1, x2, y2, score = boxes[0]
    assert score > 0.8
    # the face in skimage's astronaut (512 px) sits around x 170-260, y 60-180
    cx, cy = (x1 + x2) / 2 * 512, (y1 + y2) / 2 * 512
    assert 170 < cx < 260
    assert 60 < cy < 180


@pytest.mark.heavy
@pytest.mark.timeout(HEAVY_TIMEOUT_S)
def test_blazeface_static_int8_climbs_to_the_box_f1_budget(blazeface_int8: ExportResult) -> None:
    gate = blazeface_int8.report["gate"]
    assert gate["metric"] == "box_f1"
    assert gate["passed"] is True
    assert gate["value"] >= 0.95
    rungs = gate["rungs"]
    assert rungs[0]["value"] < 0.95  # the recipe alone loses faces: the ladder had work to do
    assert rungs[-1]["passed"] is True
    assert all(not r["passed"] for r in rungs[:-1])
    q = verify_bundle(blazeface_int8.bundle.root).manifest.quantization
    assert q.mode == "static-qdq"
    assert q.activation_type == rungs[-1]["quantization"]["activation_type"]
    assert q.bias_corrected == rungs[-1]["quantization"]["bias_correction"]
    # bias correction hurts this detector (0.936 -> 0.389 measured): a rung that loses is not carried on
    corrected = next(r for r in rungs if r["rung"] == "bias correction")
    if corrected["value"] < max(r["value"] for r in rungs[: rungs.index(corrected)]):
        assert not rungs[-1]["quantization"]["bias_correction"]
    if blazeface_int8.report["benchmark"]["speedup"] < 1.0:
        assert "slower than fp32" in blazeface_int8.report["warnings"][0]


@pytest.mark.heavy
@pytest.mark.timeout(HEAVY_TIMEOUT_S)
def test_yolo_head_gets_float_outputs_then_passes_with_16_bit_activations(yolo_int8: ExportResult) -> None:
    """YOLOv8 concatenates boxes (0-640 px) and class scores (0-1) into one output: one 8-bit scale
    for both wipes the scores. Leaving the head's last node in float fixes that at int8 speed."""
    gate = yolo_int8.report["gate"]
    assert gate["metric"] == "box_f1"
    rungs = {r["rung"]: r for r in gate["rungs"]}
    assert rungs["recipe"]["value"] < 0.5  # measured 0.0: every score rounds to one level
    floated = rungs["float outputs"]
    assert floated["quantization"]["activation_type"] == "uint8"
    assert any("Concat" in n for n in floated["quantization"]["exclude"])
    assert floated["value"] > rungs["recipe"]["value"]
    # measured 0.875 on a VNNI CPU; 0.5 on an EPYC without VNNI, where u8s8 saturation costs the rest
    assert floated["value"] >= (0.4 if yolo_int8.report["host"]["int8_saturates"] else 0.8)
    assert gate["passed"] is True
    assert gate["value"] >= 0.95
    assert gate["rungs"][-1]["rung"] == "uint16 activations"
    assert gate["skipped_rungs"] == sorted(
        ["uint8 weights", "calibration percentile", "calibration entropy", "bias correction"]
    )
    m = verify_bundle(yolo_int8.bundle.root).manifest
    assert m.task == "detection"
    assert m.postprocess.kind == "yolo"
    assert m.quantization.excluded_nodes  # the float head travels with the bundle
    # an Ultralytics export says so in its metadata: its predictor letterboxes on grey 114, and the
    # metadata names the classes
    assert m.preprocess is not None
    assert (m.preprocess.resize, m.preprocess.pad_value) == ("letterbox", 114)
    assert yolo_int8.report["preprocess"]["resize_from"] == "source"
    assert m.postprocess.labels == ["Normal", "Fall"]
