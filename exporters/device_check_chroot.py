"""Run ONNX Runtime inside an emulated arm64 root: the device's own kernels, on this machine.

The root is a Debian arm64 tree with the agent installed (scripts/arm64/agent-root.sh makes one:
the agent's venv holds aarch64 onnxruntime and numpy). Its binaries run under qemu-user through
binfmt_misc; `chroot` gets /proc, /sys and /dev in a private mount namespace (`unshare`), so the
kernel drops every mount when the command ends, whatever ends it. Emulation is exact about what the
kernels compute, not about how fast: nothing here times anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.bundle.graph import SESSION_CONFIG
from exporters.errors import ExportError, UsageError
from exporters.sources import Feed

ROOT_PYTHON = "/opt/edge-agent/bin/python"  # the .deb's venv (deploy/build-deb.sh)
# The Raspberry Pi 5's core: its HWCAP (dot product; no i8mm, no SVE) picks ONNX Runtime's int8 kernels.
DEFAULT_CPU = "cortex-a76"
Outputs = list[dict[str, np.ndarray]]

# Mounts (/proc with a Raspberry Pi 5's cpuinfo, a Pi 5 CPU topology for /sys, /dev), then chroot with
# QEMU_CPU set. Arguments: ROOT, CPU, --, the command. The same text as scripts/arm64/in-root.sh runs
# (tests/arm64/test_in_root.py holds them equal); why each piece is there is written there.
ENTER = r"""root="$1"; cpu="$2"; shift 2
mount -t proc proc "$root/proc"
# Not the /sys of the host: aarch64 ONNX Runtime 1.31 segfaults on import reading the
# /sys/devices/system/cpu of an x86 machine. A tmpfs with the CPU topology of a Raspberry Pi 5 instead:
# 4 Cortex-A76 r4p1.
mount -t tmpfs -o size=1m sysfs "$root/sys"
mkdir -p "$root/sys/devices/system/cpu"
for f in possible present online; do echo 0-3 > "$root/sys/devices/system/cpu/$f"; done
for i in 0 1 2 3; do
    mkdir -p "$root/sys/devices/system/cpu/cpu$i/regs/identification"
    echo 0x00000000414fd0b1 > "$root/sys/devices/system/cpu/cpu$i/regs/identification/midr_el1"
done
# The same library reads the vendor and core from /proc/cpuinfo (the x86 one under qemu-user): the
# Pi 5 text instead, bound over it.
features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
for i in 0 1 2 3; do
    printf "processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n" "$i" "$features"
    printf "CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n"
done > "$root/sys/.cpuinfo"
mount --bind "$root/sys/.cpuinfo" "$root/proc/cpuinfo"
mount --rbind /dev "$root/dev"
while [ "$1" != "--" ]; do
    mkdir -p "$root${1#*:}"
    mount --bind "${1%%:*}" "$root${1#*:}"
    shift
done
shift
# QEMU_CPU: the instruction set qemu offers (and reports in HWCAP): it picks the ONNX Runtime kernels.
exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 QEMU_CPU="$cpu" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
"""

# Runs on the root's Python: the exporter's metrics.session options (CPU EP, 2 intra-op threads as
# metrics.run uses, the graph as written: edge_agent.bundle.graph), every feed in order, outputs by
# name; prints what machine and runtime it was.
_RUN = (
    f"SESSION_CONFIG = {SESSION_CONFIG!r}\n"
    + """
import ctypes, json, platform, sys
import numpy as np, onnxruntime as ort
model, feeds_path, out_path, threads = sys.argv[1:5]
so = ort.SessionOptions()
so.intra_op_num_threads = int(threads)
so.inter_op_num_threads = 1
so.log_severity_level = 3
for key, value in SESSION_CONFIG.items():
    so.add_session_config_entry(key, value)
sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
names = [o.name for o in sess.get_outputs()]
wanted = {i.name for i in sess.get_inputs()}
feeds = {}
with np.load(feeds_path, allow_pickle=False) as data:
    for key in data.files:
        i, _, name = key.partition("/")
        feeds.setdefault(int(i), {})[name] = data[key]
outs = {}
for i in sorted(feeds):
    for name, value in zip(names, sess.run(None, {k: v for k, v in feeds[i].items() if k in wanted})):
        outs[f"{i}/{name}"] = value
np.savez(out_path, **outs)
hwcap = ctypes.CDLL(None).getauxval
hwcap.restype = ctypes.c_ulong
json.dump({"machine": platform.machine(), "onnxruntime": ort.__version__, "numpy": np.__version__,
           "hwcap": hex(hwcap(16)), "providers": sess.get_providers()}, sys.stdout)
"""
)


def check_root(root: Path, python: str = ROOT_PYTHON) -> None:
    """Raise UsageError unless `root` is a root file system holding `python`."""
    if not (root / "bin" / "sh").exists():
        raise UsageError(
            f"--arm64-root {root}: expected a root file system (scripts/arm64/agent-root.sh DIR)"
        )
    if not os.path.lexists(root / python.lstrip("/")):
        raise UsageError(f"--arm64-root {root}: has no {python} (install the agent's .deb in it)")
    if os.geteuid() != 0:
        raise UsageError("--arm64-root: chroot and mount need root")


def _save(path: Path, feeds: list[Feed]) -> None:
    np.savez(path, **{f"{i}/{k}": v for i, feed in enumerate(feeds) for k, v in feed.items()})  # type: ignore[arg-type]


def _load(path: Path, count: int) -> Outputs:
    out: Outputs = [{} for _ in range(count)]
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            i, _, name = key.partition("/")
            out[int(i)][name] = data[key]
    return out


def run_in_root(
    root: Path,
    model: Path,
    feeds: list[Feed],
    *,
    python: str = ROOT_PYTHON,
    cpu: str = DEFAULT_CPU,
    threads: int = 2,
    timeout: float = 1800,
) -> tuple[Outputs, dict[str, Any]]:
    """Outputs of `model` for every feed, computed by the root's ONNX Runtime on the CPU qemu emulates
    as `cpu`, and what it ran on ({"machine", "cpu", "onnxruntime", "numpy", "hwcap", "providers"})."""
    check_root(root, python)
    shutil.copy(os.path.realpath("/etc/resolv.conf"), root / "etc" / "resolv.conf")
    work = Path(tempfile.mkdtemp(prefix="edge-device-check-", dir=root / "tmp"))
    inside = Path("/tmp") / work.name
    try:
        shutil.copyfile(model, work / "model.onnx")
        _save(work / "feeds.npz", feeds)
        cmd = [
            "unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-ec", ENTER, "in-root",
            str(root), cpu, "--", "nice", "-n", "10", python, "-c", _RUN,
            str(inside / "model.onnx"), str(inside / "feeds.npz"), str(inside / "outputs.npz"), str(threads),
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ExportError(f"the arm64 run in {root} took longer than {timeout:.0f} s") from exc
        if proc.returncode != 0:
            raise ExportError(
                f"the arm64 run in {root} failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
            )
        try:
            info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError) as exc:
            raise ExportError(f"the arm64 run in {root} printed no report: {proc.stdout[-500:]!r}") from exc
        return _load(work / "outputs.npz", len(feeds)), {**info, "cpu": cpu}
    finally:
        shutil.rmtree(work, ignore_errors=True)
