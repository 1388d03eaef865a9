"""`edge-agent run -c FILE`: run the agent until SIGTERM/Ctrl-C (or, with --until-done, until files end)."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from edge_agent.config.checks import check_runnable
from edge_agent.config.loader import read_config
from edge_agent.config.models import AgentConfig
from edge_agent.errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the pipelines in a config file")
    p.add_argument("-c", "--config", required=True, help="YAML config file")
    p.add_argument(
        "--until-done",
        action="store_true",
        help="exit once every file source has ended and its results are delivered (batch jobs, tests)",
    )
    p.add_argument("--drain-s", type=float, default=2.0, help="on stop, wait this long for deliveries")
    p.set_defaults(func=handle)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread its own malloc arena; with capture, prep, infer, outbox and MQTT threads
    that costs ~10 MB of RSS for nothing on a small device (benchmarks/pipeline.py). Must run before the
    threads start. Same effect as MALLOC_ARENA_MAX=2, which the systemd unit also sets."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        log.debug("mallopt not available (not glibc)")


def load_runnable(path: str) -> AgentConfig:
    """The config, after the same checks as `config validate`: a missing file stops the start here, with
    its key and line, instead of a pipeline failing later; a missing provider is logged as a warning."""
    loaded = read_config(path)
    found = check_runnable(loaded)
    if found.errors:
        raise ConfigError(path, found.errors)
    for w in found.warnings:
        log.warning("%s: %s", path, w)
    return loaded.config


def handle(args: argparse.Namespace) -> int:
    from edge_agent.agent import Agent
    from edge_agent.cli.main import setup_logging
    from edge_agent.service.watchdog import ServiceLoop

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    # First thing: a SIGTERM while the config or the models load is a clean stop too (exit 0).
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cfg = load_runnable(args.config)
    if args.verbose == 0:
        setup_logging(0, cfg.log_level)
    limit_malloc_arenas()
    agent = Agent(cfg, config_path=Path(args.config))
    agent.start()
    service = ServiceLoop(agent)  # systemd: READY=1, WATCHDOG=1 on proven progress, STATUS=
    if not agent.started_pipelines:  # a short file source may have ended already
        log.error("no pipeline could start; see the errors above")
        service.stopping()
        agent.stop(drain_s=0)
        return 1
    service.ready()
    if args.until_done:
        while not stop.is_set() and not agent.wait_finished(timeout=service.period):
            service.tick()
        while not stop.is_set() and agent.outbox.depth > 0 and agent.publisher.connected:
            stop.wait(0.1)
    else:
        while not stop.wait(service.period):
            service.tick()
    service.stopping()
    joined = agent.stop(drain_s=args.drain_s)
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive()]
    if not joined or others:
        # The outbox is committed and closed: nothing accepted is lost. A thread still inside native
        # code (a node that ignores cancellation, a model update's canary run) must not meet the
        # interpreter's teardown, which aborts the process (exit 134); leave without waiting for it.
        log.info("leaving without waiting for thread(s): %s", ", ".join(others) or "-")
        logging.shutdown()
        os._exit(0)
    return 0
