"""Entry point for `edge-agent`. Commands register themselves; errors become one line and an exit code.

Exit codes: 0 ok, 1 failure, 2 usage, 130 interrupted (Ctrl-C reaching here: 128 + SIGINT, the shell's
convention; `edge-export` answers the same). `edge-agent run` handles SIGINT and SIGTERM itself as a clean
stop and exits 0 (docs/reliability.md, Shutdown).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from edge_agent import __version__
from edge_agent.errors import EXIT_INTERRUPTED, EdgeAgentError

# Each module defines `register(subparsers)` and sets `func` on its parsers: add a line to add a command.
COMMAND_MODULES = {
    "run": "edge_agent.cli.run",
    "config": "edge_agent.cli.config_cmd",
    "demo": "edge_agent.cli.demo_cmd",
    "doctor": "edge_agent.cli.doctor_cmd",
    "fleet": "edge_agent.cli.fleet_cmd",
}

Handler = Callable[[argparse.Namespace], int]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, with only the command it names (all of them otherwise, for
    the help and the list of choices): `run` need not import the fleet and demo tools."""
    parser = argparse.ArgumentParser(prog="edge-agent", description="Run small models at the edge.")
    parser.add_argument("--version", action="version", version=f"edge-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _modules(sys.argv[1:] if argv is None else argv):
        importlib.import_module(name).register(sub)
    return parser


def _modules(argv: Sequence[str]) -> list[str]:
    # The top-level options take no value, so the first word that is not an option is the command.
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in COMMAND_MODULES:
        return [COMMAND_MODULES[command]]
    return list(COMMAND_MODULES.values())


def setup_logging(verbosity: int, level: str | None = None) -> None:
    """Handlers are configured here only, never in library modules."""
    lvl = level.upper() if level else ("DEBUG" if verbosity > 1 else "INFO" if verbosity else "WARNING")
    logging.basicConfig(
        level=lvl, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    setup_logging(args.verbose)
    try:
        return func(args)
    except EdgeAgentError as exc:
        print(f"edge-agent: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
