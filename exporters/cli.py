"""`edge-export`: build a bundle from a model (or train one: `train`); keygen, sign and verify bundles.

Exit codes: 0 ok, 1 failure (a missed accuracy gate included: the report is printed, no bundle),
2 usage, 130 interrupted (Ctrl-C, as `edge-agent`). Progress bars go to stderr when it is a terminal;
`--json` prints the report as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_agent.bundle.archive import SUFFIX, unpack
from edge_agent.bundle.sign import load_private_key, sign_bundle, write_keypair
from edge_agent.bundle.verify import load_public_key, verify_bundle
from edge_agent.errors import EXIT_INTERRUPTED, EdgeAgentError
from exporters import __version__
from exporters.compress.cli import add_compress_parsers
from exporters.device_check_cli import add_device_check, check_after_build
from exporters.errors import ExportError, GateFailedError, UsageError
from exporters.ladder import RUNG_NAMES
from exporters.slm.cli import add_slm_arguments, cmd_slm_build
from exporters.slm.finetune import REPORT as FINETUNE_REPORT
from exporters.slm.finetune import build_parser as finetune_parser
from exporters.slm.source import is_slm_source
from exporters.train.cli import add_train_parser

log = logging.getLogger(__name__)


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1,3,224,224, got {text!r}") from None


def _dim(text: str) -> tuple[str, int]:
    name, _, size = text.partition("=")
    if not name or not size.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=SIZE, got {text!r}")
    return name, int(size)


def _add_finetune(sub: Any) -> None:
    f = sub.add_parser(
        "finetune",
        parents=[finetune_parser(add_help=False)],
        help="tune a small language model for a task on the CPU (in .venv-slm; docs/slm.md)",
    )
    f.add_argument("--json", action="store_true", help="print finetune_report.json on stdout")
    f.set_defaults(func=cmd_finetune)


def _add_training(sub: Any, build: argparse.ArgumentParser) -> None:
    """The commands that train a model before building it (finetune, distill, prune, train), and
    the device check that re-runs a built bundle on the device's kernels."""
    _add_finetune(sub)
    add_compress_parsers(sub)
    add_train_parser(sub, _emit)
    add_device_check(sub, build)


def _qat_options(b: argparse.ArgumentParser) -> None:
    b.add_argument(
        "--train-data", type=Path, help="unlabelled images for the QAT rung (default: the calibration set)"
    )
    b.add_argument("--qat-budget-s", type=float, default=300.0, help="time budget of the QAT rung's training")
    b.add_argument(
        "--qat-steps",
        type=int,
        help="train the QAT rung this many steps, not --qat-budget-s (the same result on any machine)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-export", description="Export a small model to a signed bundle.")
    p.add_argument("--version", action="version", version=f"edge-export {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("build", help="model → measured, gated, signed bundle")
    b.add_argument(
        "source", help=".onnx, .tflite, .joblib/.pkl, HF dir or id, path.py:factory; .gguf or causal-LM dir"
    )
    b.add_argument("-o", "--out", type=Path, required=True, help="bundle directory to create")
    b.add_argument("-t", "--target", default="generic-x86", help="hardware profile name or YAML path")
    b.add_argument("--name", help="bundle name (default: the output directory's name)")
    b.add_argument("--model-version", default="1", help="bundle version")
    b.add_argument("--task", choices=["classification", "detection", "embedding", "raw"])
    b.add_argument(
        "--trust-pickle", action="store_true", help="allow loading a pickle/joblib (runs its code)"
    )
    b.add_argument("--weights", type=Path, help="PyTorch state_dict for the factory's module")
    b.add_argument("--input-shape", type=_shape, help="PyTorch example input, e.g. 1,3,224,224")
    b.add_argument("--calib", type=Path, help="calibration data: image folder, .npy, .npz or .txt")
    b.add_argument("--holdout", type=Path, help="held-out data for the gate (default: 1 in 4 of --calib)")
    b.add_argument("--preprocess", help="image preset: imagenet, unit, signed, none")
    b.add_argument(
        "--resize",
        choices=["stretch", "letterbox"],
        help="how an image is fitted to the input, recorded in the manifest and used by the gate "
        "(default: what the source's own code does where known, else stretch)",
    )
    b.add_argument("--pad-value", type=int, help="letterbox padding grey level 0..255 (default 114)")
    b.add_argument("--labels", type=Path, help="text file, one class label per line")
    b.add_argument("--max-drop", type=float, help="largest accepted metric drop vs fp32 (e.g. 0.03)")
    b.add_argument(
        "--min-speedup",
        type=float,
        help="a rung passes only if it is also this many times faster than fp32 on this machine "
        "(e.g. 1.0: never ship a variant slower than fp32)",
    )
    b.add_argument(
        "--quantize",
        choices=["none", "dynamic", "static-qdq", "fp16", "qnn-a16w8"],
        help="override the target profile's quantization mode",
    )
    b.add_argument("--no-ladder", dest="ladder", action="store_false", help="fail on the recipe alone")
    b.add_argument(
        "--skip-rung",
        action="append",
        default=[],
        choices=RUNG_NAMES,
        metavar="RUNG",
        help=f"a ladder rung not to try (repeatable): {', '.join(RUNG_NAMES)}",
    )
    _qat_options(b)
    b.add_argument("--static-dim", type=_dim, action="append", default=[], help="NAME=SIZE for static shapes")
    b.add_argument("--key", type=Path, help="ed25519 private key (PEM) to sign the bundle")
    b.add_argument("--archive", action="store_true", help=f"also pack the bundle into one {SUFFIX} file")
    b.add_argument("--force", action="store_true", help="replace an existing output directory")
    b.add_argument("--runs", type=int, default=50, help="timed runs per variant")
    b.add_argument("--threads", type=int, default=1, help="intra-op threads for the benchmark")
    b.add_argument("--no-measure", dest="measure", action="store_false", help="skip the latency benchmark")
    b.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_slm_arguments(b)
    b.set_defaults(func=cmd_build)

    k = sub.add_parser("keygen", help="create an ed25519 key pair: STEM.key (0600) and STEM.pub")
    k.add_argument("stem", type=Path)
    k.add_argument("--force", action="store_true")
    k.set_defaults(func=cmd_keygen)

    s = sub.add_parser("sign", help="(re)sign a bundle directory's manifest")
    s.add_argument("bundle", type=Path)
    s.add_argument("--key", type=Path, required=True)
    s.set_defaults(func=cmd_sign)

    _add_training(sub, b)

    v = sub.add_parser("verify", help="verify a bundle directory or archive: checksums and signature")
    v.add_argument("bundle", type=Path)
    v.add_argument("--key", type=Path, action="append", default=[], help="trusted public key (repeatable)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)
    return p


def _emit(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    gate = report.get("gate", {})
    pre = report.get("preprocess")
    if pre:
        pad = f" on grey {pre['pad_value']}" if "pad_value" in pre else ""
        print(f"  preprocess {pre['preset']}, {pre['resize']}{pad} (resize from the {pre['resize_from']})")
    for r in gate.get("rungs", []):
        mark = "PASS" if r["passed"] else ("slow" if r.get("too_slow") else "miss")
        speed = f"{r['latency']['speedup']:.2f}x" if r.get("latency") else ""
        print(f"  rung {r['rung']:<28} {r.get('value')!s:<22} {speed:>7} {mark}  ({r['seconds']} s)")
    if "value" in gate:
        print(
            f"gate: {gate.get('metric')} = {gate.get('value')} (max drop {gate.get('max_drop')}) "
            f"{'passed' if gate.get('passed') else 'FAILED'}"
        )
    for label, b in report.get("benchmark", {}).items():
        if isinstance(b, dict):
            print(
                f"  {label:<10} p50 {b['p50_ms']} ms  p95 {b['p95_ms']} ms  {b['size_bytes']} B  "
                f"rss {b['peak_rss_mb']} MB  nodes {b['nodes_by_provider']}"
            )


def cmd_build(args: argparse.Namespace) -> int:
    if is_slm_source(Path(args.source)):
        return cmd_slm_build(args)
    from exporters.pipeline import ExportOptions, export_model

    opts = ExportOptions(
        source=args.source,
        out=args.out,
        target=args.target,
        name=args.name,
        version=args.model_version,
        task=args.task,
        trust_pickle=args.trust_pickle,
        weights=args.weights,
        input_shape=args.input_shape,
        calib=args.calib,
        holdout=args.holdout,
        preprocess=args.preprocess,
        resize=args.resize,
        pad_value=args.pad_value,
        labels=args.labels,
        max_drop=args.max_drop,
        min_speedup=args.min_speedup,
        quantize=args.quantize,
        ladder=args.ladder,
        skip_rungs=frozenset(args.skip_rung),
        train_data=args.train_data,
        qat_budget_s=args.qat_budget_s,
        qat_steps=args.qat_steps,
        key=args.key,
        archive=args.archive,
        force=args.force,
        runs=args.runs,
        threads=args.threads,
        static_dims=dict(args.static_dim),
        measure=args.measure,
    )
    try:
        result = export_model(opts)
    except GateFailedError as exc:
        _emit(exc.report, args.json)
        raise
    out = {
        "bundle": str(result.bundle.root),
        "archive": str(result.archive) if result.archive else None,
        "signed_by": result.bundle.signed_by,
        **result.report,
    }
    _emit(out, args.json)
    if not args.json:
        print(f"bundle: {result.bundle.root}" + (f"  archive: {result.archive}" if result.archive else ""))
    if args.arm64_root is not None:
        check_after_build(args, result.bundle.root, result.archive)
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    # The training needs torch and transformers 5: it runs in the SLM environment, its progress bar
    # and figures streamed here; this side only forwards the arguments and reads the report.
    from exporters.slm.env import run_in_slm_env
    from exporters.slm.finetune import check_rewrites
    from exporters.slm.finetune_data import read_jsonl

    # Bad data fails here in a second (exit 2), not after the SLM environment has loaded torch.
    for path in (args.train, args.eval):
        if path is not None:
            read_jsonl(path)
    check_rewrites(args.rewrite)
    run_in_slm_env("exporters.slm.finetune", [a for a in args.argv if a != "--json"], stream=True)
    if args.json:
        print((args.out / FINETUNE_REPORT).read_text(encoding="utf-8"))
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    key, pub = write_keypair(args.stem, overwrite=args.force)
    print(f"private key: {key} (keep it secret)\npublic key:  {pub} (copy to devices' trusted_keys)")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    kid = sign_bundle(args.bundle, load_private_key(args.key))
    verify_bundle(args.bundle, [load_private_key(args.key).public_key()])
    print(f"signed {args.bundle} with key {kid}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    keys = [load_public_key(k) for k in args.key]
    with tempfile.TemporaryDirectory(prefix="edge-verify-") as tmp:
        root = args.bundle
        if args.bundle.is_file():
            root = unpack(args.bundle, Path(tmp) / "bundle")
        bundle = verify_bundle(root, keys or None)
    m = bundle.manifest
    if args.json:
        print(json.dumps({"ok": True, "model_id": m.model_id, "signed_by": bundle.signed_by}))
    else:
        print(
            f"ok: {m.model_id} ({m.task}, {m.quantization.mode}), "
            + (f"signed by {bundle.signed_by}" if bundle.signed_by else "checksums only (no --key)")
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(raw)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "finetune":
        args.argv = raw[raw.index("finetune") + 1 :]
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    level = "DEBUG" if args.verbose > 1 else "INFO" if args.verbose else "WARNING"
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"edge-export: {exc}", file=sys.stderr)
        return 2
    except (ExportError, EdgeAgentError) as exc:
        print(f"edge-export: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
