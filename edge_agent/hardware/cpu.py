"""The CPU a figure was measured on: /proc/cpuinfo parsed, and the features a quantized model depends on.

Shared by `edge-agent doctor` (reading a device or a fake tree) and the exporter (recording the build
machine beside its measured figures in the bundle report).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

# CPU features that change what a quantized model gains; doctor reports the ones present.
INTERESTING_FLAGS = (
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
    "fphp",
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512_vnni",
    "amx_int8",
)


VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})


def int8_saturates(arch: str, flags: set[str] | frozenset[str]) -> bool:
    """Whether ONNX Runtime's u8s8 int8 kernels saturate on this CPU: x86 without VNNI multiplies
    uint8 activations by int8 weights with VPMADDUBSW, whose 16-bit pair sums clip. The same QDQ
    model then scores lower than it does on a VNNI CPU (MobileNetV2 here: 3.6 dB less SQNR); uint8
    weights (the ladder's rung) or 16-bit activations avoid it."""
    return arch in ("x86_64", "AMD64", "i686", "x86") and not VNNI_FLAGS & flags


def parse_cpuinfo(text: str | None) -> tuple[str | None, int, set[str]]:
    """(model name, logical CPUs, feature flags) from /proc/cpuinfo on x86 or Arm."""
    if not text:
        return None, 0, set()
    names: dict[str, str] = {}
    count = 0
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            count += 1
        elif key in ("flags", "features"):
            flags.update(value.split())
        elif value and not value.isdigit():
            names.setdefault(key, value)
    # x86: "model name"; Arm boards: "Model" (Raspberry Pi) or "Hardware" (older kernels); x86's numeric
    # "model" is skipped above.
    model = names.get("model name") or names.get("model") or names.get("hardware")
    return model, count, flags


def host_cpu() -> dict[str, Any]:
    """This machine's CPU as a build report records it: int8 speed and even int8 accuracy (u8s8
    saturation without VNNI) depend on these features, so a measured figure needs them beside it."""
    try:
        text: str | None = Path("/proc/cpuinfo").read_bytes().decode("utf-8", "replace")
    except OSError:
        text = None
    model, count, flags = parse_cpuinfo(text)
    arch = platform.machine()
    return {
        "arch": arch,
        "model": model,
        "logical_cpus": count,
        "features": sorted(f for f in flags if f in INTERESTING_FLAGS),
        "int8_saturates": int8_saturates(arch, flags),
    }
