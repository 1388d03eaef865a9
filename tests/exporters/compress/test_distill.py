"""edge-export distill: a small student from ImageNet MobileNetV2 on unlabelled photo crops, built,
gated and signed; teacher and student compared structurally (parameters, MACs, file size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from compress_helpers import TEACHER, golden_matches

from edge_agent.bundle.verify import load_public_key, verify_bundle
from exporters.cli import main
from exporters.compress.distill import DistillOptions, DistillResult, distill
from exporters.compress.kd import FitSettings, kd_loss
from exporters.compress.students import build_student
from exporters.errors import SourceError, UsageError

# The distillation build is a fixture, counted in the first test that asks for it: 68-180 s at load
# average 9-19 on the 2 cores (training is capped by its epoch and seconds budget), so the suite's
# 300 s would leave too little headroom. No test judges a duration.
pytestmark = pytest.mark.timeout(600)


def test_student_is_smaller_than_its_teacher(distilled: DistillResult) -> None:
    cmp = distilled.report["compare"]
    teacher, student = cmp["teacher"], cmp["student_fp32"]
    assert student["params"] * 10 < teacher["params"]
    assert student["macs"] * 10 < teacher["macs"]
    assert cmp["student_bundle"]["size_bytes"] * 10 < teacher["size_bytes"]
    assert student["input"] == [64, 64]
    assert teacher["input"] == [224, 224]


def test_report_sets_teacher_and_student_side_by_side(distilled: DistillResult) -> None:
    rep = distilled.report
    assert len(rep["teacher"]["classes"]) == 3
    assert rep["data"] == {"train_n": 48, "holdout_n": 16, "hard_labels": False}
    cmp = rep["compare"]
    # The restricted teacher, run apart, agrees with the logits the student was scored against.
    assert cmp["teacher"]["top1_agreement_with_teacher"] == 1.0
    for row in ("student_fp32", "student_bundle"):
        assert 0.0 <= cmp[row]["top1_agreement_with_teacher"] <= 1.0
        assert cmp[row]["energy_mj_per_result_estimate"] > 0
    assert rep["fit"]["epochs"] >= 1
    assert rep["fit"]["history"]


def test_student_bundle_passes_its_gate_verifies_and_runs(
    distilled: DistillResult, keypair: tuple[Path, Path]
) -> None:
    build = distilled.build
    assert build.report["gate"]["passed"] is True
    assert build.bundle.manifest.quantization.mode == "static-qdq"
    bundle = verify_bundle(build.bundle.root, [load_public_key(keypair[1])])
    assert bundle.signed_by is not None
    assert bundle.manifest.preprocess is not None
    assert bundle.manifest.preprocess.size == (64, 64)
    assert bundle.manifest.postprocess is not None
    assert len(bundle.manifest.postprocess.labels or []) == 3  # type: ignore[union-attr]
    assert golden_matches(build.bundle.root) <= bundle.manifest.golden[0].atol
    assert build.archive is not None
    assert main(["verify", str(build.archive), "--key", str(keypair[1])]) == 0


def test_soft_loss_is_zero_when_student_matches_teacher_and_mixes_hard_labels() -> None:
    import torch

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    assert float(kd_loss(logits, logits, 4.0)) == pytest.approx(0.0, abs=1e-6)
    hard = torch.tensor([2, 0])  # labels that disagree with the teacher add cross-entropy
    assert float(kd_loss(logits, logits, 4.0, hard, alpha=0.5)) > 0.5


def test_missing_teacher_file_is_a_clear_error(tmp_path: Path, images: dict[str, Path]) -> None:
    opts = DistillOptions(teacher=str(tmp_path / "nope.onnx"), data=images["train"], out=tmp_path / "out")
    with pytest.raises(SourceError, match=r"teacher .*nope\.onnx: no such file"):
        distill(opts)
    code = main(
        ["distill", str(tmp_path / "nope.onnx"), "--data", str(images["train"]), "-o", str(tmp_path / "o")]
    )
    assert code == 1
    assert not (tmp_path / "o").exists()


def test_bad_settings_are_usage_errors(tmp_path: Path, images: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="--temperature 0"):
        distill(DistillOptions(TEACHER, images["train"], tmp_path / "o", fit=FitSettings(temperature=0)))
    with pytest.raises(UsageError, match="--student resnet"):
        build_student("resnet", 3)
    assert (
        main(["distill", TEACHER, "--data", str(images["train"]), "-o", str(tmp_path / "o"), "--alpha", "2"])
        == 2
    )


def test_width_mult_keeps_imagenet_weights_loading(mobilenet_weights: Path) -> None:
    import torch

    from exporters.models.mobilenet_v2 import mobilenet_v2

    full = mobilenet_v2()
    full.load_state_dict(torch.load(mobilenet_weights, weights_only=True))
    small = mobilenet_v2(num_classes=5, width_mult=0.35)
    n = [sum(int(np.prod(p.shape)) for p in m.parameters()) for m in (full, small)]
    assert n[1] * 5 < n[0]
    assert small(torch.zeros(1, 3, 64, 64)).shape == (1, 5)
