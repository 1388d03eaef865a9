"""Hardware profiles: per-target recipes kept as data in hardware/*.yaml, read by both halves.

The exporter reads a profile to shape and quantize a bundle; the agent reads the same profile to
build the execution-provider chain and to refuse a silent fallback to CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge_agent.errors import ConfigError, ConfigIssue
from edge_agent.strict import auto_or_int
from edge_agent.yamlfile.reader import read_yaml_file
from edge_agent.yamlfile.validate import validate_doc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EPSpec(_Strict):
    name: str = Field(description="ONNX Runtime execution provider name.")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    required: bool = Field(
        default=False, description="This EP must be active; a fallback to CPU is an error."
    )
    hint: str = Field(
        default="", description="What to install or enable when this EP is missing (shown by doctor)."
    )

    @field_validator("name")
    @classmethod
    def _ep_name(cls, v: str) -> str:
        if not v.endswith("ExecutionProvider"):
            raise ValueError(f"expected an ONNX Runtime provider name ending in ExecutionProvider, got {v!r}")
        return v


class QuantRecipe(_Strict):
    mode: Literal["none", "dynamic", "static-qdq", "fp16", "qnn-a16w8"] = Field(
        description="How the exporter quantizes for this target."
    )
    per_channel: bool = True
    activation_type: Literal["uint8", "int8", "uint16", "int16", "float16", "float32"] = "uint8"
    weight_type: Literal["uint8", "int8", "float16", "float32"] = "int8"
    calibration: Literal["minmax", "entropy", "percentile"] = "minmax"
    max_conv_workspace_mb: float | None = Field(
        default=None,
        gt=0,
        description="Keep in float every Conv whose int8 im2col buffer (Cin/group x kernel x output "
        "positions, one byte each) would exceed this many MB: ORT's int8 Conv allocates it whole, its "
        "float Conv works in small blocks (exporters/conv_workspace.py). For boards short of RAM.",
    )


SlmPrecision = Literal["int4", "int8", "fp16", "fp32"]


def _cpu_ladder() -> list[SlmPrecision]:
    return ["int4", "int8", "fp32"]


class SlmRecipe(_Strict):
    """How `edge-export build` makes a small language model for this target (docs/slm.md): the
    onnxruntime-genai model builder's execution provider, the precisions the gate's ladder climbs,
    and the provider options written into the bundle's genai_config.json."""

    builder_ep: Literal["cpu", "cuda", "dml", "webgpu", "NvTensorRtRtx"] = Field(
        default="cpu", description="The genai model builder's -e: which EP the ONNX graph is built for."
    )
    ladder: list[SlmPrecision] = Field(
        default_factory=_cpu_ladder,
        min_length=1,
        description="Precisions in climbing order: the first that meets the gate's budget is shipped.",
    )
    provider_options: list[dict[str, dict[str, str]]] = Field(
        default_factory=list,
        description="genai_config session_options.provider_options, e.g. [{OpenVINO: {device_type: NPU}}]; "
        "written into the bundle only (the gate runs the same weights on this machine's CPU EP).",
    )
    untested: bool = Field(
        default=False,
        description="True: the bundle names an execution provider the project's tests never ran; the "
        "recipe is written from onnxruntime-genai's documentation.",
    )


class ThermalSpec(_Strict):
    temperature_paths: list[str] = Field(
        default_factory=list,
        description="sysfs files in millidegrees C; glob patterns allowed (thermal_zone*/temp): "
        "expand them with resolve().",
    )
    throttle_paths: list[str] = Field(
        default_factory=list,
        description="sysfs files whose non-zero value means throttled now (not counters since boot); "
        "glob patterns allowed.",
    )

    def resolve(self, root: Path = Path("/")) -> tuple[list[Path], list[Path]]:
        """Expand the glob patterns under `root`: (temperature files, throttle files) that exist."""
        return _expand(self.temperature_paths, root), _expand(self.throttle_paths, root)


def _expand(patterns: list[str], root: Path) -> list[Path]:
    """Absolute glob patterns read relative to `root` (a fake tree in tests, / on a device)."""
    out: list[Path] = []
    for pattern in patterns:
        out.extend(sorted(p for p in root.glob(pattern.lstrip("/")) if p.exists()))
    return out


class AcceleratorSpec(_Strict):
    """The device nodes and groups an accelerator needs; read by doctor and mirrored in the unit."""

    devices: list[str] = Field(default_factory=list, description="/dev glob patterns, e.g. /dev/accel/accel*")
    groups: list[str] = Field(
        default_factory=list, description="Groups that own those nodes (the service user joins them)."
    )
    hint: str = Field(default="", description="What to install or load when the nodes are absent.")

    def resolve(self, root: Path = Path("/")) -> list[Path]:
        """The device nodes present under `root`."""
        return _expand(self.devices, root)


class DetectSpec(_Strict):
    """What `edge-agent doctor` looks for to pick this profile."""

    model_contains: list[str] = Field(default_factory=list, description="/proc/device-tree/model substrings")
    files: list[str] = Field(default_factory=list, description="paths that exist on this target")
    dmi_contains: list[str] = Field(default_factory=list, description="DMI product/CPU name substrings")
    arch: list[str] = Field(default_factory=list, description="uname -m values")
    cpu_flags: list[str] = Field(
        default_factory=list, description="/proc/cpuinfo flags/Features that must all be present"
    )
    priority: int = Field(default=0, description="higher wins when several match")


class HardwareProfile(_Strict):
    name: str
    description: str
    arch: Literal["x86_64", "aarch64", "arm64", "any"]
    providers: list[EPSpec] = Field(min_length=1, description="EP chain in preference order.")
    precision: Literal["fp32", "fp16", "int8", "a16w8"] = "fp32"
    static_shapes: bool = Field(default=False, description="The accelerator needs fixed input shapes.")
    quantization: QuantRecipe = Field(default_factory=lambda: QuantRecipe(mode="none"))
    inference_threads: Annotated[int, Field(ge=1, le=256)] | Literal["auto"] = Field(
        default="auto",
        description="Cores the agent gives to inference, split fairly across its pipelines as workers or "
        "intra-op threads (docs/pipelines.md); auto: every core this process may run on. Never more "
        "than those cores.",
    )
    low_memory: bool = Field(
        default=False,
        description="A board with little RAM: ONNX Runtime sessions optimised up to `extended` on x86, "
        "without memory pattern or CPU arena, and large buffers unmapped when freed (fewer MB, slower runs).",
    )
    intra_op_threads: int = Field(
        default=1, ge=0, description="Not read by the agent (inference_threads is); older profiles load."
    )
    inter_op_threads: int = Field(
        default=1, ge=0, description="Not read by the agent; accepted so older profiles load."
    )
    watts_per_busy_core: float = Field(
        default=2.0, gt=0, description="For energy estimates (labelled as estimates)."
    )
    thermal: ThermalSpec = Field(default_factory=ThermalSpec)
    detect: DetectSpec = Field(default_factory=DetectSpec)
    opset: int = Field(default=17, ge=7)
    session_config: dict[str, str] = Field(
        default_factory=dict,
        description="ONNX Runtime session config entries (add_session_config_entry), e.g. ep.context_enable.",
    )
    accelerator: AcceleratorSpec = Field(default_factory=AcceleratorSpec)
    slm: SlmRecipe = Field(default_factory=SlmRecipe, description="Small language models (exporters/slm).")
    jit: bool = Field(
        default=False,
        description="An EP in the chain writes machine code at run time, so the service needs "
        "MemoryDenyWriteExecute=no (systemd/jit.conf).",
    )
    notes: str = Field(default="", description="Free text for people: caveats, where the numbers come from.")

    _auto = field_validator("inference_threads", mode="before")(auto_or_int(1, 256))

    @property
    def accelerator_eps(self) -> list[str]:
        """The EPs in the chain other than the CPU EP."""
        return [p.name for p in self.providers if p.name != "CPUExecutionProvider"]


def profiles_dir() -> Path:
    """Installed wheels carry the profiles inside the package; a checkout reads hardware/ at the root."""
    packaged = Path(__file__).parent / "profiles"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "hardware"


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """Load one profile by name (hardware/<name>.yaml) or path; raise ConfigError naming the key and line
    (the config reader's limits apply: size, encoding, tags, aliases, depth)."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = profiles_dir() / f"{name_or_path}.yaml"
    if not p.is_file():
        known = ", ".join(sorted(x.stem for x in profiles_dir().glob("*.yaml")))
        raise ConfigError(str(p), [ConfigIssue("", None, f"no such hardware profile; known: {known}")])
    return validate_doc(HardwareProfile, read_yaml_file(p))


def all_profiles() -> dict[str, HardwareProfile]:
    """Every profile shipped, by name."""
    return {p.stem: load_profile(p) for p in sorted(profiles_dir().glob("*.yaml"))}
