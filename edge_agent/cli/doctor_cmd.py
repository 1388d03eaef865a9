"""`edge-agent doctor`: check this machine (and a config), say what to fix; exit 1 when something blocks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="detect the board and accelerator, pick a hardware profile, check a config",
        description="Detect the board, CPU features, accelerators, cameras and ONNX Runtime EPs; pick a "
        "hardware profile; with --config check broker reachability and TLS files. Exit 0 when nothing "
        "blocks, 1 when something does.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-c", "--config", type=Path, help="also check this agent config file")
    p.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="read /proc, /sys, /dev and /etc under this directory (a fake tree for tests)",
    )
    p.add_argument("--timeout", type=float, default=2.0, help="broker connect timeout, seconds")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from edge_agent.doctor import diagnose

    if not args.root.is_dir():
        print(f"edge-agent doctor: --root {args.root} is not a directory")
        return 2
    report = diagnose(args.root, args.config, timeout=args.timeout)
    print(report.to_json() if args.json else report.to_text())
    return 1 if report.blocked else 0
