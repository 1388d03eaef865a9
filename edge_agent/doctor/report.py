"""Doctor's findings and how they are shown: one line each, with a fix a person can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from edge_agent.doctor.probe import Facts
from edge_agent.hardware.cpu import INTERESTING_FLAGS

Level = Literal["ok", "info", "warn", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome. `error` blocks the service from working as configured; `warn` does not."""

    level: Level
    topic: str
    message: str
    fix: str | None = None


@dataclass(slots=True)
class Report:
    facts: Facts
    profile: str | None
    profile_reasons: list[str]
    findings: list[Finding] = field(default_factory=list)
    jit: bool = False  # the profile's EP needs MemoryDenyWriteExecute=no (read by the .deb's postinst)

    def add(self, level: Level, topic: str, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding(level, topic, message, fix))

    @property
    def blocked(self) -> bool:
        return any(f.level == "error" for f in self.findings)

    def to_json(self) -> str:
        return json.dumps(
            {
                "ok": not self.blocked,
                "profile": self.profile,
                "profile_reasons": self.profile_reasons,
                "jit": self.jit,
                "facts": self.facts.to_dict(),
                "findings": [
                    {"level": f.level, "topic": f.topic, "message": f.message, "fix": f.fix}
                    for f in self.findings
                ],
            },
            indent=2,
        )

    def to_text(self) -> str:
        f = self.facts
        board = f.board_model or " ".join(
            v for k, v in f.dmi.items() if k in ("sys_vendor", "product_family", "product_version")
        )
        features = ", ".join(sorted(x for x in f.cpu_flags if x in INTERESTING_FLAGS)) or "none of note"
        lines = [
            f"machine   {board or 'unknown board'} ({f.arch}, {f.os_name or 'unknown OS'})",
            f"cpu       {f.cpu_model or '?'} x{f.cpu_count}; features: {features}",
            f"runtime   onnxruntime {f.ort_version or 'missing'}: {', '.join(f.ort_providers)}",
            f"profile   {self.profile or 'none'}"
            + (f" ({'; '.join(self.profile_reasons)})" if self.profile_reasons else ""),
            "",
        ]
        for item in self.findings:
            lines.append(f"[{item.level:5}] {item.topic}: {item.message}")
            if item.fix:
                lines.append(f"        fix: {item.fix}")
        lines.append("")
        errors = sum(item.level == "error" for item in self.findings)
        warns = sum(item.level == "warn" for item in self.findings)
        lines.append(
            f"{errors} blocking problem(s), {warns} warning(s)" if errors or warns else "nothing blocks"
        )
        return "\n".join(lines)
