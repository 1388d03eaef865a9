"""`edge-agent config validate FILE` and `edge-agent config schema`; the JSON Schemas shipped in docs/."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge_agent.config.checks import check_runnable
from edge_agent.config.loader import read_config
from edge_agent.config.models import AgentConfig
from edge_agent.errors import ConfigError, ConfigIssue
from edge_agent.publish.schema import result_schema


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="validate a config file or print its JSON Schema")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    v = csub.add_parser(
        "validate",
        help="check a config and the files it names: OK (and warnings), or each error with its line",
    )
    v.add_argument("file")
    v.add_argument("--json", action="store_true", help="machine-readable result")
    v.set_defaults(func=validate)
    s = csub.add_parser("schema", help="print the config's JSON Schema")
    s.set_defaults(func=schema)
    p.set_defaults(func=lambda _a: (p.print_help(sys.stderr), 2)[1])


def _as_json(issues: list[ConfigIssue]) -> list[dict[str, Any]]:
    return [{"path": i.path, "line": i.line, "message": i.message, "value": i.value} for i in issues]


def validate(args: argparse.Namespace) -> int:
    """Exit 0: the agent can run this file here (warnings printed); 1: it cannot, every reason printed."""
    try:
        loaded = read_config(args.file)
        found = check_runnable(loaded)
        if found.errors:
            raise ConfigError(args.file, found.errors)
    except ConfigError as exc:
        if args.json:
            print(json.dumps({"ok": False, "file": exc.source, "errors": _as_json(exc.issues)}, indent=2))
        else:
            print(exc, file=sys.stderr)
        return 1
    cfg = loaded.config
    if args.json:
        out = {"ok": True, "file": args.file, "pipelines": sorted(cfg.pipelines)}
        print(json.dumps({**out, "warnings": _as_json(found.warnings)}))
        return 0
    for w in found.warnings:
        print(f"warning: {args.file}: {w}", file=sys.stderr)
    print(f"OK: {args.file} ({len(cfg.pipelines)} pipeline(s): {', '.join(sorted(cfg.pipelines))})")
    return 0


def config_schema() -> dict[str, Any]:
    return AgentConfig.model_json_schema()


def schema(_args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2))
    return 0


def write_schemas(docs: Path) -> list[Path]:
    """Regenerate docs/*.schema.json (config and result payload)."""
    out = []
    for name, doc in (("config", config_schema()), ("result", result_schema())):
        p = docs / f"{name}.schema.json"
        p.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.append(p)
    return out
