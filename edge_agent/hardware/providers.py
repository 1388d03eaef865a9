"""Execution-provider selection: from an EP chain (a hardware profile's or a config's) to what ONNX Runtime
is given, and, once the session is open, a check that what runs is what was asked.

ONNX Runtime falls back to the CPU EP quietly in two places: an EP missing from the installed build is
dropped with a log line, and an EP that fails to start (OpenVINO asked for an NPU that is absent) is
dropped the same way. `resolve_providers` handles the first before the session exists;
`check_active` catches the second from `session.get_providers()`. Both refuse when an accelerator is
required and log a warning otherwise: never silent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from edge_agent.errors import ProviderError

logger = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CACHE_PLACEHOLDER = "{cache_dir}"


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Provider option names as ONNX Runtime documents them, for the EPs the profiles use. doctor and the
# profile tests check option names against these so a typo (ORT ignores or rejects unknown keys
# depending on the EP) is caught before it reaches a device.
KNOWN_OPTIONS: dict[str, frozenset[str]] = {
    CPU: frozenset(),
    "TensorrtExecutionProvider": _names(
        """device_id trt_max_workspace_size trt_min_subgraph_size trt_max_partition_iterations
        trt_fp16_enable trt_bf16_enable trt_int8_enable trt_int8_calibration_table_name
        trt_int8_use_native_calibration_table trt_dla_enable trt_dla_core trt_engine_cache_enable
        trt_engine_cache_path trt_engine_cache_prefix trt_timing_cache_enable trt_timing_cache_path
        trt_force_sequential_engine_build trt_context_memory_sharing_enable trt_layer_norm_fp32_fallback
        trt_builder_optimization_level trt_dump_ep_context_model trt_ep_context_file_path
        trt_profile_min_shapes trt_profile_max_shapes trt_profile_opt_shapes trt_cuda_graph_enable"""
    ),
    "CUDAExecutionProvider": _names(
        """device_id gpu_mem_limit arena_extend_strategy cudnn_conv_algo_search do_copy_in_default_stream
        cudnn_conv_use_max_workspace enable_cuda_graph use_tf32 prefer_nhwc"""
    ),
    "OpenVINOExecutionProvider": _names(
        """device_type precision num_of_threads num_streams cache_dir load_config enable_qdq_optimizer
        disable_dynamic_shapes reshape_input layout model_priority enable_opencl_throttling context
        device_id"""
    ),
    "QNNExecutionProvider": _names(
        """backend_type backend_path profiling_level profiling_file_path rpc_control_latency vtcm_mb
        htp_performance_mode qnn_saver_path qnn_context_priority htp_graph_finalization_optimization_mode
        soc_model htp_arch device_id enable_htp_fp16_precision offload_graph_io_quantization
        enable_htp_spill_fill_buffer"""
    ),
    "CoreMLExecutionProvider": _names(
        """ModelFormat MLComputeUnits RequireStaticInputShapes EnableOnSubgraphs SpecializationStrategy
        ProfileComputePlan AllowLowPrecisionAccumulationOnGPU ModelCacheDirectory"""
    ),
    "VitisAIExecutionProvider": _names("config_file cache_dir cache_key xclbin encryptionKey"),
}


class ProviderSpecLike(Protocol):
    """An EP entry: a profile's EPSpec or a config's ProviderSpec (a `required` flag is optional)."""

    @property
    def name(self) -> str: ...

    @property
    def options(self) -> Mapping[str, str | int | float | bool]: ...


class SessionLike(Protocol):
    """What `check_active` needs from an onnxruntime.InferenceSession."""

    def get_providers(self) -> list[str]: ...


def default_cache_dir() -> Path:
    """Where compiled engines and blobs go: systemd's StateDirectory when set, else the package default."""
    state = os.environ.get("STATE_DIRECTORY", "/var/lib/edge-agent").split(":")[0]
    return Path(state) / "cache"


def accelerator_required(specs: Sequence[ProviderSpecLike], require_accelerator: bool) -> bool:
    """True when the config asks for it or any entry of the chain is marked `required`."""
    return require_accelerator or any(bool(getattr(s, "required", False)) for s in specs)


def unknown_options(name: str, options: Mapping[str, object]) -> list[str]:
    """Option keys not documented for EP `name` (empty for EPs this module does not know)."""
    known = KNOWN_OPTIONS.get(name)
    if known is None:
        return []
    return sorted(k for k in options if k not in known)


def _options(spec: ProviderSpecLike, cache_dir: Path) -> dict[str, str]:
    """ORT takes string values (its Python layer calls str() too); expand {cache_dir} and create it."""
    out: dict[str, str] = {}
    for key, value in spec.options.items():
        text = str(value)
        if CACHE_PLACEHOLDER in text:
            text = text.replace(CACHE_PLACEHOLDER, str(cache_dir))
            try:
                Path(text).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                # The EP reports its own error if it really needs the directory; say why here first.
                logger.warning("%s: cannot create %s for %s: %s", spec.name, text, key, exc.strerror)
        out[key] = text
    return out


def resolve_providers(
    specs: Sequence[ProviderSpecLike],
    available: Sequence[str],
    require_accelerator: bool,
    *,
    cache_dir: Path | None = None,
) -> tuple[list[str], list[dict[str, str]]]:
    """Turn an EP chain into (names, options) for `InferenceSession(providers=, provider_options=)`.

    `available` is `onnxruntime.get_available_providers()`. EPs this build lacks are dropped with a
    warning, or raise ProviderError when the entry is `required` or `require_accelerator` is set and no
    accelerator of the chain is left. The CPU EP always ends the list (it runs what the others cannot).
    `{cache_dir}` in option values becomes `cache_dir` (default: `default_cache_dir()`).
    """
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    names: list[str] = []
    options: list[dict[str, str]] = []
    for spec in specs:
        if spec.name in names:
            continue
        if spec.name not in available:
            hint = str(getattr(spec, "hint", "") or "")
            msg = f"{spec.name} is not in this onnxruntime build (it has {', '.join(available) or 'none'})"
            if getattr(spec, "required", False):
                raise ProviderError(f"{msg}; the profile marks it required" + (f": {hint}" if hint else ""))
            logger.warning("%s; skipping it%s", msg, f" ({hint})" if hint else "")
            continue
        names.append(spec.name)
        options.append(_options(spec, cache))
    wanted = [s.name for s in specs if s.name != CPU]
    if require_accelerator:
        if not wanted:
            raise ProviderError(
                "require_accelerator is set but the provider chain names only CPUExecutionProvider"
            )
        if not any(n != CPU for n in names):
            raise ProviderError(
                f"require_accelerator is set and none of {', '.join(wanted)} is in this onnxruntime build "
                f"(it has {', '.join(available) or 'none'}); run `edge-agent doctor` for what to install"
            )
    if CPU not in names:
        names.append(CPU)
        options.append({})
    return names, options


def check_active(session: SessionLike, asked: Sequence[str], require_accelerator: bool) -> list[str]:
    """Compare the EPs the session runs with those asked; raise or warn on a fallback; return the active.

    ONNX Runtime drops an EP that fails to initialise (e.g. OpenVINO with device_type NPU on a machine
    without one) and keeps going on the CPU EP; the only trace is a log line. This makes it an error
    (require_accelerator) or a warning naming what was lost.
    """
    active = list(session.get_providers())
    lost = [name for name in asked if name != CPU and name not in active]
    if not lost:
        return active
    msg = (
        f"asked for {', '.join(asked)} but the session runs {', '.join(active)}: "
        f"{', '.join(lost)} did not start"
    )
    if require_accelerator:
        raise ProviderError(f"{msg}; require_accelerator is set, refusing to fall back to CPU")
    logger.warning("%s; continuing on %s", msg, active[0] if active else CPU)
    return active
