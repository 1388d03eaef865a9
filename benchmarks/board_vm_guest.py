"""The guest half of benchmarks/board_vm.py: runs inside the arm64 VM as part of its init, with the
agent's own Python (/opt/edge-agent/bin/python, the .deb's venv), and prints one `EDGE-BENCH {json}`
line per finding on the console, where the host reads them.

In /srv/bench (copied in by the host): runs.json (the agent runs: name, model path, model block,
preprocess/postprocess or none for a bundle), demo.avi and the models. Inside: the loopback interface
brought up, a Mosquitto on 127.0.0.1, and per run the real `edge-agent run --until-done` on the video
with the board's hardware profile, its peak RSS (VmHWM) sampled from /proc as the guest kernel counts
it, and the results counted by a subscriber. Then, with `--probe` on the host, bare sessions opened
with the agent's own session options (`probes` in runs.json: model, profile, intra-op threads,
session config entries laid over the agent's), each in a fresh process: its peak above the imports
and one run's rise above its steady state. Then the import table, as benchmarks/pipeline.py prints
it, from this machine's aarch64 libraries.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(sys.argv[1] if len(sys.argv) > 1 else "/srv/bench")
PORT = 1883
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def emit(kind: str, body: dict[str, Any]) -> None:
    print("EDGE-BENCH " + json.dumps({"kind": kind, **body}), flush=True)


def loopback_up() -> None:
    """`ip link set lo up` without iproute2 (the root is debootstrap's minbase)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def start_broker(work: Path) -> subprocess.Popen[bytes]:
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {PORT} 127.0.0.1\nallow_anonymous true\nlog_dest none\n")
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)])
    for _ in range(600):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", PORT)) == 0:
                return proc
        time.sleep(0.1)
    raise RuntimeError("mosquitto did not start")


def status(pid: int) -> dict[str, float]:
    keys = {"VmHWM:": "hwm", "RssAnon:": "anon", "RssFile:": "file", "VmRSS:": "rss"}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {keys[p[0]]: int(p[1]) / 1024 for p in (ln.split() for ln in lines) if p and p[0] in keys}


def mappings(pid: int) -> dict[str, float]:
    """RSS by mapping at this moment (MB): each library by file name, `[heap]`, `[anon]` for the rest."""
    out: dict[str, float] = {}
    name = "[anon]"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split(maxsplit=5)
                if head and "-" in head[0] and not head[0].endswith(":"):
                    name = head[5].strip().rsplit("/", 1)[-1] if len(head) > 5 else "[anon]"
                elif head and head[0] == "Rss:":
                    out[name] = out.get(name, 0.0) + int(head[1]) / 1024
    except OSError:
        return {}
    return out


def agent_run(run: dict[str, Any], frames: int, work: Path) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    name = run["name"]
    state = work / name
    state.mkdir(parents=True)
    pipe: dict[str, Any] = {
        "source": {"kind": "video", "path": str(BENCH / "demo.avi")},
        "model": {"path": str(BENCH / run["model"]), **run.get("model_block", {})},
    }
    for block in ("preprocess", "postprocess"):
        if run.get(block):
            pipe[block] = run[block]
    cfg = {
        "device": {"id": "board", "state_dir": str(state / "state"), "hardware_profile": run["profile"]},
        "mqtt": {"host": "127.0.0.1", "port": PORT},
        "log_level": "info",
        "pipelines": {"orient": pipe},
    }
    (state / "agent.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    got: list[int] = []
    done = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        got.append(json.loads(msg.payload)["frame"])
        if len(got) >= frames:
            done.set()

    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect("127.0.0.1", PORT)
    sub.subscribe("edge/board/orient/results", qos=1)
    sub.loop_start()
    subscribed.wait(60)
    t0 = time.monotonic()
    log = (state / "agent.log").open("w")
    proc = subprocess.Popen(
        ["/opt/edge-agent/bin/edge-agent", "run", "-c", str(state / "agent.yaml"), "--until-done"],
        stderr=log,
    )
    peak: dict[str, float] = {}
    maps: dict[str, float] = {}
    hwm = 0.0
    while True:
        mem = status(proc.pid)
        hwm = max(hwm, mem.get("hwm", 0.0))
        if mem.get("rss", 0.0) > peak.get("rss", 0.0):
            peak = mem  # the anonymous/file split at the largest sample
            maps = mappings(proc.pid) or maps
        if done.wait(0.05) or proc.poll() is not None:
            break
    hwm = max(hwm, status(proc.pid).get("hwm", 0.0))
    rc = proc.wait(600)
    done.wait(30)
    sub.loop_stop()
    log.close()
    text = (state / "agent.log").read_text()
    layout = next((ln.split(": ", 1)[1] for ln in text.splitlines() if "worker(s)" in ln), "?")
    return {
        "name": name,
        "rss_mb": hwm,
        "anon_mb": peak.get("anon", 0.0),
        "file_mb": peak.get("file", 0.0),
        "results": len(got),
        "frames": frames,
        "in_order": got == sorted(got),
        "rc": rc,
        "layout": layout,
        "top_mappings": sorted(maps.items(), key=lambda kv: -kv[1])[:12],
        "wall_s": time.monotonic() - t0,
        "log_tail": text[-1500:] if rc else "",
    }


# One session in a fresh process, opened as the agent opens it (session_options for the model block and
# the profile, glibc's arenas capped as `edge-agent run` caps them), then `config` laid over it.
PROBE = """
import json, sys
from pathlib import Path
import numpy as np, onnxruntime as ort
from edge_agent.cli.run import limit_malloc_arenas
from edge_agent.hardware.profile import load_profile
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import session_options

def mem():
    rows = dict(ln.split(":", 1) for ln in Path("/proc/self/status").read_text().splitlines())
    return {k: int(rows[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}

v = json.loads(sys.argv[1])
limit_malloc_arenas()
base = mem()["VmRSS"]
so = session_options(ModelConfig(path=v["model"], intra_op_threads=v["intra"]), load_profile(v["profile"]))
for key, value in v["config"].items():
    so.add_session_config_entry(key, value)
sess = ort.InferenceSession(v["model"], so, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
x = np.random.default_rng(0).random([d if isinstance(d, int) else 1 for d in inp.shape], dtype=np.float32)
for _ in range(2):
    sess.run(None, {inp.name: x})
steady = mem()["VmRSS"]
Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from the RSS of now
for _ in range(3):
    sess.run(None, {inp.name: x})
print(json.dumps({"peak_mb": mem()["VmHWM"] - base, "run_rise_mb": mem()["VmHWM"] - steady}))
"""


def probe(p: dict[str, Any]) -> dict[str, Any]:
    spec = {"intra": 3, "config": {}, **p, "model": str(BENCH / p["model"])}
    cmd = ["/opt/edge-agent/bin/python", "-c", PROBE, json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return {"name": p["name"], **json.loads(out.stdout)}


def import_table(modules: list[str]) -> list[tuple[str, float]]:
    """The same table as benchmarks/pipeline.py's import_rss, from the agent's venv in this guest."""
    code = (
        "import importlib\n"
        "def rss():\n"
        "    line = next(x for x in open('/proc/self/status') if x.startswith('VmRSS'))\n"
        "    return int(line.split()[1]) / 1024\n"
        "out = [('python', rss())]\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m); out.append((m, rss()))\n"
        "print(out)\n"
    )
    python = "/opt/edge-agent/bin/python"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    rows: list[tuple[str, float]] = ast.literal_eval(out.stdout)
    return [(m, b - (rows[i - 1][1] if i else 0.0)) for i, (m, b) in enumerate(rows)]


def machine() -> dict[str, Any]:
    mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    return {
        "machine": os.uname().machine,
        "kernel": os.uname().release,
        "cores": os.cpu_count(),
        "mem_total_mb": int(mem.split()[1]) / 1024,
        "page_size": os.sysconf("SC_PAGE_SIZE"),
    }


def main() -> None:
    spec = json.loads((BENCH / "runs.json").read_text())
    emit("machine", machine())
    loopback_up()
    work = Path("/tmp/bench")
    work.mkdir(parents=True, exist_ok=True)
    broker = start_broker(work)
    try:
        for run in spec["runs"]:
            try:
                emit("run", agent_run(run, spec["frames"], work))
            except Exception as exc:  # report it and go on to the next run
                emit("error", {"name": run["name"], "error": repr(exc)})
        for p in spec.get("probes", []):
            try:
                emit("probe", probe(p))
            except subprocess.CalledProcessError as exc:
                emit("error", {"name": p["name"], "error": exc.stderr[-1500:]})
        emit("imports", {"rows": import_table(spec["imports"])})
    finally:
        broker.terminate()
        broker.wait(30)
    emit("done", {})


if __name__ == "__main__":
    main()
