"""`edge-export device-check`: a bundle built for the Raspberry Pi 5 (OriNet, static int8, the
exporter's worked example) re-run on arm64 ONNX Runtime in the emulated root, figures recorded and the
bundle re-signed; a drift beyond the gate's budget fails; the wrong held-out set is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.bundle.sign import write_keypair
from edge_agent.bundle.verify import load_public_key, verify_bundle
from exporters import device_check as dc
from exporters.cli import main
from tests.arm64.roots import agent_root

pytestmark = [pytest.mark.slow, pytest.mark.timeout(5400)]

ROT = (None, 0, 1, 2)  # upright, then cv2.ROTATE_90_CLOCKWISE, ROTATE_180, ROTATE_90_COUNTERCLOCKWISE
SETS = {
    "calib": ["text", "coffee", "chelsea", "rocket", "coins", "clock"],
    "holdout": ["page", "camera", "moon"],
}


class Built:
    def __init__(self, work: Path, bundle: Path, key: Path, pub: Path) -> None:
        self.work, self.bundle, self.key, self.pub = work, bundle, key, pub
        self.holdout, self.calib = work / "holdout", work / "calib"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, orinet_path: Path) -> Built:
    """The worked example's images (scikit-image photos at four rotations) and an rpi5 bundle of them."""
    cv2 = pytest.importorskip("cv2")
    data = pytest.importorskip("skimage.data", reason="the demo extra")
    from exporters.pipeline import ExportOptions, export_model

    work = tmp_path_factory.mktemp("device-check")
    for folder, names in SETS.items():
        (work / folder).mkdir()
        for name in names:
            img = getattr(data, name)()
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR)
            for k, rot in enumerate(ROT):
                cv2.imwrite(
                    str(work / folder / f"{name}_{90 * k}.png"), img if rot is None else cv2.rotate(img, rot)
                )
    key, pub = write_keypair(work / "release")
    out = work / "orinet-rpi5"
    opts = ExportOptions(
        source=str(orinet_path), out=out, target="rpi5", calib=work / "calib", holdout=work / "holdout",
        key=key, measure=False, progress=False,
    )  # fmt: skip
    export_model(opts)
    return Built(work, out, key, pub)


@pytest.fixture(scope="module")
def arm64_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return agent_root(tmp_path_factory.mktemp("arm64") / "root")


def _copy(built: Built, name: str) -> Path:
    import shutil

    dest = built.work / name
    shutil.copytree(built.bundle, dest)
    return dest


@pytest.mark.arm64
def test_device_check_records_both_machines_figures_and_re_signs(
    built: Built, arm64_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _copy(built, "checked")
    argv = ["device-check", str(bundle), "--arm64-root", str(arm64_root), "--holdout", str(built.holdout)]
    assert main([*argv, "--key", str(built.key), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    checked = verify_bundle(bundle, [load_public_key(built.pub)])  # re-sealed, signed by the same key
    entry = checked.manifest.report["device_check"]
    assert entry == printed
    assert entry["arm64"]["machine"] == "aarch64"
    assert entry["arm64"]["emulated"] is True
    assert entry["passed"] is True
    assert entry["problems"] == []
    assert entry["golden"]["cases"] == 3
    assert entry["golden"]["arm64"]["within_tolerance"] is True
    held = entry["holdout"]
    assert held["n"] == 4 * len(SETS["holdout"])
    gate = checked.manifest.report["gate"]
    # this machine's figure, recomputed against the source fp32, is what the gate recorded
    assert held["host"]["metric"] == gate["metric"] == "top1_agreement"
    assert held["host"]["value"] == pytest.approx(gate["value"])
    assert 1.0 - held["arm64"]["value"] <= gate["max_drop"]
    assert 0.0 <= held["arm64_vs_host"]["value"] <= 1.0
    # what the emulated machine was, and no timing: emulation says nothing about the board's speed
    assert set(entry["arm64"]) == {"machine", "cpu", "onnxruntime", "numpy", "hwcap", "providers", "emulated"}


@pytest.mark.arm64
def test_kernels_that_drift_beyond_the_budget_fail_the_check(
    built: Built, arm64_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = dc.run_in_root

    def drifting(*args: Any, **kwargs: Any) -> Any:
        outs, info = real(*args, **kwargs)
        for o in outs:  # fault injected: every logit vector reversed, as a broken kernel might
            for name, v in o.items():
                o[name] = np.ascontiguousarray(v[..., ::-1])
        return outs, info

    monkeypatch.setattr(dc, "run_in_root", drifting)
    bundle = _copy(built, "drifting")
    argv = ["device-check", str(bundle), "--arm64-root", str(arm64_root), "--holdout", str(built.holdout)]
    assert main([*argv, "--key", str(built.key)]) == 1
    err = capsys.readouterr()
    assert "device check FAILED" in err.out
    assert "the device's canary would refuse this bundle" in err.err
    assert "differs by more than the gate's budget" in err.err
    entry = verify_bundle(bundle, [load_public_key(built.pub)]).manifest.report["device_check"]
    assert entry["passed"] is False
    assert entry["golden"]["arm64"]["within_tolerance"] is False


def test_a_held_out_set_other_than_the_gate_s_is_refused(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["device-check", str(built.bundle), "--arm64-root", str(tmp_path), "--holdout", str(built.calib)]
    assert main([*argv, "--key", str(built.key)]) == 2
    assert "expected the held-out set the gate used" in capsys.readouterr().err


def test_a_signed_bundle_is_not_re_sealed_without_its_key(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device-check", str(built.bundle), "--arm64-root", str(tmp_path)]) == 2
    assert "is signed: pass --key" in capsys.readouterr().err
