"""`edge-agent fleet ...`: the central side. watch (live table), collect (results into SQLite/PostgreSQL),
gaps (sequence gaps in a collected database), send (one command, waits for the reply), deploy (a model
bundle to one or many devices, with a per-device outcome).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _broker_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("broker")
    g.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    g.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    g.add_argument("--mqtt", dest="protocol", choices=["5", "3.1.1"], default="5", help="MQTT version")
    g.add_argument("--prefix", default="edge", help="first topic level (default edge)")
    g.add_argument("--username", help="broker user name")
    g.add_argument("--password-env", default="EDGE_AGENT_MQTT_PASSWORD", help="env var holding the password")
    g.add_argument("--ca", type=Path, help="CA certificate (PEM) to verify the broker")
    g.add_argument("--cert", type=Path, help="client certificate (PEM) for mTLS")
    g.add_argument("--key", type=Path, help="client key (PEM) for mTLS")
    g.add_argument("--client-id", help="fixed client id (collect: keeps the session across restarts)")


def register(sub: Any) -> None:
    fleet = sub.add_parser("fleet", help="fleet tools for the central side (watch, collect, send, deploy)")
    fsub = fleet.add_subparsers(dest="fleet_command", metavar="FLEET_COMMAND")
    fleet.set_defaults(func=lambda _a: (fleet.print_help(sys.stderr), 2)[1])

    w = fsub.add_parser("watch", help="live table: online, fps, latency, temperature, outbox depth")
    _broker_args(w)
    w.add_argument("--json", action="store_true", help="print the table as one JSON array per refresh")
    w.add_argument("--interval", type=float, default=2.0, help="refresh every N seconds")
    w.add_argument("--once", action="store_true", help="collect for --interval seconds, print once, exit")
    w.set_defaults(func=handle_watch)

    c = fsub.add_parser("collect", help="store results and events (SQLite default, PostgreSQL with a DSN)")
    _broker_args(c)
    c.add_argument("--db", default="fleet.sqlite", help="SQLite path, or postgresql://... DSN")
    c.add_argument("--share", metavar="GROUP", help="join shared subscription $share/GROUP/... (spread load)")
    c.add_argument("--zones", type=Path, help="YAML of zones to fuse (see docs/fleet.md)")
    c.add_argument("--duration", type=float, help="stop after N seconds (default: until Ctrl-C)")
    c.set_defaults(func=handle_collect)

    gp = fsub.add_parser("gaps", help="sequence gaps per device and pipeline in a collected database")
    gp.add_argument("--db", default="fleet.sqlite", help="SQLite path, or postgresql://... DSN")
    gp.add_argument("--device", help="only this device")
    gp.add_argument("--json", action="store_true")
    gp.set_defaults(func=handle_gaps)

    s = fsub.add_parser("send", help="send one command to a device and print its reply")
    _broker_args(s)
    s.add_argument("device")
    s.add_argument("verb", help="ping, status, reload, set, start, stop, snapshot, update-model")
    s.add_argument("args", nargs="?", default="{}", help="JSON object of arguments (default {})")
    s.add_argument("--timeout", type=float, default=10.0)
    s.add_argument("--sign-key", type=Path, help="ed25519 private key (PEM) to sign the command")
    s.set_defaults(func=handle_send)

    d = fsub.add_parser("deploy", help="deploy a model bundle to devices; prints one outcome per device")
    _broker_args(d)
    d.add_argument("bundle", type=Path, help="bundle directory or .bundle.tgz")
    d.add_argument("--pipeline", required=True, help="pipeline to update on each device")
    d.add_argument("--device", action="append", default=[], help="target device (repeatable)")
    d.add_argument("--group", type=Path, help="file with one device id per line")
    d.add_argument(
        "--url", help="devices download from this URL (sha256 computed here); default: MQTT chunks"
    )
    d.add_argument("--chunk-size", type=int, default=256 * 1024, help="bytes per MQTT chunk")
    d.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each device's outcome")
    d.add_argument("--json", action="store_true", help="one JSON object per device")
    d.set_defaults(func=handle_deploy)


def broker_options(args: argparse.Namespace) -> Any:
    from edge_agent.fleet.client import BrokerOptions

    return BrokerOptions(
        host=args.host,
        port=args.port,
        protocol=args.protocol,
        username=args.username,
        password=os.environ.get(args.password_env) if args.username else None,
        ca_file=args.ca,
        cert_file=args.cert,
        key_file=args.key,
        client_id=args.client_id,
    )


@contextmanager
def _stop_event(duration: float | None) -> Iterator[threading.Event]:
    """Set by Ctrl-C / SIGTERM or after `duration` seconds; the previous signal handlers come back after."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_a: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    timer = threading.Timer(duration, stop.set) if duration is not None else None
    if timer is not None:
        timer.start()
    try:
        yield stop
    finally:
        if timer is not None:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def handle_watch(args: argparse.Namespace) -> int:
    from edge_agent.fleet.client import connect, disconnect
    from edge_agent.fleet.watch import FleetView

    client = connect(broker_options(args), role="watch")
    view = FleetView(client, args.prefix)
    view.start()
    try:
        with _stop_event(args.interval if args.once else None) as stop:
            _watch_loop(args, view, stop)
    finally:
        disconnect(client)
    return 0


def _watch_loop(args: argparse.Namespace, view: Any, stop: threading.Event) -> None:
    from edge_agent.fleet.watch import render_table, rows_json

    while not stop.wait(args.interval) or args.once:
        rows = view.rows()
        if args.json:
            print(rows_json(rows), flush=True)
        else:
            if sys.stdout.isatty() and not args.once:
                print("\x1b[2J\x1b[H", end="")  # redraw in place
            print(render_table(rows), flush=True)
        if args.once:
            return


def handle_collect(args: argparse.Namespace) -> int:
    from edge_agent.fleet.client import disconnect, make_client, open_client
    from edge_agent.fleet.collector import Collector
    from edge_agent.fleet.store import open_store

    store = open_store(args.db)
    opts = broker_options(args)
    persistent = args.client_id is not None  # a fixed id keeps the session while the collector restarts
    client = make_client(opts, role="collector", clean_start=not persistent)
    collector = Collector(client, store, prefix=args.prefix, share_group=args.share)
    open_client(client, opts, clean_start=not persistent)
    fuser = None
    if args.zones:
        from edge_agent.fleet.client import connect
        from edge_agent.fleet.fusion import Fuser, load_zones

        # Its own connection: the collector's manual acks and shared subscription must not see the votes.
        fuser = Fuser(load_zones(args.zones), connect(opts, role="fusion"), args.prefix)
        fuser.start()
    collector.start()
    log.info("collecting %s into %s", collector.filter, args.db)
    try:
        with _stop_event(args.duration) as stop:
            while not stop.wait(10):
                log.info(
                    "received %d, stored %d, rejected %d",
                    collector.received,
                    collector.stored,
                    collector.rejected,
                )
    finally:
        collector.stop()
        if fuser is not None:
            fuser.stop()
            disconnect(fuser.client)
        disconnect(client)
        gaps = store.gaps()
        store.close()
    print(json.dumps({"received": collector.received, "stored": collector.stored, "gaps": len(gaps)}))
    return 0


def handle_gaps(args: argparse.Namespace) -> int:
    from edge_agent.fleet.store import open_store

    store = open_store(args.db)
    try:
        gaps = store.gaps(args.device)
        ranges = [r for r in store.ranges() if args.device in (None, r[0])]
    finally:
        store.close()
    if args.json:
        print(
            json.dumps(
                {
                    "streams": [
                        dict(zip(("device", "pipeline", "first", "last", "rows"), r, strict=True))
                        for r in ranges
                    ],
                    "gaps": [
                        {
                            "device": g.device,
                            "pipeline": g.pipeline,
                            "first_missing": g.first_missing,
                            "last_missing": g.last_missing,
                            "count": g.count,
                        }
                        for g in gaps
                    ],
                }
            )
        )
    else:
        for dev, pipe, first, last, rows in ranges:
            missing = sum(g.count for g in gaps if (g.device, g.pipeline) == (dev, pipe))
            print(f"{dev}/{pipe}: seq {first}..{last}, {rows} stored, {missing} missing")
        for g in gaps:
            print(f"  gap {g.device}/{g.pipeline}: {g.first_missing}..{g.last_missing} ({g.count})")
    return 1 if gaps else 0


def handle_send(args: argparse.Namespace) -> int:
    from edge_agent.fleet.client import connect, disconnect
    from edge_agent.fleet.send import Requester

    try:
        body = json.loads(args.args)
    except ValueError as exc:
        print(f"edge-agent: args must be a JSON object: {exc}", file=sys.stderr)
        return 2
    if not isinstance(body, dict):
        print("edge-agent: args must be a JSON object", file=sys.stderr)
        return 2
    if args.sign_key:
        from edge_agent.bundle.sign import load_private_key
        from edge_agent.remote.commands.signing import sign_command

        body = sign_command(load_private_key(args.sign_key), args.device, args.verb, body)
    client = connect(broker_options(args), role="send")
    try:
        reply = Requester(client, args.prefix).request(args.device, args.verb, body, timeout=args.timeout)
    finally:
        disconnect(client)
    print(json.dumps(reply, indent=2))
    return 0 if reply.get("ok") else 1


def handle_deploy(args: argparse.Namespace) -> int:
    from edge_agent.fleet.client import connect, disconnect
    from edge_agent.fleet.deploy import Outcome, deploy, read_group

    devices = list(args.device) + (read_group(args.group) if args.group else [])
    if not devices:
        print("edge-agent: give --device or --group", file=sys.stderr)
        return 2

    def show(o: Outcome) -> None:
        if args.json:
            print(json.dumps(asdict(o)), flush=True)
        else:
            detail = f" at {o.step}: {o.reason}" if not o.ok else ""
            print(f"{o.device}: {o.state}{detail}", flush=True)

    client = connect(broker_options(args), role="deploy")
    try:
        outcomes = deploy(
            client,
            args.bundle,
            devices,
            args.pipeline,
            prefix=args.prefix,
            url=args.url,
            chunk_size=args.chunk_size,
            timeout=args.timeout,
            on_outcome=show,
        )
    finally:
        disconnect(client)
    return 0 if all(o.ok for o in outcomes) else 1
