"""System readers against a fake /proc + /sys tree (Pi- and Jetson-shaped) and the real /proc."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_agent.remote.stats.system import PI_THROTTLED, SystemReader


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def pi_root(tmp_path: Path) -> Path:
    # comm with a space and a ')' to exercise the stat parser
    stat = "42 (python (x) y) S 1 42 42 0 -1 4194304 0 0 0 0 250 50 0 0 20 0 1 0 100 0 0"
    _write(tmp_path, "proc/42/stat", stat)
    _write(tmp_path, "proc/42/status", "Name:\tpython\nVmPeak:\t 9000 kB\nVmRSS:\t  51200 kB\n")
    _write(tmp_path, "proc/uptime", "12345.67 20000.00\n")
    _write(tmp_path, "sys/class/thermal/thermal_zone0/temp", "61850\n")
    _write(tmp_path, "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    _write(tmp_path, PI_THROTTLED, "0x50005\n")
    return tmp_path


def test_pi_tree(pi_root: Path) -> None:
    r = SystemReader(root=pi_root, pid=42)
    tick = os.sysconf("SC_CLK_TCK")
    assert r.cpu_seconds() == pytest.approx(300 / tick)
    assert r.rss_bytes() == 51200 * 1024
    assert r.temperatures() == {"cpu-thermal": 61.9}
    throttled, flags = r.throttling()
    assert throttled is True
    assert flags == 0x50005
    assert r.system_uptime() == pytest.approx(12345.67)


def test_pi_not_throttled_now_but_in_the_past(pi_root: Path) -> None:
    _write(pi_root, PI_THROTTLED, "0x50000\n")  # only the "has occurred" bits
    assert SystemReader(root=pi_root, pid=42).throttling() == (False, 0x50000)


def test_jetson_zones_and_profile_paths(tmp_path: Path) -> None:
    for i, (name, milli) in enumerate([("CPU-therm", "48500"), ("GPU-therm", "51000"), ("junk", "n/a")]):
        _write(tmp_path, f"sys/class/thermal/thermal_zone{i}/temp", milli)
        _write(tmp_path, f"sys/class/thermal/thermal_zone{i}/type", name)
    r = SystemReader(root=tmp_path)
    sample = r.sample()
    assert sample.temperature_c == {"CPU-therm": 48.5, "GPU-therm": 51.0}
    assert sample.max_temperature_c == 51.0
    assert sample.throttled is None
    _write(tmp_path, "sys/kernel/throttle", "1")
    r2 = SystemReader(
        root=tmp_path,
        temperature_paths=["/sys/class/thermal/thermal_zone1/temp"],
        throttle_paths=["/sys/kernel/throttle", "/sys/missing"],
    )
    assert r2.temperatures() == {"GPU-therm": 51.0}
    assert r2.throttling() == (True, None)


def test_empty_tree_is_not_an_error(tmp_path: Path) -> None:
    s = SystemReader(root=tmp_path, pid=1).sample()
    assert (s.cpu_seconds, s.rss_bytes, s.temperature_c, s.throttled) == (None, None, {}, None)
    assert s.cpu_percent is None


def test_real_proc_cpu_percent_sees_a_busy_loop() -> None:
    t = [0.0]
    r = SystemReader(clock=lambda: t[0])
    import time

    t[0] = time.monotonic()
    assert r.cpu_percent() is None  # first call has no interval
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    t[0] += 0.3
    pct = r.cpu_percent()
    assert pct is not None
    assert 50 <= pct <= 200
    rss = r.rss_bytes()
    assert rss is not None
    assert rss > 10 * 1024 * 1024
