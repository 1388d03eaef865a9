"""Breadth for the log-triage task's training side: many compositional message families, so a model
learns what makes a line `ok`, `warning` or `fault` rather than recalling the training families' templates.

A held-out family shares *cue words and situations* with the rest of a device's logs ("failed",
"not responding", "corrupted" for faults; "retrying", "degraded", "high", "timed out, retrying" for
warnings; "started", "connected", "in sync" for routine lines), not its wording. So the training
side gets families composed from a subject (a device part of one component: `/dev/sda1`, `wlan0`,
`the MQTT bridge`, `the fan controller`, ...) and an event of one severity, worded several ways
(`EVENTS`), in the same syslog / journal / dmesg styles as `logtriage.render`. An event's wordings
are generic phrases written for this module; none is a template of `logtriage_families` (tests/
exporters/slm/test_logtriage_breadth.py asserts that no training line shares a four-word run with
any held-out family's wordings, nor any held-out line). The same words occur at several severities
("failed login" is a warning, "failed to start" a fault; "timed out, retrying" a warning, "timed
out, giving up" a fault; "correctable errors" a warning; a part "reset" a warning, a system reset a
fault), so no single token gives the label away. The contrasts a device's logs lean on are events of
their own: a new device attached (ok) against a device reset (warning), a peer disconnected
(warning) against a part down (fault), a part's reboot of the system (fault).

A breadth family is one event on one component (`b.<event>.<component>`, about 700 of them); its
label is the event's severity, its component the subject's, its action the event's.
"""

from __future__ import annotations

import random
from typing import Any

from exporters.slm.tasks.logtriage_families import Family, Severity, fields

# component -> (syslog programs that write such lines, subjects: device parts of that component)
SUBJECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "storage": (("kernel", "smartd", "udisksd", "storage-monitor"),
                ("/dev/{dev}", "disk {disk}", "the SD card", "USB drive /dev/sdb1", "the NVMe SSD",
                 "the data partition", "the log volume", "/var/lib/{unit}/db.sqlite")),
    "network": (("NetworkManager", "netmon", "kernel", "ModemManager"),
                ("{iface}", "the uplink", "VPN tunnel wg0", "the LTE modem", "gateway {gw}",
                 "the DNS resolver", "Ethernet port {eth}", "access point {mac}")),
    "service": (("systemd", "supervisord", "containerd", "edge-agent"),
                ("{unit}.service", "{desc}", "the camera pipeline", "the modbus poller",
                 "the sensor reader", "the web dashboard", "container {proc}", "worker {proc}")),
    "power": (("kernel", "pmic", "upsd", "power-monitor"),
              ("the power supply", "the PMIC", "the UPS battery", "the 5V rail", "the PoE HAT",
               "the solar charger")),
    "thermal": (("thermald", "kernel", "fancontrol", "thermal-monitor"),
                ("the fan controller", "CPU thermal zone {n}", "the heatsink sensor",
                 "the enclosure temperature sensor", "fan {n}")),
    "messaging": (("mosquitto", "mqtt-bridge", "telegraf", "edge-agent"),
                  ("the MQTT bridge", "the broker connection", "the message queue", "client {client}",
                   "the telemetry uplink", "topic site/{unit}/state")),
    "memory": (("memmon", "kernel", "systemd-oomd"),
               ("the memory pool", "swap", "RAM", "the page cache", "the heap of {proc}")),
    "time": (("chronyd", "gpsd", "timekeeper"),
             ("the NTP client", "time source {ip}", "the GPS time receiver", "the system clock",
              "the PTP clock")),
    "usb": (("kernel", "udevd", "usb-monitor"),
            ("the USB hub", "the USB camera", "serial adapter ttyUSB{n}", "the Zigbee dongle",
             "USB port {n}")),
    "security": (("auditd", "polkitd", "login", "nftables"),
                 ("the firewall", "the TLS certificate of {host}", "the login service", "the SSH key store",
                  "account {user}", "the VPN credentials")),
    "scheduler": (("CRON", "anacron", "systemd"),
                  ("the nightly job", "job {cmd}", "the backup timer", "the report task",
                   "the cleanup job")),
    "watchdog": (("watchdogd", "systemd"),
                 ("the watchdog daemon", "the hardware watchdog", "the supervisor heartbeat")),
}  # fmt: skip

# event -> (severity, action, wordings over {s} (the subject) and the fields of `fields`/`_extra`)
EVENTS: dict[str, tuple[Severity, str, tuple[str, ...]]] = {
    # ---- ok -------------------------------------------------------------------------------------
    "started": ("ok", "none", ("{S} started", "{s} is running", "starting {s} ... done")),
    "connected": ("ok", "none", ("{s} connected to {peer}", "{s}: connection established with {peer}",
                                 "connected to {peer} via {s}")),
    "up": ("ok", "none", ("{s} is up", "{s} came up", "{s} online")),
    "check_ok": ("ok", "none", ("{s}: status OK", "health check passed: {s}", "{s} self-test passed")),
    "in_sync": ("ok", "none", ("{s} synchronised with {peer}", "{s} in sync", "sync of {s} complete")),
    "completed": ("ok", "none", ("{s} completed successfully in {secs} s", "{s} finished without errors",
                                 "{s}: done ({n2} items)")),
    "ready": ("ok", "none", ("{s} ready", "{s} initialised", "{s} initialized, {n} channels")),
    "restored": ("ok", "none", ("{s} restored", "{s} back to normal", "{s} recovered, all checks green")),
    "loaded": ("ok", "none", ("loaded {s}", "{s} loaded ({n2} modules)", "configuration of {s} reloaded")),
    "detected": ("ok", "none", ("{s} registered as {client}", "{s} detected", "found {s}")),
    "stopped_clean": ("ok", "none", ("stopping {s} on request", "{s} shut down cleanly",
                                     "{s} exited normally (status 0)")),
    "scheduled": ("ok", "none", ("{s} scheduled for {date}", "next run of {s} at {hh}:00")),
    "nominal": ("ok", "none", ("{s} at {pct_low}%, normal", "{s} reading nominal",
                               "{s} within range ({pct_low}%)")),
    "updated": ("ok", "none", ("{s} updated to version {ver}", "{s} upgraded to {ver}",
                               "new firmware {ver} applied to {s}")),
    "login_ok": ("ok", "none", ("user {user} logged in on {s}", "authenticated {user} via {s}")),
    "saved": ("ok", "none", ("{s} saved", "snapshot of {s} written ({mb} MB)", "{s} flushed to disk")),
    "enabled": ("ok", "none", ("{s} enabled", "{s} activated", "{s} is active")),
    "heartbeat": ("ok", "none", ("heartbeat from {s} received", "{s} alive, uptime {secs} h")),
    "attached": ("ok", "none", ("{s}: new device attached", "new device on {s}, assigned number {n2}",
                                "{s} plugged in and enumerated")),
    # ---- warning --------------------------------------------------------------------------------
    "retrying": ("warning", "watch it; act if it keeps retrying",
                 ("{s}: retrying in {secs} s (attempt {n}/5)", "{s} retry {n} of 5",
                  "will retry {s} in {secs} seconds")),
    "degraded": ("warning", "check it soon", ("{s} degraded", "{s} running in degraded mode",
                                              "{s}: degraded performance")),
    "high": ("warning", "reduce the load", ("{s} usage high: {pct_high}%", "high load on {s} ({pct_high}%)",
                                            "{s} at {pct_high}% of its limit")),
    "slow": ("warning", "check it soon", ("{s} slow to respond ({ms} ms)",
                                          "{s} latency {ms} ms above threshold", "slow {s}: {ms} ms")),
    "low": ("warning", "free capacity soon", ("low space on {s}: {mb} MB free", "{s} running low",
                                              "{s} below {pct_low}%, low")),
    "throttled": ("warning", "reduce the load", ("{s} throttled", "throttling {s}", "{s} rate-limited")),
    "reconnecting": ("warning", "check the connection", ("{s} lost connection to {peer}, reconnecting",
                                                         "{s} dropped, will reconnect",
                                                         "link to {peer} interrupted on {s}, trying again")),
    "timeout_retry": ("warning", "check the connection", ("{s}: request to {peer} timed out, retrying",
                                                          "no answer from {s} yet, retrying",
                                                          "{s} timeout after {secs} s, will try again")),
    "near_limit": ("warning", "free capacity soon", ("{s} nearing capacity",
                                                     "{s} approaching its limit ({pct_high}%)")),
    "expiring": ("warning", "renew it before it expires",
                 ("{s} due to expire in {n2} days", "{s} will expire soon", "{s} valid only until {date}")),
    "deprecated": ("warning", "update the configuration", ("{s} is deprecated and will be removed",
                                                          "{s}: using a deprecated option")),
    "fallback": ("warning", "check it soon", ("{s} unavailable, using fallback", "{s} falling back to {peer}",
                                              "{s} running on backup")),
    "weak": ("warning", "check the signal or cable",
             ("{s} signal weak (-{dbm} dBm)", "{s} link quality poor")),
    "loss": ("warning", "check the connection", ("packet loss {pct_low}% on {s}", "{s} lost {n2} packets")),
    "backlog": ("warning", "reduce the load", ("queue for {s} at {pct_high}%",
                                               "{s} backlog growing ({big} messages)")),
    "drift": ("warning", "check the time source", ("clock drift of {n}.{n2} s on {s}",
                                                   "{s} off by {secs} ms")),
    "warm": ("warning", "improve cooling", ("{s} warm: {temp_warm} C, above normal",
                                            "{s} temperature rising ({temp_warm} C)")),
    "corrected": ("warning", "watch it; replace if it grows", ("correctable errors on {s}: {n2}",
                                                               "{s}: {n} errors corrected")),
    "bad_login": ("warning", "review access", ("failed login for {baduser} on {s}",
                                               "{s}: wrong password for {baduser}, {n} attempts")),
    "reset": ("warning", "watch it; check the hardware if it repeats",
              ("{s} reset", "resetting {s} after an error", "{s} was reset and reinitialised")),
    "disconnected": ("warning", "check the connection", ("{s} disconnected", "{s}: disconnected from {peer}",
                                                         "{s} disconnecting after {secs} s without a reply")),
    "defaults": ("warning", "update the configuration", ("{s} not configured, using defaults",
                                                         "{s}: config missing, assuming defaults")),
    # ---- fault ----------------------------------------------------------------------------------
    "failed": ("fault", "check the log and repair it", ("{s} failed", "could not start {s}",
                                                         "{s}: operation failed with code {n}")),
    "error": ("fault", "check the log and repair it", ("error on {s}: {errtext}", "{s}: fatal error {n3}",
                                                        "{s} reported an unrecoverable error")),
    "io": ("fault", "replace the hardware", ("I/O error reading {s}", "{s}: read error at block {big}",
                                             "write to {s} failed: Input/output error")),
    "unresponsive": ("fault", "restart it and check the hardware",
                     ("{s} not responding", "{s} is unresponsive",
                      "no response from {s} after {secs} s, giving up")),
    "corrupted": ("fault", "restore it from a backup", ("{s} corrupted", "checksum mismatch on {s}",
                                                        "{s}: data corruption detected")),
    "crashed": ("fault", "update it and report the crash", ("{s} crashed", "{s} terminated by signal {sig}",
                                                            "{s}: core dumped")),
    "aborted": ("fault", "check the log and repair it", ("{s}: aborted: {errtext}", "fatal: {s} aborted")),
    "cannot": ("fault", "check the hardware and its driver",
               ("cannot open {s}: No such device", "unable to access {s}", "{s} could not be read")),
    "down": ("fault", "restart it and check the hardware", ("{s} offline", "{s} is down",
                                                            "{s} went down and did not come back")),
    "killed": ("fault", "reduce memory use", ("{s} killed", "{s} was killed (out of memory)")),
    "died": ("fault", "check the log and repair it",
             ("{s} stopped unexpectedly", "{s} exited with status {n}", "{s} died")),
    "data_lost": ("fault", "restore it from a backup", ("data lost on {s}",
                                                        "{s}: {n2} records dropped, could not be written")),
    "refused": ("fault", "check the credentials", ("{s} refused by {peer}: access denied",
                                                   "{s}: authentication rejected by {peer}")),
    "missing": ("fault", "check the hardware and its driver",
                ("{s} not found", "{s} missing, cannot continue", "{s} disappeared")),
    "hardware": ("fault", "replace the hardware", ("{s} hardware failure", "{s} removed unexpectedly",
                                                   "{s}: device fault")),
    "overheat": ("fault", "power off and fix cooling", ("{s} over temperature ({temp_hot} C), shutting down",
                                                        "{s} critical: {temp_hot} C")),
    "gave_up": ("fault", "check the connection", ("{s}: timed out, giving up", "{s} retries exhausted",
                                                  "{s}: all {n} attempts failed")),
    "reboot": ("fault", "check what hung before the reset",
               ("{s} expired, rebooting now", "system reset triggered by {s}",
                "{s} forces a reboot in {n} s")),
    "panic": ("fault", "update it and report the crash", ("{s}: fatal exception, halting", "{s} panicked",
                                                           "{s}: unrecoverable fault, stopping")),
    "emergency": ("fault", "check what hung before the reset", ("{s} forced an emergency reboot",
                                                                "{s} hung, system restarting")),
}  # fmt: skip

# The level a program writes before its message, per severity ("level=error msg=...", nginx's
# "[emerg]", telegraf's "W!", ModemManager's "<warn>"): the first thing a person triaging a log reads.
# `generate(markers=...)` puts one before that share of the breadth lines; the rest carry none, as
# most kernel and systemd lines carry none.
LEVEL_MARKERS: dict[Severity, tuple[str, ...]] = {
    "ok": ("INFO {m}", "[info] {m}", "<info> {m}", 'level=info msg="{m}"', "I! {m}", "[notice] {m}",
           "info: {m}", "notice: {m}"),
    "warning": ("WARN {m}", "WARNING: {m}", "[warn] {m}", "<warn> {m}", 'level=warning msg="{m}"',
                "W! {m}", "warning: {m}", "[warning] {m}"),
    "fault": ("ERROR {m}", "[error] {m}", "<error> {m}", 'level=error msg="{m}"', "E! {m}", "error: {m}",
              "[crit] {m}", "CRITICAL: {m}", "FATAL: {m}", "[emerg] {m}"),
}  # fmt: skip

_PEERS = ("broker.local", "10.0.0.1", "cloud gateway", "upstream server", "the hub", "node-7", "pool.ntp.org")
_ERRTEXT = ("invalid argument", "bad message", "protocol error", "no such file or directory",
            "operation not permitted", "resource unavailable", "broken pipe")  # fmt: skip


def _extra(rng: random.Random) -> dict[str, object]:
    """Fields the breadth wordings use beyond `logtriage_families.fields`."""
    return {
        "peer": rng.choice(_PEERS), "ms": rng.randint(300, 9000),
        "ver": f"{rng.randint(1, 5)}.{rng.randint(0, 20)}",
        "errtext": rng.choice(_ERRTEXT), "hh": f"{rng.randrange(24):02d}", "sig": rng.choice((6, 9, 11)),
    }  # fmt: skip


def _capitalised(s: str) -> str:
    return s[:1].upper() + s[1:]


def families() -> tuple[Family, ...]:
    """Every breadth family: each event on each component (subjects x wordings as templates).
    The Family's `program` is the first of the component's programs; `render` picks among all."""
    found = []
    for event, (sev, action, wordings) in EVENTS.items():
        for comp, (programs, subjects) in SUBJECTS.items():
            templates = tuple(
                w.replace("{S}", _capitalised(subj)).replace("{s}", subj)
                for w in wordings
                for subj in subjects
            )
            found.append(Family(f"b.{event}.{comp}", sev, comp, action, programs[0], templates))
    return tuple(found)


FAMILIES_B: tuple[Family, ...] = families()


def render(family: Family, rng: random.Random, markers: float = 0.0) -> str:
    """One line of a breadth family, in one of `logtriage.render`'s styles, with one of the
    component's programs as its tag; with `markers`, that share of lines carry a level marker of
    their severity (`LEVEL_MARKERS`) before the message."""
    from exporters.slm.tasks import logtriage

    programs = SUBJECTS[family.component][0]
    prog = rng.choice(programs)
    templates = family.templates
    if markers and rng.random() < markers:
        marker = rng.choice(LEVEL_MARKERS[family.severity])
        templates = tuple(marker.replace("{m}", t) for t in templates)
    fam = Family(family.name, family.severity, family.component, family.action, prog, templates)
    return logtriage.render(fam, rng, {**fields(rng), **_extra(rng)})


def generate(seed: int, n: int, markers: float = 0.0) -> list[dict[str, Any]]:
    """`n` labelled breadth lines, the severities balanced (round robin), a random family within
    each; rows shaped as `logtriage.generate`'s. `markers`: the share with a level marker (`render`)."""
    rng = random.Random(seed)
    by_sev: dict[str, list[Family]] = {}
    for fam in FAMILIES_B:
        by_sev.setdefault(fam.severity, []).append(fam)
    sevs = sorted(by_sev)
    rows = []
    for i in range(n):
        fam = rng.choice(by_sev[sevs[i % len(sevs)]])
        rows.append(
            {
                "text": render(fam, rng, markers),
                "severity": fam.severity,
                "component": fam.component,
                "action": fam.action,
                "family": fam.name,
            }
        )
    rng.shuffle(rows)
    return rows
