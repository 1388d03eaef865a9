"""The gate on the device's kernels: a bundle's golden inputs and held-out set re-run on arm64.

The accuracy gate ran on the build machine's ONNX Runtime; an int8 bundle for a Raspberry Pi or a
Jetson runs on aarch64 kernels (NEON, SDOT/UDOT) that round differently. `device_check` runs the
bundled model in an emulated arm64 root (exporters/device_check_chroot.py) on

- the golden cases, judged as the device's canary judges them (manifest atol/rtol), and
- the held-out set the gate used (checked by the fingerprint the report recorded), in the gate's own
  metric against the fp32 reference when it is at hand, and against this machine's outputs always,

records both machines' figures in the bundle report under `device_check` (re-sealing and re-signing
the bundle through exporters/writer.seal_bundle), and raises DeviceCheckError when the device's
figure misses the gate's budget or differs from the build machine's by more than that budget.
Emulation is exact about results, not speed: no arm64 timing is taken or recorded.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.manifest import MANIFEST, Manifest
from edge_agent.bundle.verify import Bundle, verify_bundle
from exporters.data import fingerprint, load_samples
from exporters.device_check_chroot import DEFAULT_CPU, ROOT_PYTHON, Outputs, run_in_root
from exporters.errors import DeviceCheckError, UsageError
from exporters.metrics import compare, run
from exporters.sources import Feed
from exporters.writer import file_entries, seal_bundle


def _golden(bundle: Bundle) -> tuple[list[Feed], Outputs]:
    feeds, outs = [], []
    for case in bundle.manifest.golden:
        with (
            np.load(bundle.root / case.inputs, allow_pickle=False) as i,
            np.load(bundle.root / case.outputs, allow_pickle=False) as o,
        ):
            feeds.append({k: i[k] for k in i.files})
            outs.append({k: o[k] for k in o.files})
    return feeds, outs


def _golden_figures(bundle: Bundle, want: Outputs, got: Outputs) -> dict[str, Any]:
    """Worst absolute error against the recorded golden outputs, and whether every case is within the
    manifest's tolerance (the device canary's test: edge_agent/remote/update/canary.py)."""
    worst, ok = 0.0, True
    for case, w, g in zip(bundle.manifest.golden, want, got, strict=True):
        for name, expected in w.items():
            out = g[name]
            if out.shape != expected.shape:
                return {"max_abs_error": None, "within_tolerance": False, "shape_mismatch": name}
            if out.size:
                worst = max(
                    worst, float(np.max(np.abs(out.astype(np.float64) - expected.astype(np.float64))))
                )
            ok = ok and bool(np.allclose(out, expected, atol=case.atol, rtol=case.rtol))
    return {"max_abs_error": worst, "within_tolerance": ok}


def _held_out(bundle: Bundle, holdout: Path) -> list[Feed]:
    """The gate's held-out feeds, read as the build read them; refused unless the fingerprint matches."""
    m = bundle.manifest
    data = m.report.get("data", {})
    inputs = [(t.name, t.shape, t.dtype) for t in m.inputs]
    text_dir = bundle.root / "tokenizer" if m.text is not None else None
    max_length = m.text.max_length if m.text is not None else 128
    feeds = load_samples(
        holdout, inputs, m.preprocess, text_dir, limit=data.get("holdout_n"), max_length=max_length
    )
    want = data.get("holdout_fingerprint")
    if want and fingerprint(feeds) != want:
        raise UsageError(
            f"--holdout {holdout}: expected the held-out set the gate used (fingerprint {want[:12]}...), "
            f"got {len(feeds)} samples with fingerprint {fingerprint(feeds)[:12]}..."
        )
    return feeds


def _reference(bundle: Bundle, explicit: Path | None) -> Path | None:
    """The fp32 model the gate compared with: --reference, else the build's source when it is an ONNX
    file still on disk (the gate used its prepared copy: the same graph, optimized)."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"--reference {explicit}: expected the fp32 .onnx file")
        return explicit
    src = Path(str(bundle.manifest.report.get("source", {}).get("path", "")))
    return src if src.suffix == ".onnx" and src.is_file() else None


def _holdout_figures(
    bundle: Bundle, held: list[Feed], arm: Outputs, reference: Path | None
) -> dict[str, Any]:
    m = bundle.manifest
    head = "yolo" if m.task == "detection" and getattr(m.postprocess, "kind", None) == "yolo" else None
    host = run(bundle.model_path, held)
    diff = max(
        (
            float(np.max(np.abs(a[k].astype(np.float64) - h[k].astype(np.float64))))
            for a, h in zip(arm, host, strict=True)
            for k in h
            if h[k].size
        ),
        default=0.0,
    )
    out: dict[str, Any] = {
        "n": len(held),
        "arm64_vs_host": compare(m.task, host, arm, head),  # the bundled model on both machines
        "max_abs_diff_vs_host": diff,  # the largest output difference, any sample, any output
    }
    if reference is not None:
        ref = run(reference, held)
        out["reference"] = str(reference)
        out["host"] = compare(m.task, ref, host, head)
        out["arm64"] = compare(m.task, ref, arm, head)
    return out


def _verdict(gate: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """What the device's kernels got wrong, in words; empty when the bundle holds on arm64."""
    problems = []
    golden = figures["golden"]["arm64"]
    if not golden["within_tolerance"]:
        problems.append(
            f"golden outputs on arm64 are outside the manifest's tolerance (max abs error "
            f"{golden['max_abs_error']}): the device's canary would refuse this bundle"
        )
    held = figures.get("holdout")
    max_drop = gate.get("max_drop")
    if held is None or max_drop is None:
        return problems
    metric = held["arm64_vs_host"]["metric"]
    if "arm64" in held:
        host_v, arm_v = held["host"]["value"], held["arm64"]["value"]
        if host_v - arm_v > max_drop + 1e-12:
            problems.append(
                f"{metric} on arm64 {arm_v:.4f} vs {host_v:.4f} on the build machine: differs by more "
                f"than the gate's budget {max_drop}"
            )
        if 1.0 - arm_v > max_drop + 1e-12:
            problems.append(f"{metric} on arm64 {arm_v:.4f} misses the gate's budget (>= {1 - max_drop:.4f})")
    else:
        agree = held["arm64_vs_host"]["value"]
        if 1.0 - agree > max_drop + 1e-12:
            problems.append(
                f"{metric} of arm64 against the build machine's outputs {agree:.4f}: differs by more than "
                f"the gate's budget {max_drop}"
            )
    return problems


def _record(bundle: Bundle, entry: dict[str, Any], key: Ed25519PrivateKey | None) -> Bundle:
    """Write `entry` into the report under device_check and seal the bundle again in place."""
    root = bundle.root
    tmp, old = root.with_name(root.name + ".part"), root.with_name(root.name + ".old")
    for p in (tmp, old):
        shutil.rmtree(p, ignore_errors=True)
    shutil.copytree(root, tmp, ignore=shutil.ignore_patterns(MANIFEST, "manifest.sig"))
    raw = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    raw["report"] = {**raw.get("report", {}), "device_check": entry}

    def make() -> Manifest:
        return Manifest.model_validate({**raw, "files": file_entries(tmp)})

    root.replace(old)
    try:
        sealed = seal_bundle(tmp, root, make, key)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        old.replace(root)
        raise
    shutil.rmtree(old)
    return sealed


def device_check(
    bundle_dir: Path,
    arm64_root: Path,
    *,
    holdout: Path | None = None,
    reference: Path | None = None,
    key: Ed25519PrivateKey | None = None,
    record: bool = True,
    python: str = ROOT_PYTHON,
    cpu: str = DEFAULT_CPU,
) -> dict[str, Any]:
    """Re-run the bundle's golden cases (and `holdout`) on arm64; return the device_check entry.

    With `record`, the entry goes into the bundle report and the bundle is sealed again (signed with
    `key`; a signed bundle needs it). Raises DeviceCheckError, carrying the entry, when the device's
    figures miss the gate's budget; the entry is recorded first, so the bundle says so too.
    """
    bundle = verify_bundle(bundle_dir)
    if record and key is None and (bundle.root / "manifest.sig").exists():
        raise UsageError(f"{bundle.root} is signed: pass --key to re-sign it with the device check recorded")
    if key is not None and (bundle.root / "manifest.sig").exists():
        verify_bundle(bundle_dir, [key.public_key()])  # re-signing with another key would hide a swap
    gate = bundle.manifest.report.get("gate", {})
    golden_in, golden_out = _golden(bundle)
    held = _held_out(bundle, holdout) if holdout is not None else []
    ref = _reference(bundle, reference) if held else None
    arm, info = run_in_root(arm64_root, bundle.model_path, golden_in + held, python=python, cpu=cpu)
    figures: dict[str, Any] = {
        "golden": {
            "cases": len(golden_in),
            "host": _golden_figures(bundle, golden_out, run(bundle.model_path, golden_in)),
            "arm64": _golden_figures(bundle, golden_out, arm[: len(golden_in)]),
        }
    }
    if held:
        figures["holdout"] = _holdout_figures(bundle, held, arm[len(golden_in) :], ref)
    problems = _verdict(gate, figures)
    entry: dict[str, Any] = {
        "checked": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "arm64": {**info, "emulated": True},
        "build_machine": {"gate_metric": gate.get("metric"), "gate_value": gate.get("value")},
        "max_drop": gate.get("max_drop"),
        **figures,
        "passed": not problems,
        "problems": problems,
    }
    if record:
        _record(bundle, entry, key)
    if problems:
        raise DeviceCheckError("; ".join(problems), entry)
    return entry
