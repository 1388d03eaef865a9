"""Model updates, end to end, in the background: fetch -> unpack -> verify -> canary -> swap -> apply ->
health window -> done, or roll back by itself. Every step is reported (`<prefix>/<device>/update`).

Nothing before `swap` touches what the pipeline runs; a failure after it points `current` back at the
previous bundle and re-applies it. Remote updates require trusted keys: an unsigned bundle, or one
signed by an unknown key, is refused at `verify`.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.bundle.archive import unpack
from edge_agent.bundle.packed import with_unpacked_bundle
from edge_agent.bundle.verify import Bundle, load_public_key, verify_bundle
from edge_agent.config.models import PipelineConfig
from edge_agent.errors import CommandError, EdgeAgentError, UpdateError
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import open_model
from edge_agent.remote.commands.control import AgentControl
from edge_agent.remote.update.canary import run_canary
from edge_agent.remote.update.fetch import UPLOAD_AREA, ChunkStore, fetch_url, is_upload_data
from edge_agent.remote.update.slots import Slots

log = logging.getLogger(__name__)
ReportFn = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class UpdatePolicy:
    health_window_s: float = 30.0
    max_failures: int = 0  # inference failures tolerated during the health window
    latency_budget_ms: float | None = None
    budget_factor: float = 3.0
    require_golden: bool = True
    extra_trusted_keys: list[Path] = field(default_factory=list)


@dataclass(slots=True)
class _Ctx:
    """Where one update is: the step now running and whether `current` already moved."""

    uid: str
    pipeline: str
    slots: Slots
    step: str = "fetch"
    swapped: bool = False
    original: Path | None = None


def resolve_model_path(state_dir: Path, pipeline: str, configured: Path) -> Path:
    """What a pipeline should load at start: its installed `current` bundle if any, else the config's path."""
    current = Slots(state_dir, pipeline).recover()
    return current if current is not None else configured


def with_installed_bundle(state_dir: Path, name: str, pcfg: PipelineConfig) -> PipelineConfig:
    """`pcfg` running the bundle a remote update installed, if any (it wins over the file's model path);
    else a packed model.path's verified unpacked copy (edge_agent.bundle.packed)."""
    path = resolve_model_path(state_dir, name, pcfg.model.path)
    if path == pcfg.model.path:
        return with_unpacked_bundle(state_dir, name, pcfg)
    return pcfg.model_copy(update={"model": pcfg.model.model_copy(update={"path": path, "id": None})})


class UpdateService:
    """Implements edge_agent.remote.commands.control.UpdateService for one agent."""

    def __init__(
        self,
        control: AgentControl,
        state_dir: Path,
        device: str,
        *,
        model_config: Callable[[str], ModelConfig],
        report: ReportFn,
        profile: HardwareProfile | None = None,
        policy: UpdatePolicy | None = None,
    ) -> None:
        self.control = control
        self.state_dir = state_dir
        self.device = device
        self.model_config = model_config
        self._report = report
        self.profile = profile
        self.policy = policy or UpdatePolicy()
        self.work = state_dir / UPLOAD_AREA
        self.chunks = ChunkStore(self.work / "chunks")
        self._busy: dict[str, str] = {}  # pipeline -> update id
        self._lock = threading.Lock()
        self.results: dict[str, dict[str, Any]] = {}
        self._done: dict[str, threading.Event] = {}

    # -- UpdateService protocol ----------------------------------------------------------------
    def start(self, pipeline: str, source: dict[str, Any]) -> str:
        with self._lock:
            if pipeline in self._busy:
                raise CommandError(
                    "refused", f"update {self._busy[pipeline]} is still running for {pipeline}"
                )
            uid = uuid.uuid4().hex[:12]
            self._busy[pipeline] = uid
            self._done[uid] = threading.Event()
        threading.Thread(
            target=self.run, args=(pipeline, source, uid), name=f"update-{uid}", daemon=True
        ).start()
        return uid

    def receive_chunk(self, transfer: str, index: int, count: int, data: bytes) -> dict[str, Any]:
        try:
            return self.chunks.receive(transfer, index, count, data)
        except UpdateError as exc:
            raise CommandError("invalid_args", exc.reason) from exc

    def wait(self, update_id: str, timeout: float) -> dict[str, Any] | None:
        ev = self._done.get(update_id)
        if ev is None or not ev.wait(timeout):
            return None
        return self.results.get(update_id)

    # -- the steps -----------------------------------------------------------------------------
    def _emit(self, ctx: _Ctx, step: str, state: str, **extra: Any) -> dict[str, Any]:
        uid = ctx.uid
        msg = {
            "v": 1,
            "device": self.device,
            "pipeline": ctx.pipeline,
            "update_id": uid,
            "step": step,
            "state": state,
            "ts": round(time.time(), 3),
            **extra,
        }
        (log.warning if state in ("failed", "rolled_back") else log.info)(
            "update %s %s: %s %s", uid, step, state, extra.get("reason", "")
        )
        try:
            self._report(msg)
        except Exception:  # reporting must never break the update itself
            log.exception("update report failed")
        return msg

    def run(self, pipeline: str, source: dict[str, Any], uid: str) -> dict[str, Any]:
        """Run one update synchronously (start() runs this on a thread); return the final report."""
        ctx = _Ctx(uid, pipeline, Slots(self.state_dir, pipeline))
        try:
            final = self._steps(ctx, source)
        except (EdgeAgentError, OSError) as exc:
            reason = exc.reason if isinstance(exc, UpdateError) else str(exc)
            # reports go to the broker: name the bundle, not where the device keeps its state
            reason = reason.replace(str(self.work / uid), "<bundle>")[:500]
            if isinstance(exc, UpdateError):
                ctx.step = exc.step
            self._emit(ctx, ctx.step, "failed", reason=reason)
            final = self._rollback(ctx, reason) if ctx.swapped else self._fail(ctx, reason)
        except Exception as exc:  # a bug must not leave the pipeline half-updated without a report
            log.exception("update %s crashed", uid)
            final = self._rollback(ctx, repr(exc)) if ctx.swapped else self._fail(ctx, repr(exc))
        finally:
            shutil.rmtree(self.work / uid, ignore_errors=True)
            with self._lock:
                self._busy.pop(pipeline, None)
        self.results[uid] = final
        if uid in self._done:
            self._done[uid].set()
        return final

    def _steps(self, ctx: _Ctx, source: dict[str, Any]) -> dict[str, Any]:
        work = self.work / ctx.uid
        work.mkdir(parents=True, exist_ok=True)
        cfg = self.model_config(ctx.pipeline)
        ctx.original = cfg.path
        self._emit(ctx, "fetch", "running")
        archive = work / "bundle.tgz"
        if "url" in source:
            fetch_url(source["url"], source["sha256"], archive)
        else:
            self.chunks.assemble(source["transfer"], source.get("sha256"), archive)
        ctx.step = "unpack"
        unpacked = unpack(archive, work / "bundle")
        ctx.step = "verify"
        key_files = [*cfg.trusted_keys, *self.policy.extra_trusted_keys]
        if any(is_upload_data(k, self.state_dir) for k in key_files):
            raise UpdateError(
                "verify", "a trusted key file lies in the upload area: uploaded files are data, never keys"
            )
        keys = [load_public_key(k) for k in key_files]
        if not keys:
            raise UpdateError(
                "verify", "no trusted keys configured for this pipeline: remote updates refused"
            )
        bundle = verify_bundle(unpacked, keys)
        self._emit(ctx, "verify", "ok", model=bundle.manifest.model_id, signed_by=bundle.signed_by)
        ctx.step = "canary"
        self._emit(ctx, "canary", "ok", **self._canary(cfg, bundle, unpacked, source))
        ctx.step = "swap"
        installed = ctx.slots.stage(unpacked, bundle.manifest.model_id)
        ctx.slots.activate(installed)
        ctx.swapped = True
        self._emit(ctx, "swap", "ok", current=installed.name)
        ctx.step = "apply"
        before = self._pipeline_status(ctx.pipeline)
        self.control.update_model(ctx.pipeline, ctx.slots.current_link)
        ctx.step = "health"
        window = source.get("health_window_s", self.policy.health_window_s)
        self._emit(ctx, "health", "running", window_s=window)
        self._watch_health(ctx.pipeline, before, window)
        ctx.slots.prune()
        return self._emit(ctx, "done", "ok", model=bundle.manifest.model_id, final=True)

    def _canary(
        self, cfg: ModelConfig, bundle: Bundle, unpacked: Path, source: dict[str, Any]
    ) -> dict[str, Any]:
        """An SLM bundle is probed by the text engine (onnxruntime-genai, one token); any other runs
        its golden inputs in an ONNX Runtime session on the pipeline's providers."""
        if bundle.manifest.task == "slm":
            # Imported here: a camera-only agent never loads the text kind's model side.
            from edge_agent.remote.update.slm_probe import probe_slm

            return probe_slm(bundle, cfg.intra_op).as_dict()
        model = open_model(cfg.model_copy(update={"path": unpacked, "id": None}), self.profile)
        canary = run_canary(
            model,
            bundle,
            latency_budget_ms=source.get("latency_budget_ms", self.policy.latency_budget_ms),
            budget_factor=self.policy.budget_factor,
            require_golden=self.policy.require_golden,
        )
        del model
        return canary.as_dict()

    def _fail(self, ctx: _Ctx, reason: str) -> dict[str, Any]:
        return self._emit(ctx, "done", "failed", failed_step=ctx.step, reason=reason[:500], final=True)

    def _rollback(self, ctx: _Ctx, reason: str) -> dict[str, Any]:
        try:
            if ctx.slots.previous is not None:
                ctx.slots.rollback()
                target = ctx.slots.current_link
            elif ctx.original is not None:
                ctx.slots.current_link.unlink(
                    missing_ok=True
                )  # no earlier slot: back to the configured model
                target = ctx.original
            else:
                raise UpdateError("rollback", "nothing to roll back to")
            self.control.update_model(ctx.pipeline, target)
        except (EdgeAgentError, OSError) as exc:
            return self._emit(
                ctx,
                "done",
                "failed",
                failed_step=ctx.step,
                reason=reason[:500],
                rollback_error=str(exc)[:300],
                final=True,
            )
        return self._emit(ctx, "done", "rolled_back", failed_step=ctx.step, reason=reason[:500], final=True)

    def _pipeline_status(self, pipeline: str) -> dict[str, Any]:
        pipes = self.control.status().get("pipelines", {})
        snap = pipes.get(pipeline, {}) if isinstance(pipes, dict) else {}
        return snap if isinstance(snap, dict) else {}

    def _watch_health(self, pipeline: str, before: dict[str, Any], window_s: float) -> None:
        base = int(before.get("failures") or 0)
        deadline = time.monotonic() + window_s
        while True:
            snap = self._pipeline_status(pipeline)
            if snap.get("state") == "failed":
                raise UpdateError("health", f"pipeline failed: {snap.get('error') or 'no reason given'}")
            failures = int(snap.get("failures") or 0)
            if failures - base > self.policy.max_failures:
                raise UpdateError("health", f"{failures - base} inference failures during the health window")
            if time.monotonic() >= deadline:
                return
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
