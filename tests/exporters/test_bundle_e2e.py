"""Bundles the exporter writes: the agent's verify_bundle loads them, ONNX Runtime runs them, the
golden canaries match, and the CLI's verify catches a tampered file, a tampered manifest, a wrong key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.bundle import load_public_key, verify_bundle
from edge_agent.bundle.archive import unpack
from exporters.cli import main
from exporters.pipeline import ExportResult


def _run_golden(root: Path) -> None:
    b = verify_bundle(root)
    sess = ort.InferenceSession(str(b.model_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert b.manifest.golden
    for case in b.manifest.golden:
        with np.load(root / case.inputs) as fi, np.load(root / case.outputs) as fo:
            got = dict(zip(names, sess.run(None, {k: fi[k] for k in fi.files}), strict=True))
            for k in fo.files:
                np.testing.assert_allclose(got[k], fo[k], atol=case.atol, rtol=case.rtol)


def test_signed_archive_verifies_and_runs_end_to_end(
    digits_bundle: ExportResult, keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    assert digits_bundle.archive is not None
    root = unpack(digits_bundle.archive, tmp_path / "unpacked")
    b = verify_bundle(root, [load_public_key(keypair[1])])
    assert b.signed_by is not None
    m = b.manifest
    assert m.task == "classification"
    assert m.quantization.mode == "none"
    assert m.inputs[0].name == "input"
    assert m.inputs[0].dtype == "float32"
    assert m.postprocess is not None
    assert m.postprocess.kind == "classification"
    assert m.postprocess.labels == [str(i) for i in range(10)]
    assert {f.path for f in m.files} >= {"model.onnx", "golden/case0_inputs.npz", "golden/case0_outputs.npz"}
    _run_golden(root)


def test_sklearn_conversion_gives_identical_predictions(digits_bundle: ExportResult) -> None:
    conv = digits_bundle.report["gate"]["conversion"]
    assert conv["metric"] == "label_agreement"
    assert conv["value"] == 1.0
    assert conv["n"] == 397


def test_pickle_needs_explicit_trust(
    digits: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["build", str(digits["model"]), "-o", str(tmp_path / "x"), "--holdout", str(digits["holdout"])])
    assert rc == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.fixture
def copy(digits_bundle: ExportResult, tmp_path: Path) -> Path:
    return Path(shutil.copytree(digits_bundle.bundle.root, tmp_path / "b"))


def _verify(path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["verify", str(path), "--key", str(key)])
    return rc, capsys.readouterr()


def test_cli_verify_ok(copy: Path, keypair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["verify", str(copy), "--key", str(keypair[1])])
    assert rc == 0
    assert "signed by" in capsys.readouterr().out


def test_cli_verify_tampered_file(
    copy: Path, keypair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with (copy / "model.onnx").open("r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    assert main(["verify", str(copy), "--key", str(keypair[1])]) == 1
    assert "checksum mismatch for model.onnx" in capsys.readouterr().err


def test_cli_verify_tampered_manifest(
    copy: Path, keypair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    m = json.loads((copy / "manifest.json").read_text())
    m["postprocess"]["labels"][0] = "seven"
    (copy / "manifest.json").write_text(json.dumps(m))
    assert main(["verify", str(copy), "--key", str(keypair[1])]) == 1
    assert "signature does not verify" in capsys.readouterr().err


def test_cli_verify_wrong_key(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", str(tmp_path / "other")]) == 0
    assert main(["verify", str(copy), "--key", str(tmp_path / "other.pub")]) == 1
    assert "signature does not verify" in capsys.readouterr().err


def test_cli_sign_then_verify(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", str(tmp_path / "new")]) == 0
    assert main(["sign", str(copy), "--key", str(tmp_path / "new.key")]) == 0
    assert main(["verify", str(copy), "--key", str(tmp_path / "new.pub"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["ok"] is True


def test_benchmark_reports_latency_size_rss_and_placement(digits_bundle: ExportResult) -> None:
    b = digits_bundle.report["benchmark"]["fp32"]
    assert 0 < b["p50_ms"] <= b["p95_ms"]
    assert b["size_bytes"] > 0
    assert b["peak_rss_mb"] > 0
    assert b["nodes_by_provider"]["CPUExecutionProvider"] >= 1


def test_report_carries_the_canary_keys(digits_bundle: ExportResult) -> None:
    report = verify_bundle(digits_bundle.bundle.root).manifest.report
    assert report["latency_ms_p95"] == report["benchmark"]["fp32"]["p95_ms"]
    assert report["accelerator_node_share"] == 0.0
    assert report["metric"] == "label_agreement"
