"""`--resize stretch|letterbox`: recorded in the bundle, and the gate measures with exactly the
preprocessing the agent runs (the same Preprocessor), on OriNet, whose own code letterboxes on white.

OriNet (occular-deskew) is a 4.8 MB ONNX classifier: exported without quantization and without the
benchmark, each export here takes a second or two.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.bundle import verify_bundle
from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import open_model
from exporters.cli import main
from exporters.errors import UsageError
from exporters.pipeline import ExportOptions, ExportResult, export_model


@pytest.fixture(scope="module")
def orinet() -> Path:
    pytest.importorskip("occular_deskew", reason="scripts/install-test-models.sh")
    from edge_agent.demo.video import orientation_model_path

    return orientation_model_path()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four non-square real images (a scanned page upright and turned, a photo): letterbox and
    stretch give different tensors for every one of them."""
    import skimage.data

    folder = tmp_path_factory.mktemp("pages")
    page = cv2.cvtColor(skimage.data.page(), cv2.COLOR_GRAY2BGR)  # 191 x 384
    coffee = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)  # 400 x 600
    for name, img in {
        "a_page": page,
        "b_page_90": cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE),
        "c_coffee": coffee,
        "d_coffee_180": cv2.rotate(coffee, cv2.ROTATE_180),
    }.items():
        cv2.imwrite(str(folder / f"{name}.png"), img)
    return folder


def _export(orinet: Path, pages: Path, out: Path, **kw: object) -> ExportResult:
    opts = ExportOptions(
        source=str(orinet),
        out=out,
        quantize="none",
        holdout=pages,
        golden_count=4,
        measure=False,
        progress=False,
        **kw,  # type: ignore[arg-type]
    )
    return export_model(opts)


def _agent_preprocessor(root: Path) -> Preprocessor:
    """What the agent builds for this bundle: its model input, the manifest's preprocessing."""
    model = open_model(ModelConfig(path=root))
    manifest = verify_bundle(root).manifest
    assert manifest.preprocess is not None
    return Preprocessor(manifest.preprocess, list(model.input.shape), model.input.type)


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_each_resize_mode_is_recorded_and_gated_with_the_agents_preprocessing(
    orinet: Path, pages: Path, tmp_path: Path, mode: str
) -> None:
    r = _export(orinet, pages, tmp_path / mode, resize=mode)
    m = verify_bundle(r.bundle.root).manifest
    assert m.preprocess is not None
    assert m.preprocess.resize == mode
    assert r.report["preprocess"]["resize"] == mode
    assert r.report["preprocess"]["resize_from"] == "option"
    # The golden inputs are the first held-out samples the gate ran on: byte for byte what the agent's
    # own preprocessing makes of the same image files.
    pre = _agent_preprocessor(r.bundle.root)
    files = sorted(pages.iterdir())
    assert len(m.golden) == len(files)
    for case, path in zip(m.golden, files, strict=True):
        with np.load(r.bundle.root / case.inputs) as z:
            gated = z[m.inputs[0].name]
        agent, _ = pre(cv2.imread(str(path), cv2.IMREAD_COLOR))
        np.testing.assert_array_equal(gated, agent)


def test_modes_differ_and_the_source_default_is_orinets_white_letterbox(
    orinet: Path, pages: Path, tmp_path: Path
) -> None:
    default = _export(orinet, pages, tmp_path / "default")
    stretch = _export(orinet, pages, tmp_path / "stretch", resize="stretch")
    m = verify_bundle(default.bundle.root).manifest
    assert m.preprocess is not None
    assert (m.preprocess.resize, m.preprocess.pad_value) == ("letterbox", 255)
    assert default.report["preprocess"]["resize_from"] == "source"
    assert "OriNet" in default.report["source"]["preprocess_from"]
    assert m.postprocess.kind == "classification"
    assert m.postprocess.labels == ["upright", "rotated_90_cw", "rotated_180", "rotated_270_cw"]
    name = m.inputs[0].name
    with (
        np.load(default.bundle.root / m.golden[0].inputs) as a,
        np.load(stretch.bundle.root / m.golden[0].inputs) as b,
    ):
        assert not np.array_equal(a[name], b[name])
        # the white padding, ImageNet-normalised, fills the top-left corner of the letterboxed page
        assert a[name][0, 0, 0, 0] == pytest.approx((1.0 - 0.485) / 0.229, abs=1e-5)


def test_letterbox_gets_every_demo_frame_right_where_stretch_does_not(
    orinet: Path, pages: Path, tmp_path: Path
) -> None:
    """The issue's numbers: OriNet's bundle scored 33/36 in the agent with stretch, 36/36 letterboxed.
    Here the demo video's frames go through each bundle's agent-side preprocessing and model."""
    from edge_agent.demo.video import make_demo_video

    truth = make_demo_video(tmp_path / "demo.avi", frames_per_view=1)
    right = {}
    for mode in ("stretch", "letterbox"):
        r = _export(orinet, pages, tmp_path / f"b-{mode}", resize=mode)
        labels = verify_bundle(r.bundle.root).manifest.postprocess.labels
        assert labels is not None
        pre, model = _agent_preprocessor(r.bundle.root), open_model(ModelConfig(path=r.bundle.root))
        cap = cv2.VideoCapture(str(tmp_path / "demo.avi"))
        got = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            x, _ = pre(frame)
            got.append(labels[int(model.session.run(None, {model.input.name: x})[0].argmax())])
        cap.release()
        assert len(got) == len(truth) == 12
        right[mode] = sum(g == t for g, t in zip(got, truth, strict=True))
    assert right["letterbox"] == 12
    assert right["stretch"] < right["letterbox"]


def test_resize_and_pad_value_are_checked_at_the_boundary(
    orinet: Path, pages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", str(orinet), "-o", str(tmp_path / "x"), "--resize", "crop"]) == 2
    assert "invalid choice: 'crop'" in capsys.readouterr().err
    rc = main(["build", str(orinet), "-o", str(tmp_path / "x"), "--pad-value", "300", "--no-measure"])
    assert rc == 2
    assert "--pad-value 300: expected a grey level 0..255" in capsys.readouterr().err
    with pytest.raises(UsageError, match="apply to image inputs"):
        _export(orinet, pages, tmp_path / "y", preprocess="none", resize="letterbox")
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "y").exists()
