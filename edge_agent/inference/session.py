"""Open a model (plain .onnx or verified bundle) in ONNX Runtime on the best EP the device has."""

from __future__ import annotations

import ctypes
import logging
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edge_agent.bundle import Bundle, is_bundle, load_public_key, verify_bundle
from edge_agent.bundle.archive import SUFFIX
from edge_agent.bundle.graph import as_written
from edge_agent.bundle.packed import is_packed, why_not_unpacked
from edge_agent.errors import ModelError
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.hardware.providers import ProviderSpecLike, check_active, resolve_providers
from edge_agent.inference.config import ModelConfig, ProviderSpec
from edge_agent.inference.stopper import RunStopper

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ModelSession:
    """An open ONNX Runtime session plus what the pipeline needs to know about it."""

    session: ort.InferenceSession
    model_id: str
    path: Path
    providers: list[str]
    bundle: Bundle | None
    load_s: float
    # Cancels this session's in-flight run on stop; a pipeline shares its own with all its sessions.
    stopper: RunStopper = field(default_factory=RunStopper)

    @property
    def input(self) -> Any:
        return self.session.get_inputs()[0]

    def run(self, feeds: dict[str, np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
        """All outputs; raises RunCancelled when the stopper cancels the run."""
        return self.stopper.run(self.session, None, feeds)


def _specs(cfg: ModelConfig, profile: HardwareProfile | None) -> Sequence[ProviderSpecLike]:
    """The config's EP list wins; else the profile's chain as is (its install hints reach the warnings)."""
    if cfg.providers:
        return list(cfg.providers)
    if profile is not None:
        return list(profile.providers)
    return [ProviderSpec(name="CPUExecutionProvider")]


M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024


def unmap_large_buffers(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (it otherwise rises to 32 MiB as buffers are freed, and then keeps
    activations and frames in the heap after use); False where the C library is not glibc."""
    if sys.platform != "linux":
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


# Where ONNX Runtime's `all` level adds the NCHWc layout (x86 only), which keeps reordered copies of
# the weights: a low-memory session stops at `extended` there.
NCHWC_MACHINES = frozenset({"x86_64", "amd64", "i386", "i686"})


def low_memory_level(machine: str) -> ort.GraphOptimizationLevel:
    """The graph optimisation level of a low-memory session on `machine` (platform.machine()):
    `extended` on x86 (13 MB less for OriNet), `all` elsewhere, where it costs nothing for fp32 and
    lays int8 convolutions out NHWC (measured in the arm64 VM: 2.6 MB less at an int8 OriNet's peak)."""
    if machine.lower() in NCHWC_MACHINES:
        return ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    return ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def session_options(cfg: ModelConfig, profile: HardwareProfile | None) -> ort.SessionOptions:
    """Threads from the model block (a pipeline's layout has set `auto` to a number by now). Where the
    profile asks for low memory (docs/pipelines.md, "Memory"): graph optimisation up to `extended` on
    x86 (`low_memory_level`), no memory pattern and no CPU arena (both keep the high-water mark
    of every run in flight), and buffers from 128 KiB up mapped and unmapped by malloc itself, so
    what a run frees goes back to the system instead of staying in glibc's heap."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = cfg.intra_op
    so.inter_op_num_threads = cfg.inter_op_threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    as_written(so)  # nodes the exporter kept in float stay float (edge_agent.bundle.graph)
    if profile is not None and profile.low_memory:
        so.graph_optimization_level = low_memory_level(platform.machine())
        so.enable_mem_pattern = False
        so.enable_cpu_mem_arena = False
        unmap_large_buffers()
    return so


def open_model(cfg: ModelConfig, profile: HardwareProfile | None = None) -> ModelSession:
    """Verify (for bundles) and open the model; raise ModelError/ProviderError saying why not."""
    t0 = time.perf_counter()
    bundle: Bundle | None = None
    path = cfg.path
    if is_bundle(path):
        keys = [load_public_key(k) for k in cfg.trusted_keys]
        bundle = verify_bundle(path, keys or None)
        path = bundle.model_path
        model_id = cfg.id or bundle.manifest.model_id
    elif path.is_file() and path.suffix == ".onnx":
        model_id = cfg.id or path.stem
    elif path.is_dir():
        raise ModelError(f"{path}: a directory without manifest.json is not a bundle")
    elif is_packed(path):  # a valid one was unpacked already (edge_agent.bundle.packed): say why not
        raise ModelError(why_not_unpacked(path, [load_public_key(k) for k in cfg.trusted_keys] or None))
    else:
        raise ModelError(
            f"model not found: {path} (expected a .onnx file, a bundle directory or a {SUFFIX} file)"
        )

    specs = _specs(cfg, profile)
    require = cfg.require_accelerator or bool(profile and any(p.required for p in profile.providers))
    names, options = resolve_providers(specs, ort.get_available_providers(), require)
    so = session_options(cfg, profile)
    for key, value in (profile.session_config if profile else {}).items():
        so.add_session_config_entry(key, value)  # e.g. EP-context caches for QNN/OpenVINO
    try:
        session = ort.InferenceSession(str(path), sess_options=so, providers=names, provider_options=options)
    except Exception as exc:  # ORT raises its own exception types for bad models; say which file
        raise ModelError(f"{path}: ONNX Runtime cannot load it: {exc}") from exc
    active = check_active(session, names, require)
    load_s = time.perf_counter() - t0
    log.info("model %s on %s (asked %s), loaded in %.2fs", model_id, active[0], names, load_s)
    return ModelSession(session, model_id, path, active, bundle, load_s)
