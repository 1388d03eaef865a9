"""The accuracy gate and its fallback ladder.

Start from the target's recipe; when the held-out metric misses the budget, climb: per-channel
weights, float outputs (the nodes that write the graph's outputs left unquantized), uint8 weights
(u8s8 kernels saturate on x86 without VNNI), other calibration methods, bias correction
(exporters/bias_correction.py), uint16 activations, excluding the nodes where quantization
error grows most (found with onnxruntime.quantization.qdq_loss_debug), then, for a torch source,
quantization-aware training (exporters/qat, passed in as `qat`). Each rung starts from the
best variant so far and every rung is reported. Missing the budget on the last rung is a failure,
never a quiet success.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from exporters.errors import ExportError
from exporters.quantize import QuantSpec, quantize
from exporters.sources import Feed

log = logging.getLogger(__name__)

SENSITIVE_STEPS = (3, 10)
# Every rung a ladder may climb, by the name the report gives it ("exclude" covers both
# "exclude N most sensitive" rungs): what `skip` in climb() and `--skip-rung` accept.
RUNG_NAMES = (
    "per-channel",
    "float outputs",
    "uint8 weights",
    "calibration percentile",
    "calibration entropy",
    "bias correction",
    "uint16 activations",
    "MatMul only",
    "exclude",
    "qat",
)
SENSITIVITY_SAMPLES = 8
ACTIVATIONS = frozenset({"Clip", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"})


@dataclass(slots=True)
class Rung:
    name: str
    spec: QuantSpec
    value: float | None = None
    passed: bool = False
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    path: Path | None = None
    latency: dict[str, float] | None = None
    too_slow: bool = False  # accurate enough, but under the speed-up budget

    def report(self) -> dict[str, Any]:
        return {
            "rung": self.name,
            "quantization": self.spec.as_dict(),
            "value": self.value,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "metrics": self.metrics,
            **({"latency": self.latency} if self.latency else {}),
            **({"too_slow": True} if self.too_slow else {}),
            **({"error": self.error} if self.error else {}),
        }


@dataclass(slots=True)
class LadderResult:
    rungs: list[Rung]
    best: Rung | None

    @property
    def passed(self) -> bool:
        return self.best is not None and self.best.passed


Evaluate = Callable[[Path], dict[str, Any]]
Timer = Callable[[Path], dict[str, float]]
# exporters.qat.Qat: (the spec to quantize with) -> (a fine-tuned, prepared fp32 model, training notes)
Retrain = Callable[[QuantSpec], tuple[Path, dict[str, Any]]]


def _with_method(spec: QuantSpec, method: str) -> QuantSpec | None:
    return None if spec.method == method else spec.replace(method=method)


def _excluding(spec: QuantSpec, names: tuple[str, ...]) -> QuantSpec | None:
    """`spec` with `names` also left in float; None when it already leaves them."""
    if not names or set(names) <= set(spec.exclude):
        return None
    return spec.replace(exclude=tuple(dict.fromkeys(spec.exclude + names)))


def output_nodes(fp32: Path) -> tuple[str, ...]:
    """The nodes that write the graph's outputs."""
    import onnx

    graph = onnx.load(str(fp32), load_external_data=False).graph
    outs = {o.name for o in graph.output}
    return tuple(n.name for n in graph.node if n.name and outs & set(n.output))


def _next_rungs(
    start: QuantSpec, formats: bool, outputs: tuple[str, ...] = ()
) -> Iterator[tuple[str, Callable[[QuantSpec], QuantSpec | None]]]:
    """(name, change) pairs; each change applies to the best spec so far, None when it does not apply.

    With `formats` False (an accelerator whose kernels accept only the recipe's granularity and
    types), only calibration methods, bias correction and node exclusion are tried.
    """
    if formats and start.mode in ("static-qdq", "qnn-a16w8", "dynamic"):
        yield "per-channel", lambda s: None if s.per_channel else s.replace(per_channel=True)
    if start.mode in ("static-qdq", "qnn-a16w8"):
        # A head that concatenates tensors of different ranges (YOLOv8: boxes in pixels beside class
        # scores in 0..1) loses the small ones to one 8-bit scale; its last node in float keeps both,
        # and the int8 backbone keeps its speed (YOLOv8: box F1 0.0 -> 0.875 at 2.6x).
        yield "float outputs", partial(_excluding, names=outputs)
    if formats and start.mode == "static-qdq":
        yield (
            "uint8 weights",
            lambda s: (
                s.replace(weight_type="uint8")
                if s.weight_type == "int8" and s.activation_type == "uint8"
                else None
            ),
        )
    if start.mode in ("static-qdq", "qnn-a16w8"):
        for method in ("percentile", "entropy"):
            yield f"calibration {method}", partial(_with_method, method=method)
    bias = ("bias correction", lambda s: None if s.bias_correction else s.replace(bias_correction=True))
    if start.mode == "static-qdq":
        # Types and granularity stay the recipe's, so accelerator targets get this rung too.
        yield bias
    if formats and start.mode == "static-qdq":
        yield (
            "uint16 activations",
            lambda s: (
                None
                if s.activation_type == "uint16"
                # 65,536 levels leave nothing to gain from clipping outliers: minmax keeps them all
                # (percentile then bias correction gave MobileNetV2 0.75, minmax 0.97)
                else s.replace(activation_type="uint16", weight_type="int8", method="minmax")
            ),
        )
        # Again on the 16-bit variant when the 8-bit one did not keep it: with fine activations the
        # weights' rounding dominates, which is what bias correction removes (MobileNetV2: 0.85 -> 0.97).
        yield bias
    if start.mode == "dynamic":
        yield "MatMul only", lambda s: None if s.op_types else s.replace(op_types=("MatMul",))


def climb(
    fp32: Path,
    start: QuantSpec,
    calib: list[Feed],
    evaluate: Evaluate,
    *,
    max_drop: float,
    workdir: Path,
    ladder: bool = True,
    formats: bool = True,
    progress: bool = True,
    timer: Timer | None = None,
    min_speedup: float | None = None,
    skip: frozenset[str] = frozenset(),
    qat: Retrain | None = None,
) -> LadderResult:
    """Try `start`, then rungs until one meets 1 - value <= max_drop; return every rung tried.

    With `timer`, every rung also reports its latency and speed-up over fp32 (`latency`), so the
    report shows what each rung's accuracy costs. With `min_speedup` too, a rung passes only when it
    is also at least that much faster than fp32; one accurate enough but slower is `too_slow`.
    Rungs named in `skip` (RUNG_NAMES) are not tried: for a model whose cost per rung is known to
    be high and whose answer from those rungs is known. `qat` is climbed last, for 8-bit static
    QDQ only: it retrains the weights, so it waits until every post-training rung has missed.
    """
    if min_speedup is not None and timer is None:
        raise ExportError("a speed-up budget needs the rungs timed")
    rungs: list[Rung] = []
    best: Rung | None = None
    fp32_ms = timer(fp32)["p50_ms"] if timer is not None else None

    def attempt(name: str, spec: QuantSpec, retrain: Retrain | None = None) -> Rung:
        nonlocal best
        rung = Rung(name, spec)
        t0 = time.perf_counter()
        out = workdir / f"variant{len(rungs)}.onnx"
        try:
            src, notes = retrain(spec) if retrain is not None else (fp32, None)
            quantize(spec, src, out, calib, progress=progress)
            rung.metrics = evaluate(out) | ({"qat": notes} if notes is not None else {})
            if timer is not None and fp32_ms:
                lat = timer(out)
                rung.latency = {**lat, "speedup": round(fp32_ms / lat["p50_ms"], 3), "fp32_p50_ms": fp32_ms}
            rung.value = float(rung.metrics["value"])
            accurate = 1.0 - rung.value <= max_drop + 1e-12
            if min_speedup is not None:
                rung.too_slow = accurate and (rung.latency is None or rung.latency["speedup"] < min_speedup)
            rung.passed = accurate and not rung.too_slow
            rung.path = out
        except ExportError as exc:
            rung.error = str(exc)
        rung.seconds = time.perf_counter() - t0
        rungs.append(rung)
        log.info(
            "rung %-22s %s -> %s", name, spec.as_dict(), rung.value if rung.error is None else rung.error
        )
        # a rung that passes is the result even when an earlier one scored as high but was too slow
        better = best is None or best.value is None or (rung.value is not None and rung.value > best.value)
        if rung.value is not None and (rung.passed or better):
            best = rung
        return rung

    if attempt("recipe", start).passed or not ladder:
        return LadderResult(rungs, best)
    outputs = output_nodes(fp32)
    for name, change in _next_rungs(start, formats, outputs):
        if name in skip:
            continue
        base = best.spec if best is not None else start
        spec = change(base)
        if spec is None:
            continue
        if attempt(name, spec).passed:
            return LadderResult(rungs, best)
    if (
        "exclude" not in skip
        and start.mode in ("static-qdq", "qnn-a16w8")
        and best is not None
        and best.path is not None
    ):
        ranked = sensitive_nodes(fp32, best.path, calib[:SENSITIVITY_SAMPLES], workdir)
        base = best.spec
        for k in SENSITIVE_STEPS:
            spec = _excluding(base, tuple(ranked[:k]))  # on top of what the best already leaves
            if spec is not None and attempt(f"exclude {min(k, len(ranked))} most sensitive", spec).passed:
                return LadderResult(rungs, best)
    eight_bit = start.mode == "static-qdq" and start.activation_type == "uint8"
    if qat is not None and "qat" not in skip and eight_bit:
        # What training emulates: ORT's own recipe at int8 speed (minmax ranges, s8 weights), the
        # outputs in float (a logit's rounding is a flip no training can undo at fp32's near-ties).
        spec = start.replace(
            per_channel=formats or start.per_channel,
            weight_type="int8",
            method="minmax",
            bias_correction=False,
            exclude=outputs,
        )
        attempt("qat", spec, retrain=qat)
    return LadderResult(rungs, best)


def sensitive_nodes(fp32: Path, qdq: Path, feeds: list[Feed], workdir: Path) -> list[str]:
    """fp32 node names ordered by how much quantization error grows across them (worst first).

    qdq_loss_debug gives, per tensor, the SQNR of the QDQ model's activation against fp32's; a node's
    sensitivity is the SQNR its inputs had minus the SQNR of its output.
    """
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as qd

    from exporters.quantize import _reader

    fa, qa = workdir / "sens_fp32.onnx", workdir / "sens_qdq.onnx"
    qd.modify_model_output_intermediate_tensors(fp32, fa)
    qd.modify_model_output_intermediate_tensors(qdq, qa)
    f_act = qd.collect_activations(str(fa), _reader(feeds, False))
    q_act = qd.collect_activations(str(qa), _reader(feeds, False))
    errors = qd.compute_activation_error(qd.create_activation_matching(q_act, f_act))
    sqnr = {k: float(v["xmodel_err"]) for k, v in errors.items() if "xmodel_err" in v}
    graph = onnx.load(str(fp32), load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    memo: dict[str, float | None] = {}

    def upstream(tensor: str) -> float | None:
        """SQNR arriving at `tensor`: measured, else the worst of what feeds its producer."""
        if tensor in sqnr:
            return sqnr[tensor]
        if tensor not in memo:
            memo[tensor] = None  # cycles cannot occur in ONNX; this also stops re-entry
            node = producer.get(tensor)
            feeds = [v for v in (upstream(i) for i in node.input) if v is not None] if node else []
            memo[tensor] = min(feeds) if feeds else None
        return memo[tensor]

    score: dict[str, float] = {}
    for node in graph.node:
        outs = [sqnr[o] for o in node.output if o in sqnr]
        ins = [v for v in (upstream(i) for i in node.input) if v is not None]
        if not outs or not ins:
            continue
        drop = min(ins) - min(outs)
        if not np.isfinite(drop):
            continue
        # An activation shares its producer's quantization (it is fused away), so excluding it alone
        # changes nothing: its error counts against the node that feeds it.
        target = node
        if node.op_type in ACTIVATIONS and node.input and node.input[0] in producer:
            target = producer[node.input[0]]
            ins = [v for v in (upstream(i) for i in target.input) if v is not None] or ins
            drop = min(ins) - min(outs)
        score[target.name] = score.get(target.name, 0.0) + drop
    scored = [(v, k) for k, v in score.items()]
    scored.sort(reverse=True)
    for f in (fa, qa):
        f.unlink(missing_ok=True)
    return [name for _, name in scored]
