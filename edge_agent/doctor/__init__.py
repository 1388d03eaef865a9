"""`edge-agent doctor`: what this machine is, which hardware profile fits, and what stops the agent.

`diagnose()` probes the board, CPU, accelerators, cameras and ONNX Runtime (under a root that tests
point at a fake tree), picks a profile with the profiles' own detect rules, checks a config if given,
and returns a report whose errors are the things that block.
"""

from __future__ import annotations

from pathlib import Path

from edge_agent.doctor.checks import check_machine
from edge_agent.doctor.config_checks import check_config, check_threads
from edge_agent.doctor.probe import Facts, Root, probe
from edge_agent.doctor.report import Finding, Report
from edge_agent.doctor.select import select_profile
from edge_agent.errors import ConfigError
from edge_agent.hardware.profile import HardwareProfile, all_profiles, load_profile

__all__ = ["Facts", "Finding", "Report", "diagnose"]


def diagnose(
    root: Path = Path("/"),
    config: Path | None = None,
    providers: list[str] | None = None,
    timeout: float = 2.0,
) -> Report:
    """Run every check. `providers` replaces onnxruntime's list (to test other builds)."""
    base = Root(root)
    facts = probe(base, providers)
    matches = select_profile(all_profiles(), facts, base)
    chosen: HardwareProfile | None = matches[0].profile if matches else None
    report = Report(
        facts=facts,
        profile=chosen.name if chosen else None,
        profile_reasons=list(matches[0].reasons) if matches else [],
    )
    required = False
    if config is not None:
        cfg = check_config(report, config, base, timeout)
        if cfg is not None:
            required = any(p.model.require_accelerator for p in cfg.pipelines.values() if p.enabled)
            forced = cfg.device.hardware_profile
            if forced:
                try:
                    chosen = load_profile(forced)
                except ConfigError as exc:
                    report.add("error", "profile", str(exc).replace("\n", " "), "use one of the names listed")
                    chosen = None
                else:
                    if report.profile and forced != report.profile:
                        report.add(
                            "info", "profile", f"config sets {forced}; detection suggests {report.profile}"
                        )
                    report.profile = forced
                    report.profile_reasons = ["set by device.hardware_profile"]
            # The agent reads a profile only when the config names it: the layout it would choose.
            check_threads(report, cfg, chosen if forced else None, facts.cpu_count)
    if chosen is None:
        report.add(
            "warn",
            "profile",
            f"no hardware profile matches this {facts.arch} machine",
            "set device.hardware_profile in the config (see hardware/*.yaml); the CPU EP is used meanwhile",
        )
        return report
    report.jit = chosen.jit
    check_machine(report, chosen, facts, base, required)
    return report
