"""`edge-agent demo`: a real model on a real video, results printed as a separate MQTT subscriber gets them.

Starts Mosquitto if it is installed (else an embedded amqtt broker, MQTT 3.1.1), writes a video of
real photographs and scanned pages shown at four rotations, runs the OriNet document-orientation
classifier on it through the full agent (outbox, QoS 1), and prints each result on arrival. All of it
lives in one temporary folder that is removed on exit, Ctrl-C and SIGTERM included (`--keep` keeps it).

`--log-triage --bundle DIR` runs the log-triage demo instead (edge_agent/demo/logtriage.py): a device
log replayed line by line into a text pipeline on an SLM bundle, each line printed beside the compact
result that arrives over MQTT, then raw text bytes against bytes published.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.demo.logtriage import (
    PIPELINE,
    TriagePrinter,
    TriageRun,
    bundle_labels,
    read_log,
    sample_log,
    triage_pipeline,
)
from edge_agent.demo.video import LABELS
from edge_agent.errors import EdgeAgentError
from edge_agent.topics import pipeline_topic


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run a real model on a real video and watch results arrive over MQTT")
    p.add_argument("--broker", default=None, help="use this broker (host:port) instead of starting one")
    p.add_argument("--protocol", choices=["5", "3.1.1"], default=None, help="MQTT version for --broker")
    p.add_argument("--fps", type=float, default=10.0, help="pace of the video (0: as fast as possible)")
    p.add_argument("--frames-per-view", type=int, default=3, help="frames per image and rotation")
    p.add_argument("--loop", action="store_true", help="play the video again and again until Ctrl-C")
    p.add_argument("--json", action="store_true", help="print received payloads as JSON lines")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary folder with the video and the agent's state (removed on exit otherwise)",
    )
    t = p.add_argument_group("log triage (a small language model on device log lines)")
    t.add_argument("--log-triage", action="store_true", help="run the log-triage demo instead of the video")
    t.add_argument(
        "--bundle", type=Path, help="the SLM bundle (task slm); scripts/demo --log-triage builds one"
    )
    t.add_argument("--extract", action="store_true", help="answer with the JSON object, not a label")
    t.add_argument("--log", type=Path, help="log file to replay (default: the shipped sample device log)")
    t.add_argument("--rate", type=float, default=2.0, help="lines per second (0: as fast as the model goes)")
    t.add_argument("--threads", type=int, default=0, help="model intra-op threads (0: the runtime's choice)")
    p.set_defaults(func=handle)


def _config(workdir: Path, video: Path, model: Path, mqtt_cfg: dict[str, Any], args: Any) -> Any:
    from edge_agent.config.models import AgentConfig

    return AgentConfig.model_validate(
        {
            "device": {"id": "demo-device", "state_dir": str(workdir / "state")},
            "mqtt": mqtt_cfg,
            "stats_interval_s": 5,
            "pipelines": {
                "orientation": {
                    "source": {
                        "kind": "video",
                        "path": str(video),
                        "fps": args.fps or None,
                        "loop": args.loop,
                    },
                    "model": {"path": str(model), "id": "orinet-orientation"},
                    "preprocess": {
                        "resize": "letterbox",
                        "pad_value": 255,
                        "color": "rgb",
                        "mean": [0.485, 0.456, 0.406],
                        "std": [0.229, 0.224, 0.225],
                    },
                    "postprocess": {"kind": "classification", "labels": list(LABELS), "top_k": 1},
                }
            },
        }
    )


class _Printer:
    """The separate subscriber's view: one line per result as it arrives, then a summary."""

    def __init__(self, truth: list[str], as_json: bool, loop: bool) -> None:
        self.truth = truth
        self.as_json = as_json
        self.loop = loop
        self.results: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.got_all = threading.Event()

    def on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        body = json.loads(msg.payload)
        self.results.append(body)
        self.sizes.append(len(msg.payload))
        if self.as_json:
            print(msg.payload.decode(), flush=True)
        else:
            top = body["output"]["top"][0]
            want = self.truth[body["frame"] % len(self.truth)]
            mark = "ok " if top["label"] == want else "MISS"
            print(
                f"seq {body['seq']:>4}  {top['label']:<15} {top['score']:.3f}  truth {want:<15} {mark}"
                f"  {body['latency_ms']:6.1f} ms  {len(msg.payload)} B",
                flush=True,
            )
        if not self.loop and len(self.results) >= len(self.truth):
            self.got_all.set()

    def summary(self, elapsed: float, raw_bytes: int) -> str:
        right = sum(
            r["output"]["top"][0]["label"] == self.truth[r["frame"] % len(self.truth)] for r in self.results
        )
        mean = sum(self.sizes) / len(self.sizes) if self.sizes else 0.0
        return (
            f"\n{len(self.results)} results received over MQTT in {elapsed:.1f}s; "
            f"{right}/{len(self.results)} orientations right; {mean:.0f} bytes per result vs "
            f"{raw_bytes} bytes per raw frame ({raw_bytes / max(mean, 1.0):.0f}x less)"
        )


def _subscribe(host: str, port: int, protocol: str, printer: _Printer | TriagePrinter) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    sub = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="edge-agent-demo-subscriber",
        protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
    )
    sub.on_message = printer.on_message
    sub.on_connect = lambda c, *_a: c.subscribe(pipeline_topic("edge", "demo-device", "+", "results"), qos=1)
    try:
        sub.connect(host, port)
    except OSError as exc:
        raise EdgeAgentError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
    sub.loop_start()
    return sub


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.log_triage and args.bundle is None:
        return "--log-triage needs --bundle DIR (an SLM bundle; scripts/demo --log-triage builds one)"
    if not args.log_triage and (args.bundle or args.extract or args.log):
        return "--bundle, --extract and --log go with --log-triage"
    if args.rate < 0:
        return f"--rate: expected lines per second >= 0, got {args.rate}"
    return None


class _Signals:
    """SIGINT/SIGTERM while the demo sets up raise KeyboardInterrupt (so every `finally` runs); while the
    agent runs they ask it to stop and print the summary; during clean-up they are ignored."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.phase = "setup"
        self.signum = signal.SIGINT.value
        self._previous: dict[int, Any] = {}

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signum = signum
        self.stop.set()
        if self.phase == "setup":
            raise KeyboardInterrupt

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def handle(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        print(f"edge-agent demo: {problem}", file=sys.stderr)
        return 2
    # Everything the demo writes (video, outbox, sequence numbers, Mosquitto's config) lives in one
    # temporary folder, removed on every exit path unless --keep.
    signals = _Signals()
    signals.install()
    workdir = Path(tempfile.mkdtemp(prefix="edge-agent-demo-"))
    try:
        if args.log_triage:
            return _run_log_triage(args, workdir, signals)
        return _run(args, workdir, signals)
    except KeyboardInterrupt:
        print(f"\ninterrupted ({signal.Signals(signals.signum).name})", file=sys.stderr)
        return 128 + signals.signum
    finally:
        signals.phase = "cleanup"
        if args.keep:
            print(f"kept:   {workdir} ({'' if args.log_triage else 'demo.avi, '}state/)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        signals.restore()


def _broker(args: argparse.Namespace, workdir: Path) -> tuple[Any, tuple[str, int, str]]:
    """The broker the demo talks to: --broker, else Mosquitto or the embedded one started here (the
    started broker is returned so the caller stops it)."""
    from edge_agent.demo.broker import start_local_broker

    if args.broker:
        host, _, port_s = args.broker.rpartition(":")
        if not port_s.isdigit():
            raise EdgeAgentError(f"--broker: expected host:port, got {args.broker!r}")
        return None, (host or "127.0.0.1", int(port_s), args.protocol or "5")
    (workdir / "broker").mkdir()
    broker = start_local_broker(workdir=workdir / "broker")
    print(f"broker: {broker.kind} on 127.0.0.1:{broker.port} (MQTT {broker.protocol})")
    return broker, ("127.0.0.1", broker.port, broker.protocol)


def _serve(
    args: argparse.Namespace,
    workdir: Path,
    signals: _Signals,
    printer: _Printer | TriagePrinter,
    *,
    show: Callable[[], None],
    config: Callable[[dict[str, Any]], Any],
    pipeline: str,
) -> float:
    """Broker, subscriber, then the agent with `config(mqtt)` until every result is back, Ctrl-C, or
    (if the broker lost some) a minute after start once the input ended; everything it started is
    stopped on the way out. `show` prints what runs. Returns the seconds the agent ran."""
    from edge_agent.agent import Agent

    broker: Any = None
    sub: Any = None
    agent: Agent | None = None
    t0 = time.monotonic()
    try:
        broker, (host, port, protocol) = _broker(args, workdir)
        show()
        sub = _subscribe(host, port, protocol, printer)
        signals.phase = "running"  # from here a signal stops the agent and the summary still prints
        agent = Agent(config({"host": host, "port": port, "protocol": protocol}))
        t0 = time.monotonic()
        agent.start()
        pipe = agent.pipelines[pipeline]
        if pipe.state == "failed":
            raise EdgeAgentError(f"demo pipeline failed: {pipe.error}")
        while not signals.stop.is_set() and not printer.got_all.wait(0.2):
            if pipe.finished.is_set() and agent.outbox.depth == 0 and time.monotonic() - t0 > 60:
                break
    finally:
        signals.phase = "cleanup"
        if agent is not None:
            agent.stop(drain_s=2.0)
        if sub is not None:
            sub.loop_stop()
            sub.disconnect()
        if broker is not None:
            broker.stop()
    return time.monotonic() - t0


def _run(args: argparse.Namespace, workdir: Path, signals: _Signals) -> int:
    from edge_agent.demo.video import SIZE, make_demo_video, orientation_model_path

    try:
        model = orientation_model_path()
    except FileNotFoundError as exc:
        raise EdgeAgentError(str(exc)) from exc
    fps = args.fps or 10.0
    video = workdir / "demo.avi"
    truth = make_demo_video(video, frames_per_view=args.frames_per_view, fps=fps)

    def show() -> None:
        pace = f"{args.fps:g} fps" if args.fps else "as fast as it decodes"
        print(f"video:  {len(truth)} frames of real images at 4 rotations, {pace}")
        print(f"model:  {model.name} (OriNet document orientation, ONNX Runtime)\n")

    printer = _Printer(truth, args.json, args.loop)
    elapsed = _serve(
        args,
        workdir,
        signals,
        printer,
        show=show,
        config=lambda m: _config(workdir, video, model, m, args),
        pipeline="orientation",
    )
    print(printer.summary(elapsed, SIZE[0] * SIZE[1] * 3))
    return 0 if printer.results and (args.loop or len(printer.results) >= len(truth)) else 1


def _run_log_triage(args: argparse.Namespace, workdir: Path, signals: _Signals) -> int:
    from edge_agent.config.models import AgentConfig

    task = "extract" if args.extract else "classify"
    labels = bundle_labels(args.bundle, task)
    run = TriageRun(
        log=args.log or sample_log(),
        bundle=args.bundle,
        task=task,
        rate=args.rate or None,
        loop=args.loop,
        threads=args.threads,
    )
    lines = read_log(run.log)
    if not lines:
        raise EdgeAgentError(f"--log {run.log}: no lines to triage")

    def show() -> None:
        pace = f"{args.rate:g} lines/s" if args.rate else "as fast as the model goes"
        print(f"log:    {run.log.name}, {len(lines)} lines, {pace}")
        what = f"labels {', '.join(labels)}" if task == "classify" else "JSON under the bundle's schema"
        print(f"model:  {run.bundle} ({task}: {what}; onnxruntime-genai)\n")

    def config(mqtt_cfg: dict[str, Any]) -> Any:
        return AgentConfig.model_validate(
            {
                "device": {"id": "demo-device", "state_dir": str(workdir / "state")},
                "mqtt": mqtt_cfg,
                "stats_interval_s": 5,
                "pipelines": {PIPELINE: triage_pipeline(run)},
            }
        )

    printer = TriagePrinter(lines, args.json, args.loop)
    elapsed = _serve(args, workdir, signals, printer, show=show, config=config, pipeline=PIPELINE)
    print(printer.summary(elapsed))
    return 0 if printer.results and (args.loop or len(printer.results) >= len(lines)) else 1
