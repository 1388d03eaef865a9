"""The shape of a log-triage message family (`Family`), its severities and components: the one module
the family catalogues (`logtriage_families` and `logtriage_more_*`) and the breadth families build on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["ok", "warning", "fault"]
SEVERITIES: tuple[Severity, ...] = ("ok", "warning", "fault")
COMPONENTS: tuple[str, ...] = (
    "power", "thermal", "storage", "memory", "network", "time", "usb", "security",
    "service", "scheduler", "messaging", "watchdog", "kernel",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Family:
    """One kind of log event: its wordings (str.format templates over `fields`) and its label."""

    name: str
    severity: Severity
    component: str
    action: str
    program: str  # the syslog tag that writes it ("kernel" lines carry a dmesg uptime instead of a pid)
    templates: tuple[str, ...]


def _f(name: str, sev: Severity, comp: str, action: str, program: str, *templates: str) -> Family:
    return Family(name, sev, comp, action, program, templates)


# A placeholder a catalogue adds to `logtriage_families.fields`: a value drawn from the generator.
FieldMaker = Callable[[random.Random], object]
