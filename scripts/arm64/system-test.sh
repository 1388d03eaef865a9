#!/usr/bin/env bash
# The arm64 system test: this checkout's .deb built and installed in an emulated Debian bookworm
# arm64 root (agent-root.sh), then inside it `edge-agent doctor` on a Raspberry Pi 5 device tree and
# the agent on the demo video with the demo model, publishing to a Mosquitto on the host's 127.0.0.1,
# the results received on the host. Root only (chroot, mounts, binfmt_misc).
#
# Usage: scripts/arm64/system-test.sh [--port PORT] [--out DIR] [--keep]
#   --port PORT  publish to the broker already listening on 127.0.0.1:PORT (default: start Mosquitto)
#   --out DIR    where the findings go (default: a new folder under /tmp, printed at the end):
#                machine.txt (uname -m, platform.machine() inside), doctor.json and doctor.rc,
#                truth.txt (the video's true label per frame), results.jsonl (what the host received),
#                agent.log and agent.rc
#   --keep       keep the working root (default: removed on exit)
# Environment: EDGE_ARM64_PYTHON, the host Python with the demo extra that writes the video and the
# fake device tree (default: the checkout's .venv/bin/python); EDGE_ARM64_FRAMES_PER_VIEW (default 1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="" out="" keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "system-test: unknown argument $1" >&2; exit 2 ;;
    esac
done
py="${EDGE_ARM64_PYTHON:-$repo/.venv/bin/python}"
# One frame per image and rotation (12): emulated inference takes seconds a frame, tens on a busy host.
frames_per_view="${EDGE_ARM64_FRAMES_PER_VIEW:-1}"
log() { echo "arm64-system-test: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "needs root (chroot, mount, binfmt_misc)"; exit 3; }

out="${out:-$(mktemp -d /tmp/edge-arm64-test.XXXXXX)}"
mkdir -p "$out"
work="$(mktemp -d /var/tmp/edge-arm64-root.XXXXXX)"
broker_pid="" sub_pid=""
cleanup() {
    [ -z "$sub_pid" ] || kill "$sub_pid" 2>/dev/null || true
    [ -z "$broker_pid" ] || kill "$broker_pid" 2>/dev/null || true
    if [ "$keep" = 1 ]; then log "kept $work/root"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
root="$("$here/agent-root.sh" "$work/root")"
log "agent root ready in $(( $(date +%s) - t0 ))s"
run_in() { nice -n 10 "$here/in-root.sh" "$root" -- "$@"; }

# What the emulated machine says it is, from the kernel's view and from the agent's own Python.
{ run_in uname -m; run_in /opt/edge-agent/bin/python -c 'import platform; print(platform.machine())'; } \
    > "$out/machine.txt"

# doctor reads /proc, /sys, /dev and /etc under --root: a Raspberry Pi 5's, from the doctor tests.
PYTHONPATH="$repo" "$py" -c 'import sys; from pathlib import Path
from tests.doctor.fake_trees import pi5
pi5(Path(sys.argv[1]))' "$root/srv/pi5"
set +e
run_in /opt/edge-agent/bin/edge-agent doctor --json --root /srv/pi5 > "$out/doctor.json" 2> "$out/doctor.err"
echo $? > "$out/doctor.rc"
set -e

# The demo's video and model, made on the host (the demo extra lives there) and copied in.
mkdir -p "$root/srv/demo"
PYTHONPATH="$repo" "$py" -c 'import shutil, sys; from pathlib import Path
from edge_agent.demo.video import make_demo_video, orientation_model_path
d = Path(sys.argv[1])
truth = make_demo_video(d / "demo.avi", frames_per_view=int(sys.argv[3]))
Path(sys.argv[2]).write_text("\n".join(truth) + "\n")
shutil.copyfile(orientation_model_path(), d / "orinet.onnx")' "$root/srv/demo" "$out/truth.txt" "$frames_per_view"
frames="$(wc -l < "$out/truth.txt")"

if [ -z "$port" ]; then
    port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest none\n' "$port" > "$work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" & broker_pid=$!
    for _ in $(seq 50); do mosquitto_sub -p "$port" -t probe -E 2>/dev/null && break; sleep 0.1; done
fi

# The LABELS, preprocessing and postprocessing of `edge-agent demo` (edge_agent/cli/demo_cmd.py).
cat > "$root/srv/demo/agent.yaml" <<EOF
device: {id: arm64-test, state_dir: /srv/demo/state}
mqtt: {host: 127.0.0.1, port: $port}
pipelines:
  orientation:
    source: {kind: video, path: /srv/demo/demo.avi}
    model: {path: /srv/demo/orinet.onnx, id: orinet-orientation}
    preprocess:
      resize: letterbox
      pad_value: 255
      color: rgb
      mean: [0.485, 0.456, 0.406]
      std: [0.229, 0.224, 0.225]
    postprocess:
      kind: classification
      labels: [upright, rotated_90_cw, rotated_180, rotated_270_cw]
      top_k: 1
EOF

# A persistent QoS 1 session on the host, subscribed before the agent starts: nothing it publishes
# is missed however fast or slow the emulated agent comes up.
topic="edge/arm64-test/orientation/results"
sub=(mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i "arm64-system-test-$$" -t "$topic")
"${sub[@]}" -E
"${sub[@]}" -C "$frames" -W 2400 > "$out/results.jsonl" & sub_pid=$!

t1=$(date +%s)
set +e
run_in timeout 2400 /opt/edge-agent/bin/edge-agent run -c /srv/demo/agent.yaml --until-done \
    > "$out/agent.log" 2>&1
echo $? > "$out/agent.rc"
wait "$sub_pid"
echo $? > "$out/sub.rc"
set -e
sub_pid=""
log "agent ran $(( $(date +%s) - t1 ))s; $(wc -l < "$out/results.jsonl") of $frames results received"
log "findings in $out"
echo "$out"
