"""One export, end to end: load → prepare → data → gate + ladder → measure → bundle (→ sign, pack).

`export_model(ExportOptions(...))` is the Python API; the CLI only fills ExportOptions. A missed
accuracy budget raises GateFailedError carrying the full report, and no bundle is written.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.bundle.archive import SUFFIX, pack
from edge_agent.bundle.dtypes import ORT_TO_NUMPY
from edge_agent.bundle.manifest import AudioSpec, TensorSpec, TextSpec
from edge_agent.bundle.settings import (
    ClassificationPost,
    DetectionPost,
    EmbeddingPost,
    PreprocessConfig,
    RawPost,
)
from edge_agent.bundle.sign import load_private_key
from edge_agent.bundle.verify import Bundle
from edge_agent.hardware.cpu import host_cpu
from edge_agent.hardware.profile import HardwareProfile, load_profile
from exporters import __version__
from exporters.conv_workspace import MB, heavy_convs
from exporters.data import PRESETS, fingerprint, load_samples, split
from exporters.errors import GateFailedError, UsageError
from exporters.ladder import RUNG_NAMES, LadderResult, Rung, climb
from exporters.measure import measure, quick_latency
from exporters.metrics import (
    DEFAULT_MAX_DROP,
    compare,
    label_agreement,
    round_inputs,
    run,
    session,
)
from exporters.prepare import prepare
from exporters.qat import Qat, QatSettings, qat_rung
from exporters.quantize import QuantSpec, info
from exporters.sources import Feed, Loaded, SourceSpec, load_source
from exporters.writer import write_bundle

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ExportOptions:
    source: str
    out: Path
    target: str = "generic-x86"
    name: str | None = None
    version: str = "1"
    task: str | None = None
    trust_pickle: bool = False
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    calib: Path | None = None
    holdout: Path | None = None
    preprocess: str | None = None
    resize: str | None = None  # stretch | letterbox; default: what the source's own code does, else stretch
    pad_value: int | None = None  # letterbox padding grey level; default: the source's, else 114
    labels: Path | None = None
    max_drop: float | None = None
    min_speedup: float | None = None
    quantize: str | None = None
    ladder: bool = True
    skip_rungs: frozenset[str] = frozenset()  # ladder rungs not to try (exporters.ladder.RUNG_NAMES)
    train_data: Path | None = None  # unlabelled images for the QAT rung (default: the calibration set)
    qat_budget_s: float = 300.0
    qat_steps: int | None = None  # a fixed number of QAT steps instead of the time budget (reproducible)
    key: Path | None = None
    archive: bool = False
    force: bool = False
    runs: int = 50
    threads: int = 1
    static_dims: dict[str, int] = field(default_factory=dict)
    calib_limit: int = 64
    holdout_limit: int = 200
    golden_count: int = 3
    max_length: int = 128
    progress: bool = True
    measure: bool = True
    exclude: tuple[str, ...] = ()  # node names every quantized variant keeps in float (a feature front)
    audio: AudioSpec | None = None  # an audio model: the rate and window the agent's source must give
    # Sections added to the bundle's report as they are (`edge-export train` adds "training").
    report_extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ExportResult:
    bundle: Bundle
    archive: Path | None
    report: dict[str, Any]


def _io(path: Path) -> tuple[list[tuple[str, list[int | str], str]], list[tuple[str, list[int | str], str]]]:
    sess = session(path)

    def spec(v: Any) -> tuple[str, list[int | str], str]:
        shape = [d if isinstance(d, int) else str(d) for d in v.shape]
        return v.name, shape, ORT_TO_NUMPY.get(v.type, "float32")

    return [spec(i) for i in sess.get_inputs()], [spec(o) for o in sess.get_outputs()]


RESIZE_MODES = ("stretch", "letterbox")


def _preprocess(
    opts: ExportOptions, loaded: Loaded, inputs: list[tuple[str, list[int | str], str]]
) -> tuple[PreprocessConfig | None, dict[str, Any]]:
    """The image preprocessing the bundle records and the gate measures with, and where it came from."""
    preset = opts.preprocess or loaded.preprocess_preset
    if opts.resize is not None and opts.resize not in RESIZE_MODES:
        raise UsageError(f"--resize {opts.resize}: expected one of {', '.join(RESIZE_MODES)}")
    if opts.pad_value is not None and not 0 <= opts.pad_value <= 255:
        raise UsageError(f"--pad-value {opts.pad_value}: expected a grey level 0..255")
    if preset in (None, "none") or loaded.text_dir is not None:
        if opts.resize is not None or opts.pad_value is not None:
            raise UsageError("--resize/--pad-value apply to image inputs: give --preprocess too")
        return None, {}
    if preset not in PRESETS:
        raise UsageError(f"--preprocess {preset}: expected one of {', '.join(PRESETS)} or none")
    shape = inputs[0][1]
    layout = "nhwc" if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3) else "nchw"
    hw = shape[2:4] if layout == "nchw" else shape[1:3]
    size = (
        (int(hw[1]), int(hw[0])) if len(hw) == 2 and all(isinstance(v, int) and v > 0 for v in hw) else None
    )
    resize = opts.resize or loaded.resize or "stretch"
    pad = opts.pad_value if opts.pad_value is not None else (loaded.pad_value or 114)
    origin = "option" if opts.resize else ("source" if loaded.resize else "default")
    cfg = PRESETS[preset].model_copy(
        update={"size": size, "layout": layout, "resize": resize, "pad_value": pad}
    )
    note: dict[str, Any] = {"preset": preset, "resize": resize, "resize_from": origin}
    if resize == "letterbox":
        note["pad_value"] = pad
    return cfg, note


def _random_feed(inputs: list[tuple[str, list[int | str], str]], max_length: int) -> Feed:
    rng = np.random.default_rng(0)
    feed = {}
    for name, shape, dtype in inputs:
        dims = [
            d if isinstance(d, int) and d > 0 else (1 if i == 0 else max_length) for i, d in enumerate(shape)
        ]
        feed[name] = (rng.integers(0, 2, dims) if "int" in dtype else rng.standard_normal(dims)).astype(dtype)
    return feed


def _postprocess(task: str, head: str | None, labels: list[str] | None) -> Any:
    if task == "classification":
        return ClassificationPost(labels=labels)
    if task == "embedding":
        return EmbeddingPost()
    if task == "detection" and head == "yolo":
        return DetectionPost(kind="yolo", labels=labels)
    return RawPost()


def _tie_note(best: Rung | None) -> str:
    """For classification: how many of the best rung's flips sit on fp32's own near-ties."""
    m = best.metrics if best is not None else {}
    if "near_ties" not in m or not m["flips"]:
        return ""
    decisive = m["decisive_agreement"]
    rest = f"; agreement on the other samples {decisive:.4f}" if decisive is not None else ""
    return (
        f" ({m['flips_at_near_ties']} of its {m['flips']} flips are held-out samples fp32 itself "
        f"nearly ties on, {m['near_ties']} such samples in all{rest})"
    )


def _largest(feeds: list[Feed]) -> Feed:
    """The largest sample (the longest sentence): latency where it matters most."""
    return max(feeds, key=lambda f: sum(v.size for v in f.values()))


def _slow_note(rungs: list[Rung], min_speedup: float | None) -> str:
    """When rungs met the accuracy budget but not --min-speedup, say how fast the best of them was."""
    speeds = [r.latency["speedup"] for r in rungs if r.too_slow and r.latency]
    if min_speedup is None or not speeds:
        return ""
    return (
        f"; {len(speeds)} rung(s) met the accuracy budget but not --min-speedup {min_speedup:g} "
        f"(the fastest of them {max(speeds):.2f}x fp32 on this machine)"
    )


def _floor_note(gate: dict[str, Any], max_drop: float) -> str:
    """When fp32 itself misses the budget once its input is rounded to 8 bits, say so."""
    floor = gate.get("input_rounding_floor")
    if floor is None or 1.0 - floor["value"] <= max_drop + 1e-12:
        return ""
    return (
        f"; fp32 itself scores only {floor['value']:.4f} against its own outputs once its input is "
        "rounded to 8 bits, as an int8 model's first QuantizeLinear rounds it, so no post-training "
        "variant with an 8-bit input can meet this budget on this held-out data"
    )


def _gate(
    opts: ExportOptions,
    loaded: Loaded,
    spec: QuantSpec,
    *,
    profile: HardwareProfile,
    fp32: Path,
    calib: list[Feed],
    held: list[Feed],
    max_drop: float,
    work: Path,
    qat: tuple[Qat | None, str | None] = (None, None),
) -> tuple[Path, LadderResult | None, dict[str, Any]]:
    ref = run(fp32, held, desc="fp32 reference" if opts.progress else None)
    gate: dict[str, Any] = {"max_drop": max_drop, "holdout_n": len(held)}
    if opts.min_speedup is not None:
        gate["min_speedup"] = opts.min_speedup
    if opts.skip_rungs:
        gate["skipped_rungs"] = sorted(opts.skip_rungs)
    if loaded.reference is not None:
        conv = label_agreement(loaded.reference(held), ref)
        gate["conversion"] = conv
        if 1.0 - conv["value"] > max_drop + 1e-12:
            gate["passed"] = False
            raise GateFailedError(
                f"the ONNX conversion changes predictions: {conv['metric']} {conv['value']:.4f}",
                {"gate": gate},
            )
    if spec.mode == "none":
        gate.update(
            passed=True,
            metric=gate.get("conversion", {}).get("metric"),
            value=gate.get("conversion", {}).get("value"),
        )
        return fp32, None, gate

    # An accelerator (first EP not the CPU) takes the recipe's types and granularity or falls back to
    # CPU node by node: there the ladder only varies calibration and exclusions.
    formats = profile.providers[0].name == "CPUExecutionProvider"
    gate["format_rungs"] = formats

    def evaluate(path: Path) -> dict[str, Any]:
        return compare(loaded.task, ref, run(path, held), loaded.head)

    if spec.mode == "static-qdq" and spec.activation_type in ("uint8", "int8") and calib:
        # fp32 against itself once its input is rounded as an 8-bit model's first QuantizeLinear
        # rounds it: no variant that quantizes its input can beat this on this held-out data.
        rounded = round_inputs(held, calib)
        if any(not np.array_equal(a[k], b[k]) for a, b in zip(held, rounded, strict=True) for k in a):
            gate["input_rounding_floor"] = compare(loaded.task, ref, run(fp32, rounded), loaded.head)

    probe = _largest(held)  # every rung timed on the sample the final benchmark uses

    def timer(path: Path) -> dict[str, float]:
        return quick_latency(path, probe, runs=min(opts.runs, 20), threads=opts.threads)

    result = climb(
        fp32,
        spec,
        calib,
        evaluate,
        max_drop=max_drop,
        workdir=work,
        ladder=opts.ladder,
        formats=formats,
        progress=opts.progress,
        timer=timer if opts.measure else None,
        min_speedup=opts.min_speedup,
        skip=opts.skip_rungs,
        qat=qat[0],
    )
    gate["rungs"] = [r.report() for r in result.rungs]
    if qat[1] is not None and not result.passed:
        gate["qat_skipped"] = qat[1]
    best = result.best
    gate.update(
        passed=result.passed,
        metric=best.metrics.get("metric") if best else None,
        value=best.value if best else None,
    )
    if not result.passed or best is None or best.path is None:
        errors = "; ".join(r.error for r in result.rungs if r.error)
        got = f"best {best.value:.4f}" if best and best.value is not None else f"no variant ran: {errors}"
        raise GateFailedError(
            f"accuracy gate missed after {len(result.rungs)} rung(s): {got}, "
            f"needed >= {1 - max_drop:.4f}; no bundle written{_tie_note(best)}{_floor_note(gate, max_drop)}"
            f"{_slow_note(result.rungs, opts.min_speedup)}",
            {"gate": gate, "host": host_cpu()},
        )
    return best.path, result, gate


def _workspace_exclusions(
    spec: QuantSpec, fp32: Path, max_mb: float | None
) -> tuple[QuantSpec, dict[str, Any] | None]:
    """`spec` also leaving in float the Convs whose int8 workspace the profile cannot spare."""
    if max_mb is None or spec.mode not in ("static-qdq", "dynamic"):
        return spec, None
    heavy = heavy_convs(fp32, max_mb)
    kept = {c.node: round(c.bytes / MB, 2) for c in heavy}
    if kept:
        log.info("kept in float for the profile's %g MB conv workspace: %s", max_mb, kept)
        spec = spec.replace(exclude=tuple(dict.fromkeys(spec.exclude + tuple(kept))))
    return spec, {"max_mb": max_mb, "kept_float_mb": kept}


def export_model(opts: ExportOptions) -> ExportResult:
    """Run the whole export; raise GateFailedError (with the report) when the budget is missed."""
    t0 = time.perf_counter()
    if opts.min_speedup is not None and (opts.min_speedup <= 0 or not opts.measure):
        raise UsageError(
            "--min-speedup: expected a positive factor, and the rungs measured (not --no-measure)"
        )
    if opts.qat_budget_s <= 0:
        raise UsageError(f"--qat-budget-s {opts.qat_budget_s:g}: expected a positive number of seconds")
    if opts.qat_steps is not None and opts.qat_steps < 1:
        raise UsageError(f"--qat-steps {opts.qat_steps}: expected a positive whole number of steps")
    unknown = sorted(set(opts.skip_rungs) - set(RUNG_NAMES))
    if unknown:
        raise UsageError(f"--skip-rung {unknown[0]}: expected one of {', '.join(RUNG_NAMES)}")
    profile: HardwareProfile = load_profile(opts.target)
    key = load_private_key(opts.key) if opts.key else None
    with tempfile.TemporaryDirectory(prefix="edge-export-") as tmp:
        work = Path(tmp)
        spec_src = SourceSpec(
            opts.source, opts.trust_pickle, opts.weights, opts.input_shape, opts.task, profile.opset
        )
        loaded = load_source(spec_src, work)
        mode = opts.quantize or profile.quantization.mode
        if loaded.kind == "sklearn" and mode != "none":
            log.info("scikit-learn graphs are not quantized (tree/linear ops have no int8 kernels)")
            mode = "none"
        t_load = time.perf_counter() - t0
        prepared = prepare(
            loaded.onnx_path,
            work / "fp32.onnx",
            profile,
            quantize=mode != "none",
            static_dims=opts.static_dims,
        )
        fp32 = prepared.path
        inputs, outputs = _io(fp32)
        pre, pre_note = _preprocess(opts, loaded, inputs)

        calib, held = _data(opts, loaded, inputs, pre, mode)
        spec = QuantSpec.from_recipe(
            profile.quantization.model_copy(update={"mode": mode}), transformer=loaded.kind == "huggingface"
        )
        if opts.exclude:
            spec = spec.replace(exclude=tuple(dict.fromkeys(spec.exclude + opts.exclude)))
        spec, workspace_note = _workspace_exclusions(spec, fp32, profile.quantization.max_conv_workspace_mb)
        task_key = "labels" if loaded.reference is not None else loaded.task
        max_drop = opts.max_drop if opts.max_drop is not None else DEFAULT_MAX_DROP.get(task_key, 0.01)
        final, ladder, gate = _gate(
            opts,
            loaded,
            spec,
            profile=profile,
            fp32=fp32,
            calib=calib,
            held=held,
            max_drop=max_drop,
            work=work,
            qat=qat_rung(
                spec_src,
                loaded.kind,
                calib,
                lambda: load_samples(opts.train_data, inputs, pre, None) if opts.train_data else calib,
                lambda p: (
                    prepare(
                        p, work / "qat_fp32.onnx", profile, quantize=True, static_dims=opts.static_dims
                    ).path
                ),
                QatSettings(budget_s=opts.qat_budget_s, max_steps=opts.qat_steps),
                work,
            ),
        )
        chosen = ladder.best.spec if ladder and ladder.best else None
        feeds = held or [_random_feed(inputs, opts.max_length)]
        eps = [p.name for p in profile.providers]
        bench = (
            _benchmark(opts, fp32=fp32, final=final, chosen=chosen, feeds=feeds, providers=eps)
            if opts.measure
            else {}
        )
        golden_feeds = feeds[: opts.golden_count]
        golden_out = run(final, golden_feeds)
        files, text = _extra_files(opts, loaded)
        labels = opts.labels.read_text(encoding="utf-8").splitlines() if opts.labels else loaded.labels
        import onnx
        import onnxruntime

        report: dict[str, Any] = {
            "source": {"kind": loaded.kind, "path": opts.source, **loaded.notes},
            "host": host_cpu(),  # where the gate and the benchmark ran: int8 results depend on it
            "prepare": {
                "opset": prepared.opset,
                "fixed_dims": prepared.fixed_dims,
                "ort_optimized": prepared.optimized,
            },
            **({"preprocess": pre_note} if pre_note else {}),
            **({"conv_workspace": workspace_note} if workspace_note else {}),
            "data": {
                "calib_n": len(calib),
                "holdout_n": len(held),
                "calib_fingerprint": fingerprint(calib) if calib else None,
                "holdout_fingerprint": fingerprint(held) if held else None,
            },
            "gate": gate,
            "benchmark": bench,
            "timings_s": {"load": round(t_load, 2), "total": round(time.perf_counter() - t0, 2)},
            **_summary(bench, gate, chosen),
            **opts.report_extra,
        }
        name = opts.name or re.sub(r"[^A-Za-z0-9_.-]", "-", opts.out.name).strip("-.")[:64] or "model"
        fields = {
            "name": name,
            "version": opts.version,
            "task": loaded.task,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "exporter_version": __version__,
            "onnx_version": onnx.__version__,
            "onnxruntime_version": onnxruntime.__version__,
            "target": profile.name,
            "inputs": [
                TensorSpec(name=n, shape=s, dtype=d, layout=_layout(s, pre, loaded)) for n, s, d in inputs
            ],
            "outputs": [TensorSpec(name=n, shape=s, dtype=d) for n, s, d in outputs],
            "preprocess": pre,
            "text": text,
            "audio": opts.audio,
            "postprocess": _postprocess(loaded.task, loaded.head, labels),
            "quantization": info(chosen, report["data"]["calib_fingerprint"]),
            "report": report,
        }
        bundle = write_bundle(
            opts.out,
            model=final,
            fields=fields,
            files=files,
            golden=list(zip(golden_feeds, golden_out, strict=True)),
            golden_atol=_golden_atol(golden_out, quantized=chosen is not None),
            key=key,
            overwrite=opts.force,
        )
    archive = pack(bundle.root, bundle.root.with_name(bundle.root.name + SUFFIX)) if opts.archive else None
    report["timings_s"]["total"] = round(time.perf_counter() - t0, 2)
    return ExportResult(bundle=bundle, archive=archive, report=report)


def _layout(shape: list[int | str], pre: PreprocessConfig | None, loaded: Loaded) -> str | None:
    if pre is not None and len(shape) == 4:
        return pre.layout.upper()
    if loaded.text_dir is not None and len(shape) == 2:
        return "NT"
    return "NC" if len(shape) == 2 else None


def _data(
    opts: ExportOptions,
    loaded: Loaded,
    inputs: list[tuple[str, list[int | str], str]],
    pre: PreprocessConfig | None,
    mode: str,
) -> tuple[list[Feed], list[Feed]]:
    """(calibration, held-out) feeds; held-out is never calibrated on."""

    def read(p: Path | None, limit: int) -> list[Feed]:
        if p is None:
            return []
        return load_samples(p, inputs, pre, loaded.text_dir, limit=limit, max_length=opts.max_length)

    calib = read(opts.calib, opts.calib_limit if opts.holdout else opts.calib_limit + opts.holdout_limit)
    held = read(opts.holdout, opts.holdout_limit)
    if calib and not held:
        calib, held = split(calib)
        calib = calib[: opts.calib_limit]
    if mode in ("static-qdq", "qnn-a16w8") and not calib:
        raise UsageError(f"{mode} quantization needs calibration data: --calib (and --holdout)")
    if not held and (mode != "none" or loaded.reference is not None):
        raise UsageError("the accuracy gate needs held-out data: --holdout (or --calib, split 3:1)")
    return calib, held


def _benchmark(
    opts: ExportOptions,
    *,
    fp32: Path,
    final: Path,
    chosen: QuantSpec | None,
    feeds: list[Feed],
    providers: list[str],
) -> dict[str, Any]:
    """fp32 and the chosen variant, same input, same threads, one after the other."""
    feed = _largest(feeds)
    bench: dict[str, Any] = {
        "fp32": measure(fp32, feed, runs=opts.runs, threads=opts.threads, providers=providers)
    }
    if chosen is not None:
        q = bench[chosen.mode] = measure(
            final, feed, runs=opts.runs, threads=opts.threads, providers=providers
        )
        bench["speedup"] = round(bench["fp32"]["p50_ms"] / q["p50_ms"], 3)
        bench["size_ratio"] = round(bench["fp32"]["size_bytes"] / q["size_bytes"], 3)
    return bench


def _golden_atol(outputs: list[dict[str, np.ndarray]], *, quantized: bool) -> float:
    """fp32 reproduces to float rounding; int8 kernels differ between CPUs and EPs by a step or two."""
    floats = [float(np.abs(v).max()) for o in outputs for v in o.values() if v.dtype.kind == "f" and v.size]
    return max(1e-3, 0.05 * max(floats, default=0.0)) if quantized else 1e-3


def _extra_files(opts: ExportOptions, loaded: Loaded) -> tuple[dict[str, Path], TextSpec | None]:
    files: dict[str, Path] = {}
    if opts.labels:
        files["labels.txt"] = opts.labels
    if loaded.text_dir is None:
        return files, None
    tok = sorted(loaded.text_dir.iterdir())
    files |= {f"tokenizer/{p.name}": p for p in tok}
    return files, TextSpec(tokenizer_files=[f"tokenizer/{p.name}" for p in tok], max_length=opts.max_length)


def _summary(bench: dict[str, Any], gate: dict[str, Any], chosen: QuantSpec | None) -> dict[str, Any]:
    """Top-level facts about the bundled model, under the keys the device's canary reads."""
    out: dict[str, Any] = {"metric": gate.get("metric"), "metric_value": gate.get("value")}
    mine = bench.get(chosen.mode if chosen else "fp32")
    if isinstance(mine, dict):
        nodes = mine["nodes_by_provider"]
        total = sum(nodes.values()) or 1
        out |= {
            "latency_ms_p50": mine["p50_ms"],
            "latency_ms_p95": mine["p95_ms"],
            "size_bytes": mine["size_bytes"],
            "accelerator_node_share": round(1 - nodes.get("CPUExecutionProvider", 0) / total, 3),
        }
    speedup = bench.get("speedup")
    if chosen is not None and isinstance(speedup, float) and speedup < 1.0:
        # The gate is about accuracy; a variant that passes it by being slower must not pass silently.
        msg = f"the {chosen.mode} variant is {1 / speedup:.2f}x slower than fp32 on the build machine"
        if chosen.activation_type in ("uint16", "int16"):
            msg += " (16-bit activations have no integer kernels on the CPU EP; an NPU runs them natively)"
        log.warning("%s", msg)
        out["warnings"] = [msg]
    return out
