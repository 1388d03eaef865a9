"""`edge-export build` for small language models: source → HF folder → the target's ladder of genai
builds, each gated against the source model → the first rung within budget, measured in a fresh
process → a signed bundle whose manifest.report records every rung tried.

The steps that need torch or transformers 5 (GGUF dequantization, the gate, the builder) run in
.venv-slm through exporters.slm.env; this module runs in the main venv.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge_agent.bundle.archive import SUFFIX, pack
from edge_agent.bundle.manifest import PromptSpec
from edge_agent.bundle.sign import load_private_key
from edge_agent.bundle.verify import Bundle
from edge_agent.hardware.profile import HardwareProfile, SlmRecipe, load_profile
from exporters.errors import DataError, ExportError, GateFailedError, UsageError
from exporters.slm.builder import Precision, build_cached, folder_size
from exporters.slm.bundle import write_slm_bundle
from exporters.slm.env import run_in_slm_env
from exporters.slm.gguf import REFUSED
from exporters.slm.measure import measure_genai
from exporters.slm.source import SlmSource, check_source, to_hf

log = logging.getLogger(__name__)
DEFAULT_MAX_LENGTH = 512
DEFAULT_MIN_TOP1 = 0.9
DEFAULT_MAX_KL = 0.1
# With a labelled --eval-set, a rung may score at most this much below the source model on it: a
# tuned model's int4 build can keep top-1 agreement and still lose the task (docs/slm.md, "The gate").
DEFAULT_MAX_ACCURACY_DROP = 0.02


def _progress(message: str) -> None:
    """A step that takes a while: logged, and shown on a terminal (as the image exporter's bars are)."""
    log.info("%s", message)
    if sys.stderr.isatty() and not log.isEnabledFor(logging.INFO):
        print(f"edge-export: {message}", file=sys.stderr, flush=True)


@dataclass
class SlmOptions:
    """What one SLM export is asked to do (the CLI's flags, or a caller's)."""

    source: Path
    out: Path
    target: str = "generic-x86"
    name: str | None = None
    version: str = "1"
    precision: Precision | None = None  # the first rung; default: the target's ladder's first
    max_length: int = DEFAULT_MAX_LENGTH
    prompt_spec: Path | None = None
    eval_text: Path | None = None
    eval_set: Path | None = None
    eval_limit: int | None = None
    min_top1: float | None = DEFAULT_MIN_TOP1
    max_kl: float | None = DEFAULT_MAX_KL
    min_accuracy: float | None = None
    max_accuracy_drop: float | None = DEFAULT_MAX_ACCURACY_DROP  # applies when eval_set is given
    gate: bool = True
    ladder: bool = True
    key: Path | None = None
    archive: bool = False
    force: bool = False
    work: Path | None = None  # keeps the dequantized source and the builds between exports
    measure: bool = True
    threads: int = 1
    new_tokens: int = 32


@dataclass
class SlmResult:
    bundle: Bundle
    archive: Path | None
    report: dict[str, Any] = field(default_factory=dict)


def rungs_for(recipe: SlmRecipe, precision: Precision | None, ladder: bool) -> list[Precision]:
    """The precisions to try, in order: the recipe's ladder from `precision` on (or `precision`
    alone when the ladder does not hold it), only the first without the ladder."""
    steps: list[Precision] = list(recipe.ladder)
    if precision is not None:
        steps = steps[steps.index(precision) :] if precision in steps else [precision]
    return steps if ladder else steps[:1]


def read_prompt(path: Path | None) -> PromptSpec | None:
    if path is None:
        return None
    try:
        return PromptSpec.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--prompt-spec {path}: cannot read it ({exc.strerror})") from None
    except ValidationError as exc:
        said = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()[:3])
        raise UsageError(f"--prompt-spec {path}: not a PromptSpec ({said})") from None


def _check_options(opts: SlmOptions, profile: HardwareProfile) -> None:
    if opts.max_length <= 0:
        raise UsageError(f"--max-length: expected a positive number of tokens, got {opts.max_length}")
    if opts.eval_set is not None and opts.prompt_spec is None:
        raise UsageError("--eval-set needs --prompt-spec (the prompt and labels the set is scored with)")
    for flag, path in (("--eval-text", opts.eval_text), ("--eval-set", opts.eval_set)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
    if opts.gate and profile.slm.builder_ep != "cpu":
        raise UsageError(
            f"target {profile.name} builds for the {profile.slm.builder_ep} execution provider and the gate "
            "runs the build here on the CPU: pass --no-gate to ship it ungated"
        )


def run_ladder(
    opts: SlmOptions,
    hf: Path,
    src: SlmSource,
    rungs: list[Precision],
    *,
    work: Path,
    prompt: PromptSpec | None,
) -> dict[str, Any]:
    """Run exporters.slm.ladder in .venv-slm; its result (every rung tried, the one chosen)."""
    out = work / "ladder.json"
    out.unlink(missing_ok=True)
    args = [
        "--reference", str(hf), "--work", str(work), "--rungs", ",".join(rungs),
        "--max-length", str(opts.max_length), "--stamp", src.fingerprint, "--out", str(out),
        "--threads", str(opts.threads),
    ]  # fmt: skip
    for flag, value in (
        ("--min-top1", opts.min_top1),
        ("--max-kl", opts.max_kl),
        ("--min-accuracy", opts.min_accuracy),
        ("--max-accuracy-drop", opts.max_accuracy_drop),
        ("--eval-text", opts.eval_text),
        ("--eval-set", opts.eval_set),
        ("--limit", opts.eval_limit),
    ):
        if value is not None:
            args += [flag, str(value)]
    if prompt is not None:
        spec = work / "prompt.json"
        spec.write_text(json.dumps(prompt.model_dump(mode="json", by_alias=True)), encoding="utf-8")
        args += ["--prompt-spec", str(spec)]
    log = work / "ladder.log"
    try:
        run_in_slm_env("exporters.slm.ladder", args, log=log)
    except ExportError:
        said = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if REFUSED in ln]
        if said:
            raise DataError(said[-1].split(REFUSED, 1)[1].strip()) from None
        raise
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def export_slm(opts: SlmOptions) -> SlmResult:
    """Build, gate, measure and sign an SLM bundle; GateFailedError (with every rung's figures)
    when no rung meets the budget, and then no bundle is written."""
    profile = load_profile(opts.target)
    _check_options(opts, profile)
    prompt = read_prompt(opts.prompt_spec)
    key = load_private_key(opts.key) if opts.key else None
    if opts.out.exists() and not opts.force:
        raise ExportError(f"{opts.out} already exists (pass --force to replace it)")
    src = check_source(opts.source)
    rungs = rungs_for(profile.slm, opts.precision, opts.ladder)
    with tempfile.TemporaryDirectory(prefix="edge-slm-") as tmp:
        work = opts.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if src.kind == "gguf":
            _progress(f"dequantizing {src.path.name} into a Hugging Face folder (log: {work / 'gguf.log'})")
        hf = to_hf(src, work)
        if opts.gate:
            _progress(f"building and gating {' → '.join(rungs)} (log: {work / 'ladder.log'})")
            ladder = run_ladder(opts, hf, src, rungs, work=work, prompt=prompt)
        else:
            folder = build_cached(
                hf, work, rungs[0], opts.max_length, stamp=src.fingerprint, ep=profile.slm.builder_ep
            )
            ladder = {
                "rungs": [{"rung": rungs[0], "gated": False}],
                "chosen": rungs[0],
                "folder": str(folder),
            }
        report = _report(opts, profile, src, ladder)
        if ladder["chosen"] is None:
            budget = ", ".join(f"{k} {v}" for k, v in report["gate"]["budget"].items())
            raise GateFailedError(
                f"no rung of {', '.join(rungs)} met the budget ({budget}); no bundle written", report
            )
        folder = Path(ladder["folder"])
        report["size_bytes"] = folder_size(folder)
        if opts.measure and profile.slm.builder_ep == "cpu":
            _progress(f"measuring {ladder['chosen']} at {opts.threads} thread(s) in a fresh process")
            report["measure"] = measure_genai(folder, threads=opts.threads, new_tokens=opts.new_tokens)
        elif opts.measure:
            report["measure"] = {"skipped": f"a {profile.slm.builder_ep} build cannot run on this machine"}
        bundle = write_slm_bundle(
            opts.out,
            genai=folder,
            hf_dir=hf,
            precision=ladder["chosen"],
            source=src.fingerprint,
            target=profile.name,
            name=opts.name or opts.out.name,
            version=opts.version,
            prompt=prompt,
            key=key,
            report=report,
            provider_options=profile.slm.provider_options,
            overwrite=opts.force,
        )
    archive = pack(bundle.root, bundle.root.with_name(bundle.root.name + SUFFIX)) if opts.archive else None
    return SlmResult(bundle=bundle, archive=archive, report=report)


def _report(
    opts: SlmOptions, profile: HardwareProfile, src: SlmSource, ladder: dict[str, Any]
) -> dict[str, Any]:
    held_out = str(opts.eval_text) if opts.eval_text else "built-in held-out text (exporters.slm.gate)"
    return {
        "source": src.fingerprint,
        "target": profile.name,
        "builder_ep": profile.slm.builder_ep,
        "recipe_untested": profile.slm.untested,
        "max_length": opts.max_length,
        "precision": ladder["chosen"],
        "gate": {
            "held_out": held_out,
            "eval_set": str(opts.eval_set) if opts.eval_set else None,
            "budget": {
                "min_top1": opts.min_top1,
                "max_kl": opts.max_kl,
                "min_accuracy": opts.min_accuracy,
                "max_accuracy_drop": opts.max_accuracy_drop if opts.eval_set else None,  # task-only
            },
            "gated": opts.gate,
            "rungs": ladder["rungs"],
            "chosen": ladder["chosen"],
        },
    }


def format_report(report: dict[str, Any]) -> list[str]:
    """The report as the tables `edge-export build` prints: every rung tried, then the shipped one."""
    lines = [
        f"  {'rung':<5} {'top-1':>6} {'KL':>7} {'task':>11} {'MiB':>7} {'build s':>8} {'gate s':>7}  result"
    ]
    for r in report.get("gate", {}).get("rungs", []):
        if not r.get("gated", True):
            lines.append(f"  {r['rung']:<5} not gated (--no-gate)")
            continue
        task = r.get("task")
        acc = f"{task['right']}/{task['n']} ({task['reference_right']})" if task else "-"
        mark = "PASS" if r["passed"] else "miss: " + "; ".join(r["missed"])
        lines.append(
            f"  {r['rung']:<5} {r['top1']:>6.4f} {r['kl']:>7.4f} {acc:>11} {r['size_bytes'] / 2**20:>7.1f} "
            f"{r['build_s']:>8} {r['gate_s']:>7}  {mark}"
        )
    if any(r.get("task") for r in report.get("gate", {}).get("rungs", [])):
        lines.append("  (task: right / records on --eval-set, the source model's count in brackets)")
    m = report.get("measure") or {}
    if "ttft_ms" in m:
        lines.append(
            f"  {'shipped':<7} {'MiB':>7} {'load s':>7} {'TTFT ms':>8} {'prefill tok/s':>14} "
            f"{'decode tok/s':>13} {'threads':>8} {'peak RSS MiB':>13}"
        )
        lines.append(
            f"  {report['precision']:<7} {report['size_bytes'] / 2**20:>7.1f} {m['load_s']:>7} "
            f"{m['ttft_ms']:>8} {m['prefill_tokens_per_s']:>14} {m['decode_tokens_per_s']!s:>13} "
            f"{m['threads']:>8} {m['peak_rss_mib']:>13}"
        )
        lines.append(
            f"  (TTFT for a {m['prompt_tokens']}-token chat prompt; decode over {m['new_tokens']} tokens)"
        )
    elif "skipped" in m:
        lines.append(f"  measure skipped: {m['skipped']}")
    return lines
