"""Fake /proc, /sys, /dev, /etc trees copied from what real boards show, for `doctor --root`."""

from __future__ import annotations

import os
from pathlib import Path

A76_FEATURES = (
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
)
A78_FEATURES = A76_FEATURES + " uscat ilrcpc flagm paca pacg"
A72_FEATURES = "fp asimd evtstrm crc32 cpuid"
MTL_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht "
    "syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes "
    "xsave avx f16c rdrand lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid rdseed adx "
    "smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves avx_vnni movdiri movdir64b"
)


def write(root: Path, rel: str, text: str | bytes) -> Path:
    p = root / rel.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _arm_cpuinfo(features: str, part: str, cores: int, model: str | None = None) -> str:
    blocks = [
        f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
        f"CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: {part}\nCPU revision\t: 1\n"
        for i in range(cores)
    ]
    tail = f"Revision\t: d04170\nSerial\t\t: 2b4a1c9e0f1d8a3c\nModel\t\t: {model}\n" if model else ""
    return "\n".join(blocks) + "\n" + tail


def _common(root: Path, os_name: str) -> None:
    write(root, "/etc/os-release", f'PRETTY_NAME="{os_name}"\nID=debian\n')
    write(root, "/etc/group", "root:x:0:\nvideo:x:44:\nrender:x:105:\ni2c:x:998:\ngpio:x:997:\n")
    write(root, "/sys/class/thermal/thermal_zone0/temp", "51250\n")


def pi5(root: Path, temp_mc: int = 51250, undervoltage: bool = False) -> Path:
    _common(root, "Debian GNU/Linux 12 (bookworm)")
    write(root, "/proc/device-tree/model", b"Raspberry Pi 5 Model B Rev 1.0\x00")
    write(root, "/proc/device-tree/compatible", b"raspberrypi,5-model-b\x00brcm,bcm2712\x00")
    write(root, "/proc/cpuinfo", _arm_cpuinfo(A76_FEATURES, "0xd0b", 4, "Raspberry Pi 5 Model B Rev 1.0"))
    write(root, "/sys/class/thermal/thermal_zone0/temp", f"{temp_mc}\n")
    write(root, "/sys/class/hwmon/hwmon2/in0_lcrit_alarm", "1\n" if undervoltage else "0\n")
    for n in (0, 1):
        write(root, f"/dev/video{n}", "")
        write(root, f"/sys/class/video4linux/video{n}/name", "USB 2.0 Camera: USB Camera\n")
    write(root, "/dev/i2c-1", "")
    return root


def pi4(root: Path) -> Path:
    _common(root, "Debian GNU/Linux 12 (bookworm)")
    write(root, "/proc/device-tree/model", b"Raspberry Pi 4 Model B Rev 1.5\x00")
    write(root, "/proc/cpuinfo", _arm_cpuinfo(A72_FEATURES, "0xd08", 4, "Raspberry Pi 4 Model B Rev 1.5"))
    return root


def pi_zero_2w(root: Path) -> Path:
    _common(root, "Debian GNU/Linux 12 (bookworm)")
    write(root, "/proc/device-tree/model", b"Raspberry Pi Zero 2 W Rev 1.0\x00")
    model = "Raspberry Pi Zero 2 W Rev 1.0"
    write(root, "/proc/cpuinfo", _arm_cpuinfo("fp asimd evtstrm crc32 cpuid", "0xd03", 4, model))
    write(root, "/dev/video0", "")
    return root


def jetson_orin_nano(root: Path) -> Path:
    _common(root, "Ubuntu 22.04.5 LTS")
    write(root, "/proc/device-tree/model", b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    write(root, "/proc/device-tree/compatible", b"nvidia,p3768-0000+p3767-0005\x00nvidia,tegra234\x00")
    write(root, "/proc/cpuinfo", _arm_cpuinfo(A78_FEATURES, "0xd42", 6))
    write(
        root,
        "/etc/nv_tegra_release",
        "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, "
        "DATE: Fri Sep 13 04:36:44 UTC 2024\n",
    )
    for node in ("/dev/nvmap", "/dev/nvhost-ctrl-gpu", "/dev/nvgpu/igpu0/ctrl", "/dev/video0"):
        write(root, node, "")
    write(root, "/sys/class/thermal/thermal_zone1/temp", "47000\n")
    return root


def intel_npu_laptop(root: Path, with_npu: bool = True) -> Path:
    _common(root, "Ubuntu 24.04.1 LTS")
    blocks = [
        f"processor\t: {i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 170\n"
        f"model name\t: Intel(R) Core(TM) Ultra 7 155H\nflags\t\t: {MTL_FLAGS}\n"
        for i in range(4)
    ]
    write(root, "/proc/cpuinfo", "\n".join(blocks))
    for key, value in {
        "sys_vendor": "LENOVO",
        "product_name": "21KCCTO1WW",
        "product_family": "ThinkPad X1 Carbon Gen 12",
        "product_version": "ThinkPad X1 Carbon Gen 12",
        "board_name": "21KCCTO1WW",
    }.items():
        write(root, f"/sys/class/dmi/id/{key}", value + "\n")
    write(root, "/sys/devices/system/cpu/cpu0/thermal_throttle/package_throttle_count", "3\n")
    write(root, "/dev/video0", "")
    write(root, "/sys/class/video4linux/video0/name", "Integrated Camera: Integrated C\n")
    if with_npu:
        write(root, "/dev/accel/accel0", "")
        drv = root / "sys/bus/pci/drivers/intel_vpu"
        drv.mkdir(parents=True)
        dev = root / "sys/devices/pci0000:00/0000:00:0b.0"
        dev.mkdir(parents=True)
        os.symlink(drv, dev / "driver")
        (root / "sys/class/accel/accel0").mkdir(parents=True)
        os.symlink(dev, root / "sys/class/accel/accel0/device")
    return root


def snapdragon_x_laptop(root: Path) -> Path:
    _common(root, "Ubuntu 24.10")
    write(root, "/proc/device-tree/model", b"Lenovo ThinkPad T14s Gen 6\x00")
    write(root, "/proc/device-tree/compatible", b"lenovo,thinkpad-t14s\x00qcom,x1e78100\x00qcom,x1e80100\x00")
    write(root, "/proc/cpuinfo", _arm_cpuinfo(A78_FEATURES + " i8mm bf16", "0x001", 12))
    write(root, "/dev/fastrpc-cdsp", "")
    return root


def ryzen_ai_laptop(root: Path) -> Path:
    _common(root, "Ubuntu 24.04.1 LTS")
    flags = MTL_FLAGS.replace("avx_vnni", "avx512f avx512_vnni")
    write(
        root,
        "/proc/cpuinfo",
        f"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 36\n"
        f"model name\t: AMD Ryzen AI 9 HX 370 w/ Radeon 890M\nflags\t\t: {flags}\n",
    )
    write(root, "/sys/class/dmi/id/sys_vendor", "ASUSTeK COMPUTER INC.\n")
    write(root, "/sys/class/dmi/id/product_name", "Zenbook S 16 UM5606WA\n")
    write(root, "/dev/accel/accel0", "")
    return root


def other_arm64_board(root: Path) -> Path:
    _common(root, "Debian GNU/Linux 12 (bookworm)")
    write(root, "/proc/device-tree/model", b"Radxa ROCK 5B\x00")
    write(root, "/proc/cpuinfo", _arm_cpuinfo(A76_FEATURES, "0xd0b", 8))
    return root
