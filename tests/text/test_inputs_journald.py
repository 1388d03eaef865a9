"""The `journald` input against a fake `journalctl` on PATH and against the real one.

The fake is a real subprocess (a small Python script named `journalctl`, first on PATH) that prints
journal entries in the exact JSON shape `journalctl -o json` writes (string fields, the realtime
stamp in microseconds as a string, a cursor, MESSAGE as a list of byte values when it is not
printable UTF-8), then exits with an error on its first run: so the source's command line, its JSON
parsing, its restart with backoff after the cursor and its counters are all exercised for real. The
real journalctl (systemd 252 here, with no journal to follow) is run where it fails for real.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from edge_agent.errors import SourceError
from edge_agent.text.inputs.journald import JournaldSource
from edge_agent.text.source_config import JournaldConfig
from tests.helpers import wait
from tests.text.inputs_support import captured, take, texts

BOOT = "2f5b6a0e4c1d4b7f9a8e3d2c1b0a9f8e"


def _entry(i: int, message: object, **fields: str) -> dict[str, object]:
    return {
        "__CURSOR": f"s=8c1f2e3d4c5b4a69;i={i:x};b={BOOT};m={6000000 + i:x};t=62f1a2b3c4d5e;x=9a8b7c6d",
        "__REALTIME_TIMESTAMP": str(1764633600_000000 + i * 1000),
        "__MONOTONIC_TIMESTAMP": str(6000000 + i),
        "_BOOT_ID": BOOT,
        "_HOSTNAME": "raspberrypi",
        "_MACHINE_ID": "0d9a1e2f3b4c5d6e7f8091a2b3c4d5e6",
        "PRIORITY": "4",
        "SYSLOG_FACILITY": "0",
        **fields,
        "MESSAGE": message,
    }


KERNEL = {"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel"}
SSH = {"_TRANSPORT": "syslog", "SYSLOG_IDENTIFIER": "sshd", "_SYSTEMD_UNIT": "ssh.service", "_PID": "812"}
FIRST_RUN = [
    _entry(1, "hwmon hwmon1: Undervoltage detected!", **KERNEL),
    _entry(2, "Accepted publickey for pi from 192.168.1.20 port 50122 ssh2", **SSH),
    _entry(3, list(b"\x1b[1mmmc0: timeout waiting for hardware interrupt\x1b[0m"), **KERNEL),  # not printable
    _entry(4, [0xFF, 0xFE, 0x41], **KERNEL),  # not UTF-8: refused bad_encoding
    _entry(5, None, **KERNEL),  # journalctl's null: a field too large to print
]
SECOND_RUN = [_entry(6, "cpu cpu0: thermal throttling: temperature 82.3 C", **KERNEL)]

FAKE = """#!{python}
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
with open(os.path.join(here, "calls.jsonl")) as f:
    run = sum(1 for _ in f)
with open(os.path.join(here, "entries.json")) as f:
    entries = json.load(f)[min(run, 2) - 1]
for e in entries:
    sys.stdout.write(json.dumps(e) + "\\n")
    if run == 1 and e is entries[1]:
        sys.stdout.write("this is not json\\n")
    sys.stdout.flush()
if run == 1:
    sys.stderr.write("Failed to iterate through journal: Bad message (simulated)\\n")
    sys.exit(1)
while True:
    time.sleep(1)
"""


@pytest.fixture
def fake_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `journalctl` first on PATH; returns its folder (calls.jsonl there records each argv)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "journalctl"
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    (bin_dir / "entries.json").write_text(json.dumps([FIRST_RUN, SECOND_RUN]))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_entries_become_frames_and_an_exit_restarts_after_the_cursor(fake_journalctl: Path) -> None:
    cfg = JournaldConfig(
        kind="journald", units=["ssh.service"], identifiers=["kernel"], priority="warning", max_bytes=256
    )
    src = JournaldSource(cfg, "journal")
    with captured(src) as (cap, out):
        got = take(out, 4)
        assert wait(lambda: cap.status.failures >= 1)
    assert texts(got) == [
        "hwmon hwmon1: Undervoltage detected!",
        "Accepted publickey for pi from 192.168.1.20 port 50122 ssh2",
        "\x1b[1mmmc0: timeout waiting for hardware interrupt\x1b[0m",
        "cpu cpu0: thermal throttling: temperature 82.3 C",  # from the restarted journalctl
    ]
    assert got[0].ts == pytest.approx(1764633600.001)
    assert got[0].meta["input"] == "kernel"
    assert got[1].meta["input"] == "ssh.service"
    assert got[1].meta["fields"] == {
        "_SYSTEMD_UNIT": "ssh.service",
        "SYSLOG_IDENTIFIER": "sshd",
        "PRIORITY": "4",
        "_HOSTNAME": "raspberrypi",
    }
    assert "exited (1): Failed to iterate through journal: Bad message (simulated)" in str(
        cap.status.last_error
    )
    calls = [json.loads(line) for line in (fake_journalctl / "calls.jsonl").read_text().splitlines()]
    assert calls[0] == [
        "--follow",
        "--output=json",
        "--no-pager",
        "--quiet",
        "--lines=0",
        "--unit=ssh.service",
        "--identifier=kernel",
        "--priority=warning",
    ]
    assert f"--after-cursor={FIRST_RUN[-1]['__CURSOR']}" in calls[1]  # none lost, none repeated
    c = src.counters()
    assert c["starts"] == 2
    assert c["refused"] == {"bad_json": 1, "bad_encoding": 1, "no_field": 1}


def test_no_journalctl_is_a_clear_source_error_the_capture_retries(tmp_path: Path) -> None:
    cfg = JournaldConfig(kind="journald", journalctl=str(tmp_path / "no-such-journalctl"))
    with pytest.raises(SourceError, match=r"cannot start .*no-such-journalctl.* systemd's journalctl"):
        JournaldSource(cfg).open()
    src = JournaldSource(cfg)
    with captured(src) as (cap, _out):
        assert wait(lambda: cap.status.failures >= 2)  # retried with backoff, not given up
        assert cap.status.state == "retrying"


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="journalctl (systemd) is not installed")
def test_the_real_journalctl_failing_is_reported_with_its_words(tmp_path: Path) -> None:
    src = JournaldSource(JournaldConfig(kind="journald", directory=str(tmp_path / "no-journal-here")))
    with captured(src) as (cap, _out):
        assert wait(lambda: cap.status.failures >= 1, timeout=15)
    assert "journalctl exited (1)" in str(cap.status.last_error)
    assert "no-journal-here" in str(cap.status.last_error)
