"""Pick the hardware profile whose `detect` rules match the probed facts.

Rules (hardware/*.yaml `detect`): every criterion a profile gives must hold; within a criterion any
listed value may match (substrings are case-insensitive), except `cpu_flags`, which must all be present.
The highest `priority` wins, so a specific board beats the generic profile of its architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.doctor.probe import Facts, Root
from edge_agent.hardware.profile import DetectSpec, HardwareProfile


@dataclass(frozen=True, slots=True)
class Match:
    profile: HardwareProfile
    reasons: tuple[str, ...]


def _any_in(needles: list[str], hay: str) -> str | None:
    low = hay.lower()
    return next((n for n in needles if n.lower() in low), None)


def match(detect: DetectSpec, facts: Facts, root: Root) -> tuple[str, ...] | None:
    """Why `detect` matches these facts, or None when one of its criteria fails."""
    reasons: list[str] = []
    if detect.arch:
        if facts.arch not in detect.arch:
            return None
        reasons.append(f"arch {facts.arch}")
    if detect.model_contains:
        hit = _any_in(detect.model_contains, facts.board_text())
        if hit is None:
            return None
        reasons.append(f"device-tree names {hit!r}")
    if detect.dmi_contains:
        hit = _any_in(detect.dmi_contains, facts.identity_text())
        if hit is None:
            return None
        reasons.append(f"DMI/CPU name has {hit!r}")
    if detect.files:
        found = next((f for f in detect.files if root.path(f).exists()), None)
        if found is None:
            return None
        reasons.append(f"{found} exists")
    if detect.cpu_flags:
        if not set(detect.cpu_flags) <= facts.cpu_flags:
            return None
        reasons.append("CPU has " + ", ".join(detect.cpu_flags))
    if not reasons:
        return None  # a profile without rules never matches by itself
    return tuple(reasons)


def select_profile(profiles: dict[str, HardwareProfile], facts: Facts, root: Root) -> list[Match]:
    """All matching profiles, best first (priority, then name for a stable order)."""
    found = []
    for prof in profiles.values():
        why = match(prof.detect, facts, root)
        if why is not None:
            found.append(Match(prof, why))
    return sorted(found, key=lambda m: (-m.profile.detect.priority, m.profile.name))
