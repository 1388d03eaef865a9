"""Machine checks against the chosen profile: accelerator nodes, EPs in the installed onnxruntime,
CPU features that matter for quantized models, cameras, temperature and throttling."""

from __future__ import annotations

from edge_agent.doctor.probe import Facts, Root
from edge_agent.doctor.report import Report
from edge_agent.hardware.cpu import int8_saturates
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.hardware.providers import CPU, unknown_options

# The groups systemd/edge-agent.service grants through SupplementaryGroups=; tests keep the two in step.
UNIT_GROUPS = ("video", "render", "i2c", "gpio")
HOT_C = 80.0


def check_runtime(report: Report, facts: Facts) -> None:
    if facts.ort_version is None:
        report.add(
            "error",
            "onnxruntime",
            "onnxruntime does not import in this Python",
            "reinstall the agent's venv (deploy/install.sh) or `pip install onnxruntime` into it",
        )


def check_accelerator(report: Report, prof: HardwareProfile, root: Root, required: bool) -> None:
    acc = prof.accelerator
    if not acc.devices:
        return
    nodes = acc.resolve(root.base)
    if not nodes:
        report.add(
            "error" if required else "warn",
            "accelerator",
            f"no {', '.join(acc.devices)} on this machine: {', '.join(prof.accelerator_eps)} cannot use it"
            + ("" if required else "; the CPU EP runs instead"),
            acc.hint or None,
        )
        return
    report.add("ok", "accelerator", "found " + ", ".join(root.display(n) for n in nodes[:4]))
    missing = [g for g in acc.groups if g not in UNIT_GROUPS]
    if missing:
        report.add(
            "warn",
            "accelerator",
            f"group(s) {', '.join(missing)} own the nodes but the unit does not grant them",
            "systemctl edit edge-agent: [Service] SupplementaryGroups=" + " ".join(missing),
        )


def check_providers(report: Report, prof: HardwareProfile, facts: Facts, required: bool) -> None:
    if facts.ort_version is None:
        return
    for ep in prof.providers:
        if ep.name == CPU:
            continue
        bad = unknown_options(ep.name, ep.options)
        if bad:
            report.add(
                "warn",
                "profile",
                f"{prof.name}: {ep.name} options not documented by ONNX Runtime: {', '.join(bad)}",
                "check the spelling against the EP's documentation",
            )
        if ep.name in facts.ort_providers:
            report.add("ok", "providers", f"{ep.name} is in onnxruntime {facts.ort_version}")
            continue
        must = required or ep.required
        report.add(
            "error" if must else "warn",
            "providers",
            f"{ep.name} is not in onnxruntime {facts.ort_version} (it has {', '.join(facts.ort_providers)})"
            + (
                "; require_accelerator is set, the pipelines will not start" if must else "; CPU runs instead"
            ),
            ep.hint or None,
        )


def check_cpu(report: Report, prof: HardwareProfile, facts: Facts) -> None:
    if prof.arch not in ("any", facts.arch) and not {prof.arch, facts.arch} <= {"aarch64", "arm64"}:
        report.add(
            "error",
            "profile",
            f"profile {prof.name} is for {prof.arch} but this machine is {facts.arch}",
            "set device.hardware_profile to a profile for this architecture, or remove it to auto-detect",
        )
    if prof.precision != "int8" or not facts.cpu_flags:
        return
    if facts.arch == "aarch64" and "asimddp" not in facts.cpu_flags:
        report.add(
            "info",
            "cpu",
            "no dot-product instructions (asimddp): int8 models gain less over fp32 than on newer cores",
        )
    if int8_saturates(facts.arch, facts.cpu_flags):
        report.add(
            "info",
            "cpu",
            "no VNNI (avx512_vnni/avx_vnni): int8 runs on AVX2 kernels, more slowly, and their u8s8 sums"
            " saturate (a bundle gated on a VNNI machine may score lower here; build it with uint8 weights"
            " or gate it on this kind of CPU)",
        )


def check_cameras(report: Report, facts: Facts) -> None:
    if not facts.cameras:
        report.add("info", "cameras", "no /dev/video* device (fine for file, stream and sensor pipelines)")
        return
    names = [f"{c.path} ({c.driver})" if c.driver else c.path for c in facts.cameras]
    report.add("ok", "cameras", ", ".join(names))
    for cam in facts.cameras:
        if cam.group is not None and cam.group not in UNIT_GROUPS:
            report.add(
                "warn",
                "cameras",
                f"{cam.path} belongs to group {cam.group}, which the unit does not grant",
                f"systemctl edit edge-agent: [Service] SupplementaryGroups={cam.group}",
            )


def check_thermal(report: Report, prof: HardwareProfile, root: Root) -> None:
    temps, throttles = prof.thermal.resolve(root.base)
    readings = []
    for p in temps:
        text = root.read(p)
        if text and text.strip().lstrip("-").isdigit():
            readings.append(int(text.strip()) / 1000.0)
    if readings:
        hottest = max(readings)
        report.add(
            "warn" if hottest >= HOT_C else "ok",
            "thermal",
            f"hottest zone {hottest:.1f} C",
            "add cooling (heatsink, fan) before running models continuously" if hottest >= HOT_C else None,
        )
    for p in throttles:
        text = (root.read(p) or "").strip()
        if text not in ("", "0"):
            report.add(
                "warn",
                "thermal",
                f"{root.display(p)} reads {text}: the board is throttled or under-voltage",
                "use the board's official power supply and cooling",
            )


UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def check_unit(report: Report, prof: HardwareProfile, root: Root) -> None:
    """A profile whose EP writes code at run time needs the jit drop-in wherever the unit is installed."""
    if not prof.jit:
        return
    units = [u for d in UNIT_DIRS for u in root.glob(f"{d}/edge-agent.service")]
    if not units:
        return
    dropins = root.glob("/etc/systemd/system/edge-agent.service.d/*.conf")
    if any("MemoryDenyWriteExecute=no" in (root.read(d) or "") for d in dropins):
        report.add("ok", "service", "the jit drop-in (MemoryDenyWriteExecute=no) is installed")
        return
    report.add(
        "error",
        "service",
        f"{', '.join(prof.accelerator_eps)} compiles code at run time but edge-agent.service sets "
        "MemoryDenyWriteExecute=yes: the session would fail to open",
        "install -D -m 0644 /opt/edge-agent/share/systemd/jit.conf "
        "/etc/systemd/system/edge-agent.service.d/jit.conf && systemctl daemon-reload",
    )


def check_machine(report: Report, prof: HardwareProfile, facts: Facts, root: Root, required: bool) -> None:
    """All machine checks for `prof`; `required` is the config's require_accelerator."""
    check_runtime(report, facts)
    check_cpu(report, prof, facts)
    check_accelerator(report, prof, root, required)
    check_providers(report, prof, facts, required)
    check_cameras(report, facts)
    check_thermal(report, prof, root)
    check_unit(report, prof, root)
