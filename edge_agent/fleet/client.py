"""Connecting the fleet tools (collect, watch, send, deploy) to the central broker with paho.

One small options object shared by every fleet command, so TLS/mTLS, credentials and the protocol
version are spelled once. The client runs paho's network loop in its own thread (loop_start).
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.errors import FleetError
from edge_agent.tls import TlsSetupError, configure_tls

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BrokerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: str = "5"
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False
    client_id: str | None = None
    keepalive: int = 30


def make_client(opts: BrokerOptions, *, role: str = "fleet", clean_start: bool = True) -> mqtt.Client:
    """A configured, not yet connected client: register callbacks on it before `open_client`, so nothing
    the broker sends right after CONNACK (a persistent session's queued messages) finds no handler."""
    v5 = opts.protocol == "5"
    cid = opts.client_id or f"edge-{role}-{uuid.uuid4().hex[:10]}"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=cid,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else clean_start,
    )
    if opts.username:
        client.username_pw_set(opts.username, opts.password)
    if opts.ca_file or opts.cert_file:
        try:
            configure_tls(
                client,
                ca_file=opts.ca_file,
                cert_file=opts.cert_file,
                key_file=opts.key_file,
                insecure=opts.insecure,
            )
        except TlsSetupError as exc:
            raise FleetError(f"TLS setup failed: {exc}") from exc
    return client


def open_client(
    client: mqtt.Client,
    opts: BrokerOptions,
    *,
    clean_start: bool = True,
    session_expiry_s: int = 24 * 3600,
    timeout: float = 10.0,
) -> mqtt.Client:
    """Connect and start the network loop; raise FleetError saying why not.

    With `clean_start=False` (a fixed client id) the broker keeps the session, subscriptions and queued
    QoS 1 messages, for `session_expiry_s` after a disconnect (MQTT 5; 3.1.1 keeps it until cleaned).
    """
    v5 = opts.protocol == "5"
    done = threading.Event()
    result: list[ReasonCode | str] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object = None) -> None:
        result.append(rc)
        done.set()

    client.on_connect = on_connect
    props = None
    if v5 and not clean_start:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = session_expiry_s
    try:
        client.connect(
            opts.host,
            opts.port,
            keepalive=opts.keepalive,
            clean_start=clean_start if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
    except (OSError, ssl.SSLError) as exc:
        raise FleetError(f"cannot connect to {opts.host}:{opts.port}: {exc}") from exc
    client.loop_start()
    if not done.wait(timeout):
        client.loop_stop()
        raise FleetError(f"no CONNACK from {opts.host}:{opts.port} within {timeout:g}s")
    rc = result[0]
    if isinstance(rc, ReasonCode) and rc.is_failure:
        client.loop_stop()
        raise FleetError(f"broker refused the connection: {rc}")
    client.on_connect = None
    return client


def connect(
    opts: BrokerOptions, *, role: str = "fleet", clean_start: bool = True, timeout: float = 10.0
) -> mqtt.Client:
    """make_client + open_client, for tools that subscribe after connecting."""
    client = make_client(opts, role=role, clean_start=clean_start)
    return open_client(client, opts, clean_start=clean_start, timeout=timeout)


def disconnect(client: mqtt.Client) -> None:
    try:
        client.disconnect()
    finally:
        client.loop_stop()
