"""What the machine is: board, CPU, accelerators, cameras and ONNX Runtime's EPs, read from a root.

Every /proc, /sys, /dev and /etc read goes through `Root`, so tests point it at a fake tree
(`edge-agent doctor --root DIR`) and a device reads `/`.
"""

from __future__ import annotations

import os
import platform
import stat
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.hardware.cpu import INTERESTING_FLAGS, parse_cpuinfo

# /sys/class/dmi/id files that name the machine (product_name alone is often a part number).
DMI_FIELDS = ("sys_vendor", "product_name", "product_family", "product_version", "board_vendor", "board_name")
_MACHINE_DIRS = ("proc", "sys", "dev", "etc")


@dataclass(frozen=True, slots=True)
class Root:
    """A filesystem root for machine facts; `path()` maps /proc, /sys, /dev, /etc paths under it."""

    base: Path = Path("/")

    @property
    def is_real(self) -> bool:
        return self.base.resolve() == Path("/")

    def path(self, p: str | Path) -> Path:
        """Machine paths (/proc, /sys, /dev, /etc) move under the root; other paths stay as given."""
        p = Path(p)
        if p.is_absolute() and len(p.parts) > 1 and p.parts[1] in _MACHINE_DIRS:
            return self.base.joinpath(*p.parts[1:])
        return p

    def read(self, p: str | Path) -> str | None:
        """Text of a small file, or None when absent or unreadable (sysfs files may refuse reads)."""
        try:
            return self.path(p).read_bytes().decode("utf-8", "replace")
        except OSError:
            return None

    def glob(self, pattern: str) -> list[Path]:
        """Absolute glob under the root; results are root-relative real paths."""
        return sorted(self.base.glob(pattern.lstrip("/")))

    def display(self, p: Path) -> str:
        """The path as the device sees it (without the fake root), for messages."""
        try:
            return "/" + str(p.relative_to(self.base)) if not self.is_real else str(p)
        except ValueError:
            return str(p)


@dataclass(slots=True)
class Device:
    """A device node: where it is, which kernel driver serves it, which group owns it (char devices)."""

    path: str
    driver: str | None = None
    group: str | None = None
    accessible: bool | None = None


@dataclass(slots=True)
class Facts:
    arch: str
    board_model: str | None = None
    dt_compatible: list[str] = field(default_factory=list)
    tegra_release: str | None = None
    dmi: dict[str, str] = field(default_factory=dict)
    cpu_model: str | None = None
    cpu_count: int = 0
    cpu_flags: set[str] = field(default_factory=set)
    os_name: str | None = None
    accelerators: list[Device] = field(default_factory=list)
    cameras: list[Device] = field(default_factory=list)
    i2c: list[str] = field(default_factory=list)
    ort_version: str | None = None
    ort_providers: list[str] = field(default_factory=list)

    def identity_text(self) -> str:
        """Everything doctor matches substrings against: DMI fields and the CPU name."""
        return " ".join([*self.dmi.values(), self.cpu_model or ""])

    def board_text(self) -> str:
        """Device-tree model and compatible strings (Arm boards name themselves there)."""
        return " ".join([self.board_model or "", *self.dt_compatible])

    def to_dict(self) -> dict[str, object]:
        return {
            "arch": self.arch,
            "board_model": self.board_model,
            "dt_compatible": self.dt_compatible,
            "tegra_release": self.tegra_release,
            "dmi": self.dmi,
            "cpu_model": self.cpu_model,
            "cpu_count": self.cpu_count,
            "cpu_features": sorted(f for f in self.cpu_flags if f in INTERESTING_FLAGS),
            "os": self.os_name,
            "accelerators": [vars_of(d) for d in self.accelerators],
            "cameras": [vars_of(d) for d in self.cameras],
            "i2c": self.i2c,
            "onnxruntime": self.ort_version,
            "providers": self.ort_providers,
        }


def vars_of(d: Device) -> dict[str, object]:
    return {"path": d.path, "driver": d.driver, "group": d.group, "accessible": d.accessible}


def _arch(root: Root, flags_text: str | None) -> str:
    """uname -m for the real root; for a fake tree, inferred from its cpuinfo."""
    if root.is_real:
        return platform.machine()
    text = flags_text or ""
    if "\nflags" in text or text.startswith("flags"):
        return "x86_64"
    if "CPU architecture: 8" in text or "asimd" in text:
        return "aarch64"
    return platform.machine()


def _driver(root: Root, sys_dir: str) -> str | None:
    link = root.path(f"{sys_dir}/device/driver")
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return None


def _groups(root: Root) -> dict[int, str]:
    out: dict[int, str] = {}
    for line in (root.read("/etc/group") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            out[int(parts[2])] = parts[0]
    return out


def _device(root: Root, p: Path, groups: dict[int, str], driver: str | None = None) -> Device:
    dev = Device(path=root.display(p), driver=driver)
    try:
        st = p.stat()
    except OSError:
        return dev
    # Only real character devices carry meaningful ownership; files in a fake tree do not.
    if stat.S_ISCHR(st.st_mode):
        dev.group = groups.get(st.st_gid, str(st.st_gid))
        dev.accessible = os.access(p, os.R_OK | os.W_OK)
    return dev


def _os_name(root: Root) -> str | None:
    for line in (root.read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def ort_info() -> tuple[str | None, list[str]]:
    """The installed onnxruntime's version and EPs; (None, []) when it does not import."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, []
    return str(ort.__version__), list(ort.get_available_providers())


def probe(root: Root, providers: list[str] | None = None) -> Facts:
    """Read the facts under `root`. `providers` overrides the ONNX Runtime query (tests of other builds)."""
    cpu_text = root.read("/proc/cpuinfo")
    model, count, flags = parse_cpuinfo(cpu_text)
    facts = Facts(arch=_arch(root, cpu_text), cpu_model=model, cpu_count=count, cpu_flags=flags)
    dt_model = root.read("/proc/device-tree/model")
    facts.board_model = dt_model.strip("\x00\n ") if dt_model else None
    compat = root.read("/proc/device-tree/compatible")
    facts.dt_compatible = [c for c in (compat or "").split("\x00") if c.strip()]
    tegra = root.read("/etc/nv_tegra_release")
    facts.tegra_release = tegra.splitlines()[0].strip() if tegra else None
    for name in DMI_FIELDS:
        value = root.read(f"/sys/class/dmi/id/{name}")
        if (
            value
            and value.strip()
            and value.strip().lower() not in ("to be filled by o.e.m.", "default string")
        ):
            facts.dmi[name] = value.strip()
    facts.os_name = _os_name(root)

    groups = _groups(root)
    for p in root.glob("/dev/accel/accel*"):
        facts.accelerators.append(_device(root, p, groups, _driver(root, f"/sys/class/accel/{p.name}")))
    # Vendor nodes that are not under /dev/accel: Jetson's GPU, NVIDIA dGPUs, Qualcomm's DSPs.
    for pattern in ("/dev/nvmap", "/dev/nvhost-ctrl-gpu", "/dev/nvidia0", "/dev/fastrpc-cdsp*"):
        facts.accelerators.extend(_device(root, p, groups) for p in root.glob(pattern))
    for p in root.glob("/dev/video*"):
        dev = _device(root, p, groups)
        label = root.read(f"/sys/class/video4linux/{p.name}/name")
        dev.driver = label.strip() if label else None
        facts.cameras.append(dev)
    facts.i2c = [root.display(p) for p in root.glob("/dev/i2c-*")]

    if providers is None:
        facts.ort_version, facts.ort_providers = ort_info()
    else:
        facts.ort_version, facts.ort_providers = ort_info()[0], list(providers)
    return facts
