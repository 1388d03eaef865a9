"""System health readers: process CPU %, RSS, CPU-seconds, temperatures, throttling and uptime.

Every reader takes `root` so tests point it at a fake /proc and /sys tree. A file that is missing or
unreadable means "not available on this machine" (None or an empty dict), never an error: most
machines lack some of these (containers have no thermal zones, only a Pi has get_throttled).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Raspberry Pi firmware exposes vcgencmd's get_throttled bit field here (hex, e.g. "0x50005").
PI_THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"
# Bits 0-3 are "now": under-voltage, arm frequency capped, currently throttled, soft temperature limit.
PI_NOW_MASK = 0xF


@dataclass(slots=True)
class SystemSample:
    """One reading; None where the machine does not expose the value."""

    cpu_percent: float | None
    cpu_seconds: float | None
    rss_bytes: int | None
    temperature_c: dict[str, float] = field(default_factory=dict)
    throttled: bool | None = None
    throttle_flags: int | None = None
    uptime_s: float = 0.0
    system_uptime_s: float | None = None

    @property
    def max_temperature_c(self) -> float | None:
        return max(self.temperature_c.values()) if self.temperature_c else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _rooted(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


class SystemReader:
    """Reads one process's health and the machine's thermal state.

    `temperature_paths` / `throttle_paths` come from the hardware profile (absolute paths, resolved
    under `root`); without them every /sys/class/thermal/thermal_zone*/temp is read.
    """

    def __init__(
        self,
        root: Path = Path("/"),
        pid: int | str = "self",
        *,
        temperature_paths: Sequence[str] = (),
        throttle_paths: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.pid = str(pid)
        self.temperature_paths = list(temperature_paths)
        self.throttle_paths = list(throttle_paths)
        self._clock = clock
        self._started = clock()
        self._last: tuple[float, float] | None = None  # (clock, cpu_seconds) of the previous sample
        try:
            self._tick = float(os.sysconf("SC_CLK_TCK"))
        except (ValueError, OSError, AttributeError):
            self._tick = 100.0

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the process, from /proc/<pid>/stat fields 14 and 15."""
        text = _read(self.root / "proc" / self.pid / "stat")
        if text is None or ")" not in text:
            return None
        # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        rest = text.rsplit(")", 1)[1].split()
        try:
            return (int(rest[11]) + int(rest[12])) / self._tick
        except (IndexError, ValueError):
            return None

    def cpu_percent(self) -> float | None:
        """CPU use since the previous call, in % of one core (200 % = two busy cores). None at first."""
        now, cpu = self._clock(), self.cpu_seconds()
        if cpu is None:
            return None
        last, self._last = self._last, (now, cpu)
        if last is None or now <= last[0]:
            return None
        return round(100.0 * (cpu - last[1]) / (now - last[0]), 1)

    def rss_bytes(self) -> int | None:
        text = _read(self.root / "proc" / self.pid / "status")
        if text is None:
            return None
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                parts = line.split()
                try:
                    return int(parts[1]) * 1024
                except (IndexError, ValueError):
                    return None
        return None

    def temperatures(self) -> dict[str, float]:
        """Celsius by zone name (thermal_zone*/type, e.g. cpu-thermal, GPU-therm)."""
        out: dict[str, float] = {}
        if self.temperature_paths:
            files = [_rooted(self.root, p) for p in self.temperature_paths]
        else:
            files = sorted((self.root / "sys/class/thermal").glob("thermal_zone*/temp"))
        for f in files:
            raw = _read(f)
            if raw is None:
                continue
            try:
                milli = float(raw)
            except ValueError:
                log.debug("unparsable temperature %r in %s", raw, f)
                continue
            name = _read(f.parent / "type") or f.parent.name
            # Some drivers report whole degrees; sysfs documents millidegrees.
            out[name] = round(milli / 1000.0 if abs(milli) > 200 else milli, 1)
        return out

    def throttling(self) -> tuple[bool | None, int | None]:
        """(throttled now?, raw Pi flags). None when no throttle source exists."""
        flags: int | None = None
        throttled: bool | None = None
        raw = _read(self.root / PI_THROTTLED)
        if raw is not None:
            try:
                flags = int(raw, 16) if raw.lower().startswith("0x") else int(raw, 16 if raw else 10)
                throttled = bool(flags & PI_NOW_MASK)
            except ValueError:
                flags = None
        for p in self.throttle_paths:
            value = _read(_rooted(self.root, p))
            if value is None:
                continue
            try:
                now = int(value, 0) != 0
            except ValueError:
                now = value.lower() not in ("", "0", "no", "false", "off")
            throttled = bool(throttled) or now
        return throttled, flags

    def system_uptime(self) -> float | None:
        raw = _read(self.root / "proc/uptime")
        try:
            return float(raw.split()[0]) if raw else None
        except (IndexError, ValueError):
            return None

    def sample(self) -> SystemSample:
        throttled, flags = self.throttling()
        return SystemSample(
            cpu_percent=self.cpu_percent(),
            cpu_seconds=self.cpu_seconds(),
            rss_bytes=self.rss_bytes(),
            temperature_c=self.temperatures(),
            throttled=throttled,
            throttle_flags=flags,
            uptime_s=round(self._clock() - self._started, 1),
            system_uptime_s=self.system_uptime(),
        )
