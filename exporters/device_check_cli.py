"""`edge-export device-check BUNDLE --arm64-root DIR`: the gate re-run on arm64 kernels (device_check.py).

Prints the build machine's and the device's figures side by side (or the entry as JSON); exit 1 with
the reason when they differ beyond the gate's budget, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge_agent.bundle.sign import load_private_key
from exporters.device_check_chroot import DEFAULT_CPU, ROOT_PYTHON
from exporters.errors import DeviceCheckError, UsageError


def add_device_check(sub: Any, build: Any) -> None:
    """The device-check subcommand, and --arm64-root on `build` (the same check right after a build)."""
    d = sub.add_parser(
        "device-check",
        help="re-run a bundle's golden inputs and held-out set on arm64 ONNX Runtime in an emulated root",
        description="Run the bundled model on the device's kernels (an arm64 root under qemu-user: "
        "scripts/arm64/agent-root.sh DIR makes one), compare with the build machine's figures, record "
        "both in the bundle report and re-seal it. Results only: emulation says nothing about speed.",
    )
    d.add_argument("bundle", type=Path, help="bundle directory (re-sealed in place)")
    d.add_argument(
        "--arm64-root", type=Path, required=True, help="arm64 root with the agent's .deb installed"
    )
    d.add_argument("--holdout", type=Path, help="the held-out data the gate used (checked by fingerprint)")
    d.add_argument(
        "--reference",
        type=Path,
        help="the fp32 .onnx the gate compared with (default: the build's source, when it is on disk)",
    )
    d.add_argument(
        "--key", type=Path, help="ed25519 private key to re-sign with (needed for a signed bundle)"
    )
    d.add_argument("--no-record", dest="record", action="store_false", help="leave the bundle as it is")
    d.add_argument("--python", default=ROOT_PYTHON, help="the Python inside the root that has onnxruntime")
    d.add_argument(
        "--cpu",
        default=DEFAULT_CPU,
        help=f"the CPU qemu emulates, whose HWCAP picks the kernels (default {DEFAULT_CPU}, the Pi 5's; "
        "cortex-a72 for a Pi 4, neoverse-n1 nearest a Jetson Orin's A78AE; qemu-aarch64-static -cpu help)",
    )
    d.add_argument("--json", action="store_true", help="print the device_check entry as JSON")
    d.set_defaults(func=cmd_device_check)
    build.add_argument(
        "--arm64-root",
        type=Path,
        help="for an aarch64 target: run device-check in this emulated arm64 root once the bundle is "
        "written (the held-out set is re-run when --holdout is given; golden cases always)",
    )


def check_after_build(args: argparse.Namespace, bundle: Path, archive: Path | None) -> None:
    """The device check of a just-built bundle (cmd_build with --arm64-root); re-packs the archive."""
    from edge_agent.bundle.archive import pack
    from edge_agent.hardware.profile import load_profile
    from exporters.device_check import device_check

    if load_profile(args.target).arch not in ("aarch64", "arm64"):
        raise UsageError(f"--arm64-root: the target {args.target} is not an aarch64 profile")
    key = load_private_key(args.key) if args.key else None
    try:
        entry = device_check(bundle, args.arm64_root, holdout=args.holdout, key=key)
    except DeviceCheckError as exc:
        _print(exc.report)
        raise
    finally:
        if archive is not None:
            pack(bundle, archive)
    if not args.json:
        _print(entry)


def _fmt(fig: dict[str, Any] | None) -> str:
    return "-" if fig is None else f"{fig['metric']} {fig['value']:.4f}"


def _print(entry: dict[str, Any]) -> None:
    arm = entry["arm64"]
    print(
        f"arm64: {arm['machine']} (emulated {arm['cpu']}), onnxruntime {arm['onnxruntime']}, "
        f"hwcap {arm['hwcap']}"
    )
    g = entry["golden"]
    for where in ("host", "arm64"):
        fig = g[where]
        mark = "within" if fig["within_tolerance"] else "OUTSIDE"
        print(
            f"  golden {g['cases']} case(s) on {where:<5}: max abs error {fig['max_abs_error']:.3g}, "
            f"{mark} tolerance"
        )
    build = entry["build_machine"]
    print(f"  gate on the build machine (recorded): {build['gate_metric']} {build['gate_value']}")
    h = entry.get("holdout")
    if h:
        print(f"  held-out {h['n']}: host {_fmt(h.get('host'))}   arm64 {_fmt(h.get('arm64'))}")
        print(
            f"  held-out {h['n']}: arm64 against host outputs {_fmt(h['arm64_vs_host'])}, "
            f"max abs difference {h['max_abs_diff_vs_host']:.3g}"
        )
    print(
        ("device check passed" if entry["passed"] else "device check FAILED")
        + f" (max drop {entry['max_drop']})"
    )


def cmd_device_check(args: argparse.Namespace) -> int:
    from exporters.device_check import device_check

    key = load_private_key(args.key) if args.key else None
    try:
        entry = device_check(
            args.bundle,
            args.arm64_root,
            holdout=args.holdout,
            reference=args.reference,
            key=key,
            record=args.record,
            python=args.python,
            cpu=args.cpu,
        )
    except DeviceCheckError as exc:
        print(json.dumps(exc.report, indent=2) if args.json else "", end="")
        if not args.json:
            _print(exc.report)
        raise
    if args.json:
        print(json.dumps(entry, indent=2))
    else:
        _print(entry)
    return 0
