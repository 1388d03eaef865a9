"""One pipeline: capture thread → bounded queue → prep thread → 1-slot queue → infer worker(s) → outbox.

The prep thread gates and preprocesses the next frame while the infer workers run session.run on
earlier ones. ONNX Runtime and OpenCV release the GIL, so decode, resize and inference overlap on
separate cores. The 1-slot hand-off means a live source wastes at most one preprocessed frame when
the model is slower than the camera. How many workers share the session, and how many intra-op
threads each run has, is the pipeline's layout (edge_agent.pipeline.layout); the prep thread numbers
the frames it hands over and a reorder buffer (edge_agent.pipeline.reorder) passes results to
postprocess, events and the outbox in that order, one at a time.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from edge_agent.accounting.cpu import CpuAccounts
from edge_agent.config.models import PipelineConfig
from edge_agent.errors import EdgeAgentError
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.inference.stopper import RunCancelledError, RunStopper
from edge_agent.pipeline.kinds import kind_of
from edge_agent.pipeline.layout import Layout, plan, settle, shares, with_threads
from edge_agent.pipeline.reorder import Reorder
from edge_agent.sources.base import END, Capture
from edge_agent.sources.mqtt_input import OwnTopics, Subscribe
from edge_agent.stages.protocols import Gating, ModelInfo, Postprocess, Sink, Source, Stages
from edge_agent.stages.types import JSON, Frame, Letterbox, Outbound

log = logging.getLogger(__name__)

# On stop, how long a run in flight may finish on its own (its result kept) before it is cancelled.
STOP_GRACE_S = 0.5
# What a prepared frame carries instead of its pixels once its model input is made (read-only, shared).
NO_PIXELS: np.ndarray[Any, Any] = np.zeros((0, 0, 3), dtype=np.uint8)
NO_PIXELS.flags.writeable = False


@dataclass(slots=True)
class _Prepared:
    """A frame with its input tensor, handed from the prep thread to the infer thread."""

    frame: Frame
    tensor: np.ndarray[Any, Any]
    lb: Letterbox | None
    pre_s: float
    seq: int  # the order results leave in (the reorder buffer)


@dataclass(slots=True)
class _Ran:
    """A frame the model ran on, waiting in the reorder buffer for postprocess."""

    prep: _Prepared
    outputs: list[np.ndarray[Any, Any]]
    run_s: float


class Pipeline:
    """Owns one source, one model session and the worker that joins them. Its stages come from the
    pipeline's kind (edge_agent.pipeline.kinds) and are known here only by their protocols."""

    def __init__(
        self,
        name: str,
        cfg: PipelineConfig,
        put: Sink,
        *,
        profile: HardwareProfile | None = None,
        subscribe: Subscribe | None = None,
        own: OwnTopics | None = None,
        cores: int | None = None,
    ) -> None:
        self.name = name
        # This pipeline's share of the inference cores (the agent splits them); None: all of them.
        self.cores = cores
        self.subscribe = subscribe  # the agent's MQTT connection, for an `mqtt` sensor input
        self.own = own  # (prefix, device id), for inputs that read this device's own topics
        self.cfg = cfg
        self.put = put
        self.profile = profile
        self.kind = kind_of(cfg)
        self.source: Source | None = None
        self.gating: Gating | None = self.kind.gate(cfg.source, cfg.gate)
        self.stages: Stages | None = None
        self.model: ModelInfo | None = None
        self.accounts: CpuAccounts | None = None
        self.layout: Layout | None = None
        self.state = "stopped"
        self.error: str | None = None
        self.frames = 0
        self.inferred = 0
        self.skipped = 0
        self.failures = 0
        self.latencies: deque[float] = deque(maxlen=512)
        self.first_result_at: float | None = None
        self.last_frame: Frame | None = None  # kept only with publish.include_frame (`snapshot` command)
        self.started_at = 0.0
        self.finished = threading.Event()
        # Heartbeat per thread (prep, infer), refreshed on every queue wait: the systemd watchdog
        # (edge_agent/service/watchdog.py) stops pinging when one goes stale inside a stage.
        self.beats: dict[str, float] = {}
        self._queue: queue.Queue[object] = queue.Queue(maxsize=cfg.source.queue)
        self._ready: queue.Queue[object] = queue.Queue(maxsize=1)
        # On a low_memory profile: one input prepared ahead of the workers, taken before a frame is.
        self._slots: threading.Semaphore | None = None
        self._capture: Capture | None = None
        self._prep: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._live_workers = 0
        self._order: Reorder[_Ran] = Reorder(self._deliver)
        self._lock = threading.Lock()  # counters several workers update
        self._stop = threading.Event()
        # Every session.run of this pipeline (model, ensemble members, VAD) goes through it: a stop
        # cancels the run in flight instead of waiting for it or abandoning its thread.
        self._stopper = RunStopper()

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def post(self) -> Postprocess | None:
        return self.stages.postprocess if self.stages else None

    def load(self) -> None:
        """Open the model and build the stages up to the sink; raise a clear error if they do not fit."""
        cfg = self.cfg
        share = self.cores or shares({self.name: cfg}, self.profile)[self.name]
        layout = plan(cfg, share, low_memory=bool(self.profile and self.profile.low_memory))
        self.stages = self.kind.stages(self.name, with_threads(cfg, layout), self.profile, self._stopper)
        self.model = self.stages.model
        self.layout = settle(layout, self.stages.parallel, self.model.providers[0])
        log.info("pipeline %s: %s", self.name, self.layout.describe())
        if cfg.accounting is not None and cfg.accounting.enabled:
            watts = cfg.accounting.watts_per_busy_core or (
                self.profile.watts_per_busy_core if self.profile else 2.0
            )
            self.accounts = CpuAccounts(watts, self.layout.intra_op_threads)

    def start(self) -> None:
        """Load the model, then start capture and worker threads."""
        self.started_at = time.monotonic()
        self.state = "loading"
        try:
            if self.model is None:
                self.load()
            source = self.source or self.kind.source(self.cfg.source, self.name, self.subscribe, own=self.own)
        except EdgeAgentError as exc:
            self.state = "failed"
            self.error = str(exc)
            self.finished.set()
            raise
        self.source = source
        s = self.cfg.source
        set_here = isinstance(s, BaseModel) and "queue" in s.model_fields_set
        depth = queue_depth(s.queue, set_here, live=source.live, profile=self.profile)
        self._queue = queue.Queue(maxsize=depth)
        self._capture = Capture(source, self._queue, s.fps, s.retry_min_s, s.retry_max_s)
        self._ready = queue.Queue(maxsize=1)  # nothing left over from an earlier run (its end marker)
        low_memory = bool(self.profile and self.profile.low_memory)
        self._slots = threading.Semaphore(1) if low_memory else None
        self._order = Reorder(self._deliver)
        self._prep = threading.Thread(target=self._prepare, name=f"prep-{self.name}", daemon=True)
        workers = self.layout.workers if self.layout else 1
        names = [f"infer-{self.name}"] + [f"infer-{self.name}-{i}" for i in range(1, workers)]
        self._workers = [threading.Thread(target=self._work, name=n, daemon=True) for n in names]
        self._live_workers = workers
        self._stop.clear()
        self._stopper.reset()
        self.finished.clear()
        self.state = "running"
        self._capture.start()
        self._prep.start()
        for worker in self._workers:
            worker.start()

    def stop(self, timeout: float = 3.0, grace: float = STOP_GRACE_S) -> bool:
        """Stop the source, give the run in flight `grace` seconds to finish, cancel it (and any
        later one), and join the threads. True when every thread has ended within `timeout`."""
        deadline = time.monotonic() + timeout
        self.request_stop()
        self.wait_idle(min(grace, timeout))
        self.cancel_runs()
        return self.join(deadline)

    def request_stop(self) -> None:
        """Ask the capture, prep and infer threads to end (they finish the frame in hand)."""
        if self._capture is not None:
            self._capture.stop()
        if self.stages is not None and self.stages.interrupt is not None and self.source is not None:
            self.stages.interrupt(self.source)  # a source blocked in read() would outlive the join
        self._stop.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to `timeout` for the infer workers to end on their own (their runs finish)."""
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in self._workers)

    def cancel_runs(self) -> None:
        """Cancel the session.run in flight (ORT stops between nodes) and refuse further ones."""
        if self._stopper.stop():
            log.info("pipeline %s: in-flight inference cancelled for the stop", self.name)

    def join(self, deadline: float) -> bool:
        """Join prep, infer and capture threads until `deadline` (monotonic); True when all ended."""
        threads = [t for t in (self._prep, *self._workers) if t is not None]
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if self._capture is not None:
            self._capture.join(max(0.0, deadline - time.monotonic()))
            if self._capture.is_alive():
                alive.append(f"capture-{self.name}")
        if alive:
            log.warning("pipeline %s: thread(s) %s did not end in time", self.name, ", ".join(alive))
        if self.state == "running":
            self.state = "stopped"
        return not alive

    # -- the prep and infer threads -------------------------------------------------------------
    @property
    def beat(self) -> float:
        """The oldest heartbeat of the prep and infer threads (monotonic seconds)."""
        return min(list(self.beats.values()), default=time.monotonic())

    def _get(self, q: queue.Queue[object]) -> object:
        """Next item, or END once stop was asked and nothing is pending."""
        while True:
            self.beats[threading.current_thread().name] = time.monotonic()
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return END

    def _hand_over(self, item: object) -> bool:
        """Put `item` on the 1-slot queue to the workers; False when the stop came first."""
        while True:
            self.beats[threading.current_thread().name] = time.monotonic()
            try:
                self._ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                # On stop a frame is dropped; the end marker too once no worker is left to take it.
                if self._stop.is_set() and (item is not END or self._live_workers == 0):
                    return False

    def _take_slot(self) -> bool:
        """Wait for the workers' slot to be free (True), or for the stop (False)."""
        assert self._slots is not None
        while not self._slots.acquire(timeout=0.2):
            self.beats[threading.current_thread().name] = time.monotonic()
            if self._stop.is_set():
                return False
        return True

    def _prepare(self) -> None:
        """Gate and preprocess each frame on its own thread while the workers run the model. The
        prepared item keeps the frame's pixels only where `publish.include_frame` needs them: the
        model input is all a worker reads. On a `low_memory` profile a frame is taken only once the
        workers' slot is free, so one prepared input waits, not two (docs/pipelines.md, "Memory")."""
        assert self.stages is not None
        pre = self.stages.preprocess
        gate = self.gating.gate if self.gating is not None else None
        keep_pixels = self.cfg.publish.include_frame
        seq = 0
        holding = False  # a slot taken for the next item to hand over
        while True:
            if self._slots is not None and not holding:
                if not self._take_slot():
                    break
                holding = True
            item = self._get(self._queue)
            if item is END:
                break
            assert isinstance(item, Frame)
            self.frames += 1
            acc = self.accounts
            if gate is not None:
                with acc.stage("gate") if acc else contextlib.nullcontext():
                    go = gate(item)
                if not go:
                    self.skipped += 1
                    if acc:
                        acc.frame(inferred=False)
                    continue
            try:
                t0 = time.perf_counter()
                with acc.stage("preprocess") if acc else contextlib.nullcontext():
                    tensor, lb = pre(item.data)
            except Exception as exc:  # one bad frame must not kill the pipeline; it is counted and logged
                self._failed(item, exc)
                continue
            if not keep_pixels:
                item.data = NO_PIXELS  # a 640x480 frame is 0.9 MB, held until its result is out
            # Numbered only once handed over: a frame dropped on stop is never waited for.
            if self._hand_over(_Prepared(item, tensor, lb, time.perf_counter() - t0, seq)):
                seq += 1
                holding = False  # the worker that takes it gives the slot back
        self._hand_over(END)
        self.beats.pop(threading.current_thread().name, None)

    def _work(self) -> None:
        """One inference worker: runs the model on the next frame and reports it to the reorder
        buffer, which delivers results in frame order (on whichever worker completes the run)."""
        assert self.stages is not None
        input_name = self.stages.input_name
        while True:
            item = self._get(self._ready)
            if item is END:
                # The prep thread sends one end marker: pass it on to the next worker.
                with contextlib.suppress(queue.Full):
                    self._ready.put_nowait(END)
                break
            assert isinstance(item, _Prepared)
            if self._slots is not None:
                self._slots.release()  # the prep thread may make the next input now
            ran: _Ran | None = None
            try:
                ran = self._run(item, input_name)
            except RunCancelledError:  # the pipeline is stopping: the frame is dropped, not a failure
                pass
            except Exception as exc:  # same: count, log, carry on with the next frame
                self._failed(item.frame, exc)
            self._order.done(item.seq, ran)
        self.beats.pop(threading.current_thread().name, None)
        with self._lock:
            self._live_workers -= 1
            last = self._live_workers == 0
        if last:  # every frame handed over has been delivered: close episodes, then say finished
            self._flush_events()
            if self.state == "running":
                self.state = "finished" if not self._stop.is_set() else "stopped"
            self.finished.set()

    def _failed(self, frame: Frame, exc: Exception) -> None:
        with self._lock:
            self.failures += 1
        self.error = f"{type(exc).__name__}: {exc}"
        log.error("pipeline %s: frame %d failed: %s", self.name, frame.index, self.error)

    def _flush_events(self) -> None:
        """The source ended or stopped: close open episodes and tracks (speech end, object left)."""
        flush = self.stages.flush if self.stages else None
        if flush is not None and self.inferred:
            for event in flush(time.time()):
                self.put(Outbound(self.name, "events", {**event, "ts": round(event["ts"], 3)}, priority=2))

    def _run(self, prep: _Prepared, input_name: str) -> _Ran:
        """The model on one frame, on a worker's thread (several may run at once)."""
        stages = self.stages
        assert stages is not None
        acc = self.accounts
        t0 = time.perf_counter()
        with acc.stage("inference") if acc else contextlib.nullcontext():
            if stages.frame_session is not None:  # the model side reads the input's meta too (text)
                outputs = stages.frame_session.run_frame({input_name: prep.tensor}, prep.frame.meta)
            else:
                outputs = stages.session.run({input_name: prep.tensor})
        return _Ran(prep, outputs, time.perf_counter() - t0)

    def _deliver(self, ran: _Ran) -> None:
        """Postprocess, results and events of one frame, in frame order (the reorder buffer's lock)."""
        try:
            self._post(ran)
        except Exception as exc:  # a decoder that raises loses this frame only
            self._failed(ran.prep.frame, exc)

    def _post(self, ran: _Ran) -> None:
        stages = self.stages
        assert stages is not None
        prep = ran.prep
        frame = prep.frame
        if self.cfg.publish.include_frame:
            self.last_frame = frame
        acc = self.accounts
        t0 = time.perf_counter()
        with acc.stage("postprocess") if acc else contextlib.nullcontext():
            if stages.compare is not None:  # anomaly by reconstruction compares with the input
                output = stages.compare(ran.outputs, prep.lb, prep.tensor)
            else:
                output = stages.postprocess(ran.outputs, prep.lb)
        latency_ms = (time.perf_counter() - t0 + ran.run_s + prep.pre_s) * 1000.0
        self.inferred += 1
        self.latencies.append(latency_ms)
        if self.first_result_at is None:
            self.first_result_at = time.monotonic()
        ts = round(frame.ts, 3)
        if self.cfg.publish.results:
            body: JSON = {
                "ts": ts,
                "model": stages.model.model_id,
                "latency_ms": round(latency_ms, 2),
                "frame": frame.index,
                "output": output,
            }
            self.put(Outbound(self.name, "results", body, priority=1))
        if stages.events is not None:
            with acc.stage("events") if acc else contextlib.nullcontext():
                events = stages.events.update(output, frame.ts)
            for event in events:
                # An event's own ts (when the crossing happened) wins over the frame's.
                self.put(Outbound(self.name, "events", {"ts": ts, **event}, priority=2))
        if acc:
            acc.frame(inferred=True)

    # -- reporting -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        lat = np.array(self.latencies) if self.latencies else None
        return {
            "state": self.state,
            "error": self.error,
            "model": self.model.model_id if self.model else None,
            "provider": self.model.providers[0] if self.model else None,
            "frames": self.frames,
            "inferred": self.inferred,
            "skipped": self.skipped,
            "failures": self.failures,
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2) if lat is not None else None,
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 2) if lat is not None else None,
            "source": self._capture.status.as_dict() if self._capture else None,
            "threads": self.layout.as_json() if self.layout else None,
            **self._extra_stats(),
        }

    def _extra_stats(self) -> dict[str, Any]:
        """Gate, ensemble/cascade, event and CPU/energy counters, for the pipelines that have them."""
        extra: dict[str, Any] = {}
        if self.gating is not None and self.gating.counters is not None:
            extra["gate"] = self.gating.counters()
        for key, counters in (self.stages.counters if self.stages else {}).items():
            extra[key] = counters()
        if self.stages is not None and self.stages.source_counters is not None and self.source is not None:
            extra["input"] = self.stages.source_counters(self.source)
        if self.accounts is not None:
            extra["cpu"] = self.accounts.report()
        return extra


def queue_depth(configured: int, set_here: bool, *, live: bool, profile: HardwareProfile | None) -> int:
    """Items the capture thread may put ahead of the prep thread. Live sources keep only the newest (a
    one-slot queue, so nothing stale waits behind it). On a `low_memory` profile a file source keeps
    one too unless its `queue` is set: each waiting 640x480 frame is 0.9 MB, and a file's capture
    blocks on a full queue (nothing is dropped), so a deeper one only smooths decode."""
    if live:
        return 1
    if profile is not None and profile.low_memory and not set_here:
        return 1
    return configured
