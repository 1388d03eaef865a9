"""The Raspberry Pi Zero 2 W's RSS budget measured on arm64: the agent with one camera pipeline, in a
virtual machine with the board's 512 MB, 4 Cortex-A53 cores and an arm64 kernel, running the
aarch64 wheels the .deb installs (scripts/arm64/vm.sh boots it; root only).

benchmarks/pipeline.py measures the same runs on this x86 host, where the libraries are x86 builds
(numpy's OpenBLAS and ONNX Runtime carry kernels for many x86 generations) and the kernel is the
host's: it is the figure of the machine the benchmark runs on, not of the board. Here the code mapped
and the memory counted are those of the board's binaries and of an arm64 Linux kernel (Debian
bookworm's 6.1, 4 KiB pages as on Raspberry Pi OS for that board), booted fresh, so nothing is in
the page cache. Under emulation results and memory are exact and speed is not: no timings are
reported.

Two runs, as in benchmarks/pipeline.py (c): the fp32 OriNet .onnx, and the signed int8 bundle the
exporter builds for rpi-zero-2w with its public key trusted (what such a device runs); then the
import table from the guest's Python beside this host's. Prints a table and saves
benchmarks/out/board_vm.png.

`--probe` adds bare sessions opened with the agent's own options (fp32, every conv int8, the zero's
bundle with body.3 in float, that bundle with ORT's WeightBiasQuantization left on, one thread): the
peak above the imports, each in a fresh process, as docs/deploy.md quotes it.

    .venv/bin/python benchmarks/board_vm.py [--frames-per-view 1] [--probe]

Cold, it builds the VM's root (the agent root with a kernel and Mosquitto added: minutes); warm, it
boots the cached image. The run itself takes minutes (every instruction emulated).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pipeline as bp

from edge_agent.bundle.graph import DISABLE_OPTIMIZERS_KEY
from edge_agent.demo.video import make_demo_video, orientation_model_path

VM = Path(__file__).resolve().parents[1] / "scripts" / "arm64" / "vm.sh"
GUEST = Path(__file__).with_name("board_vm_guest.py")


def probes(work: Path, d: Path) -> list[dict[str, Any]]:
    """The bare-session probe's variants (docs/deploy.md, "The small board's memory on arm64"): fp32,
    the rpi4 recipe's int8 (every conv int8: the zero's recipe without its conv workspace), the zero's
    bundle (body.3 in float), the same with ORT's WeightBiasQuantization left on, and one thread."""
    every, _ = bp.board_bundle(work / "rpi4-bundle", target="rpi4")
    shutil.copyfile(every / "model.onnx", d / "int8-every-conv.onnx")
    zero = {"profile": bp.SMALL_BOARD}
    return [
        {"name": "fp32", "model": "orinet.onnx", **zero},
        {"name": "int8, every conv int8", "model": "int8-every-conv.onnx", **zero},
        {"name": "int8, body.3 float (the zero's bundle)", "model": "bundle/model.onnx", **zero},
        {
            "name": "the same, ORT's WeightBiasQuantization on",
            "model": "bundle/model.onnx",
            "config": {DISABLE_OPTIMIZERS_KEY: ""},
            **zero,
        },
        {
            "name": "int8, every conv int8, 1 intra-op thread",
            "model": "int8-every-conv.onnx",
            "intra": 1,
            **zero,
        },
    ]


def job(work: Path, frames_per_view: int, probe: bool = False) -> tuple[Path, int]:
    """The folder the guest mounts as /srv/bench: its script, the video, both models, the runs."""
    d = work / "job"
    d.mkdir(parents=True)
    frames = len(make_demo_video(d / "demo.avi", frames_per_view=frames_per_view))
    shutil.copyfile(orientation_model_path(), d / "orinet.onnx")
    bundle, pub = bp.board_bundle(work / "board-bundle")
    shutil.copytree(bundle, d / "bundle")
    shutil.copyfile(pub, d / "release.pub")
    shutil.copyfile(GUEST, d / "guest.py")
    (d / "run.sh").write_text("exec /opt/edge-agent/bin/python /srv/bench/guest.py /srv/bench\n")
    fp32 = {
        "name": "fp32",
        "model": "orinet.onnx",
        "profile": bp.SMALL_BOARD,
        "preprocess": bp.PRE,
        "postprocess": {"kind": "classification", "top_k": 1},
    }
    signed = {
        "name": "signed-int8",
        "model": "bundle",
        "profile": bp.SMALL_BOARD,
        "model_block": {"trusted_keys": ["/srv/bench/release.pub"]},
    }
    spec: dict[str, Any] = {"frames": frames, "runs": [fp32, signed], "imports": bp.IMPORTS}
    if probe:
        spec["probes"] = probes(work, d)
    (d / "runs.json").write_text(json.dumps(spec, indent=1))
    return d, frames


def findings(console: str) -> list[dict[str, Any]]:
    out = []
    for line in console.splitlines():
        _, sep, body = line.partition("EDGE-BENCH ")
        if sep:
            out.append(json.loads(body))
    return out


def table(found: list[dict[str, Any]], host_imports: list[tuple[str, float]]) -> None:
    m = next(f for f in found if f["kind"] == "machine")
    print(
        f"guest: {m['machine']}, kernel {m['kernel']}, {m['cores']} cores, {m['mem_total_mb']:.0f} MB "
        f"visible to the kernel, {m['page_size'] // 1024} KiB pages"
    )
    what = {"fp32": "the fp32 .onnx, no key", "signed-int8": "its signed int8 bundle"}
    print(f"\n| agent on {bp.SMALL_BOARD}, arm64 | peak RSS | private / file-backed | results | layout |")
    print("|---|---|---|---|---|")
    for f in found:
        if f["kind"] == "error":
            print(f"| {what.get(f['name'], f['name'])} | error: {f['error']} | | | |")
        if f["kind"] != "run":
            continue
        ok = "within" if f["rss_mb"] <= bp.RSS_BUDGET_MB else "over"
        print(
            f"| {what[f['name']]} | **{f['rss_mb']:.1f} MB** ({ok} {bp.RSS_BUDGET_MB:.0f}) "
            f"| {f['anon_mb']:.0f} / {f['file_mb']:.0f} MB | {f['results']}/{f['frames']}"
            f"{'' if f['in_order'] else ' out of order'} | {f['layout']} |"
        )
        if f["rc"]:
            print(f"agent exit {f['rc']}:\n{f['log_tail']}")
    for f in found:
        if f["kind"] == "run" and f.get("top_mappings"):
            top = ", ".join(f"{name} {mb:.1f}" for name, mb in f["top_mappings"])
            print(f"\n{what[f['name']]}, RSS by mapping at the largest sample (MB): {top}")
    probed = [f for f in found if f["kind"] == "probe"]
    if probed:
        print(
            "\n| bare OriNet session, the agent's options on rpi-zero-2w | peak above imports | run's rise |"
        )
        print("|---|---|---|")
        for f in probed:
            print(f"| {f['name']} | {f['peak_mb']:.1f} MB | {f['run_rise_mb']:.1f} MB |")
    guest = dict(next(f for f in found if f["kind"] == "imports")["rows"])
    print("\nwhere the agent's memory goes at import (MB of RSS, in import order)")
    print(f"  {'':<28} {'arm64':>6} {'x86 host':>9}")
    for mod, mb in host_imports:
        print(f"  {mod:<28} {guest.get(mod, float('nan')):6.1f} {mb:9.1f}")
    print(f"  {'total':<28} {sum(guest.values()):6.1f} {sum(mb for _, mb in host_imports):9.1f}")


def plot(found: list[dict[str, Any]], host_imports: list[tuple[str, float]]) -> None:
    bp.OUT.mkdir(exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [f for f in found if f["kind"] == "run"]
    guest = dict(next(f for f in found if f["kind"] == "imports")["rows"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.barh([r["name"] for r in runs], [r["rss_mb"] for r in runs], color="#2a7")
    ax1.axvline(bp.RSS_BUDGET_MB, color="#c33", linestyle="--", label=f"budget {bp.RSS_BUDGET_MB:.0f} MB")
    ax1.set_xlabel("peak RSS (MB), arm64 VM, 512 MB, 4 x Cortex-A53")
    ax1.legend()
    mods = [m for m, _ in host_imports]
    y = range(len(mods))
    ax2.barh([i + 0.2 for i in y], [guest.get(m, 0.0) for m in mods], height=0.4, label="arm64", color="#2a7")
    ax2.barh([i - 0.2 for i in y], [mb for _, mb in host_imports], height=0.4, label="x86 host", color="#888")
    ax2.set_yticks(list(y), mods)
    ax2.set_xlabel("MB of RSS added at import")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(bp.OUT / "board_vm.png", dpi=100)
    print(f"\nplot: {bp.OUT / 'board_vm.png'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--frames-per-view", type=int, default=1, help="frames per image and rotation (12 of each)"
    )
    ap.add_argument("--keep", type=Path, help="also copy the guest's console log here")
    ap.add_argument("--probe", action="store_true", help="also the bare-session memory probe (a few minutes)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-board-vm-"))
    d, frames = job(work, args.frames_per_view, args.probe)
    console = work / "console.log"
    print(f"{frames} frames per run; booting the VM (console: {console})", flush=True)
    proc = subprocess.run([str(VM), "--run", str(d), str(console)], check=False)
    text = console.read_text(errors="replace") if console.exists() else ""
    if args.keep:
        shutil.copyfile(console, args.keep)
    found = findings(text)
    if proc.returncode or not any(f["kind"] == "done" for f in found):
        sys.exit(f"the VM run failed (rc {proc.returncode}); the console's end:\n{text[-3000:]}")
    host_imports = bp.import_rss()
    table(found, host_imports)
    plot(found, host_imports)


if __name__ == "__main__":
    main()
