"""`quantization.max_conv_workspace_mb`: on a profile short of RAM, the Convs whose int8 im2col buffer
exceeds the limit stay fp32 (ORT's int8 Conv allocates that buffer whole; its fp32 Conv works in small
blocks). The sizes come from the model's shapes; the export records the kept nodes in the report and
the manifest, and the bundle's graph has those Convs in float with the rest in QDQ int8."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_agent.bundle import verify_bundle
from edge_agent.hardware.profile import load_profile
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import session_options
from exporters.conv_workspace import conv_workspaces, heavy_convs
from exporters.pipeline import ExportOptions, export_model


@pytest.fixture(scope="module")
def orinet() -> Path:
    pytest.importorskip("occular_deskew", reason="scripts/install-test-models.sh")
    from edge_agent.demo.video import orientation_model_path

    return orientation_model_path()


def _rotations(folder: Path, photos: tuple[str, ...]) -> Path:
    """scikit-image photos at the four rotations OriNet tells apart (as the worked example's data)."""
    import cv2
    import skimage.data

    from edge_agent.demo.video import ROTATIONS

    folder.mkdir()
    for name in photos:
        img = getattr(skimage.data, name)()
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR)
        for k, turn in enumerate(ROTATIONS):
            cv2.imwrite(str(folder / f"{name}_{90 * k}.png"), img if turn is None else cv2.rotate(img, turn))
    return folder


def _conv(
    name: str, x: str, y: str, w: np.ndarray, **attrs: object
) -> tuple[onnx.NodeProto, onnx.TensorProto]:
    init = numpy_helper.from_array(w.astype(np.float32), f"{name}.w")
    return helper.make_node("Conv", [x, init.name], [y], name=name, **attrs), init


def _graph(tmp_path: Path, height: int | str) -> Path:
    """8 channels in: a 3x3 conv (8->16), a strided 3x3 (16->16, stride 2), a depthwise 3x3 (16, group
    16) and a pointwise 1x1 (16->4)."""
    rng = np.random.default_rng(0)
    made = [
        _conv("full", "x", "a", rng.normal(size=(16, 8, 3, 3)), pads=[1, 1, 1, 1]),
        _conv("strided", "a", "b", rng.normal(size=(16, 16, 3, 3)), pads=[1, 1, 1, 1], strides=[2, 2]),
        _conv("depthwise", "b", "c", rng.normal(size=(16, 1, 3, 3)), pads=[1, 1, 1, 1], group=16),
        _conv("pointwise", "c", "y", rng.normal(size=(4, 16, 1, 1))),
    ]
    graph = helper.make_graph(
        [n for n, _ in made],
        "convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, height, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [i for _, i in made],
    )
    path = tmp_path / f"convs-{height}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_workspace_is_cin_times_kernel_times_output_positions(tmp_path: Path) -> None:
    sizes = {c.node: c.bytes for c in conv_workspaces(_graph(tmp_path, 64))}
    # batch N counts as 1; depthwise and pointwise convolutions need no im2col buffer
    assert sizes == {"full": 8 * 9 * 64 * 64, "strided": 16 * 9 * 32 * 32}
    assert [c.node for c in heavy_convs(_graph(tmp_path, 64), 0.2)] == ["full"]  # 294,912 vs 147,456 B
    assert heavy_convs(_graph(tmp_path, 64), 1.0) == []
    # a symbolic image height: the buffer is unknown at export time, nothing is kept in float
    assert conv_workspaces(_graph(tmp_path, "H")) == []


def test_orinet_second_conv_is_the_largest(orinet: Path) -> None:
    found = conv_workspaces(orinet)
    assert found[0].node == "/body/body.3/Conv"
    assert found[0].bytes == 32 * 3 * 3 * 160 * 160  # 7.37 MB: 32 -> 32 channels at 160 x 160
    assert [c.node for c in heavy_convs(orinet, 4)] == ["/body/body.3/Conv"]  # the next is 3.69 MB
    assert load_profile("rpi-zero-2w").quantization.max_conv_workspace_mb == 4
    assert load_profile("rpi5").quantization.max_conv_workspace_mb is None


def test_small_board_bundle_keeps_the_heavy_conv_in_float(tmp_path: Path, orinet: Path) -> None:
    calib = _rotations(tmp_path / "calib", ("astronaut", "coffee", "chelsea", "rocket"))
    held = _rotations(tmp_path / "held", ("page", "camera", "moon"))
    out = tmp_path / "orinet-zero"
    result = export_model(
        ExportOptions(
            source=str(orinet),
            out=out,
            target="rpi-zero-2w",
            calib=calib,
            holdout=held,
            measure=False,
            progress=False,
        )
    )
    assert result.report["conv_workspace"] == {"max_mb": 4, "kept_float_mb": {"/body/body.3/Conv": 7.37}}
    assert result.report["gate"]["passed"] is True
    manifest = verify_bundle(out).manifest
    assert manifest.quantization.mode == "static-qdq"
    assert "/body/body.3/Conv" in manifest.quantization.excluded_nodes
    graph = onnx.load(str(result.bundle.model_path)).graph
    weights = {i.name: i for i in graph.initializer}
    produced_by = {o: n for n in graph.node for o in n.output}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    kept = convs["/body/body.3/Conv"]
    assert weights[kept.input[1]].data_type == TensorProto.FLOAT  # fp32 weights, read as they are
    for name, node in convs.items():
        if name != "/body/body.3/Conv":  # every other conv reads int8 weights through a DequantizeLinear
            assert produced_by[node.input[1]].op_type == "DequantizeLinear", name
    # and the device runs it so: its session keeps the node float (ORT's default would re-quantize it)
    so = session_options(ModelConfig(path=result.bundle.model_path), load_profile("rpi-zero-2w"))
    so.optimized_model_filepath = str(tmp_path / "device-graph.onnx")
    ort.InferenceSession(str(result.bundle.model_path), so, providers=["CPUExecutionProvider"])
    ops = Counter(n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node)
    assert (ops["Conv"], ops["QLinearConv"]) == (1, 7), ops
