"""An onnxruntime-genai model folder → a signed SLM bundle (task "slm"), and `build_slm_bundle`, the
one call from a GGUF file or a causal-LM folder to a verified bundle at one precision.

The bundle is a normal bundle directory (edge_agent.bundle.verify checks it like any other):
manifest.json + manifest.sig + `model/` holding genai_config.json, model.onnx, model.onnx.data and
the tokenizer files. The manifest's SlmSpec carries what the agent needs without opening the model:
architecture, precision, the KV-cache bound, eos ids, the source's chat template, the PromptSpec.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.manifest import (
    Manifest,
    PromptSpec,
    QuantizationInfo,
    SlmSpec,
    TensorSpec,
)
from edge_agent.bundle.verify import Bundle
from exporters import __version__
from exporters.errors import ExportError
from exporters.slm.builder import (
    Precision,
    build_cached,
    is_build_file,
    read_genai_config,
    set_provider_options,
)
from exporters.slm.source import check_source, to_hf
from exporters.writer import file_entries, seal_bundle

FOLDER = "model"
_QUANT: dict[str, QuantizationInfo] = {
    "int4": QuantizationInfo(mode="int4", weight_type="int4", activation_type="float32"),
    "int8": QuantizationInfo(mode="int8", weight_type="int8", activation_type="float32"),
    "fp16": QuantizationInfo(mode="fp16", weight_type="float16", activation_type="float16"),
    "fp32": QuantizationInfo(mode="none"),
}


def build_slm_bundle(
    source: Path,
    out: Path,
    *,
    precision: Precision = "int4",
    max_length: int = 512,
    prompt: PromptSpec | None = None,
    key: Ed25519PrivateKey | None = None,
    target: str = "generic-x86",
    name: str | None = None,
    version: str = "1",
    overwrite: bool = False,
    work: Path | None = None,
) -> Path:
    """Build a signed, verified SLM bundle at `out` from a GGUF file or an HF causal-LM folder, at one
    precision on the CPU execution provider, without the gate (exporters.slm.export runs the gate and
    the ladder). `work` keeps the dequantized GGUF and the builder's cache between calls; without it a
    temporary folder is used and removed. Returns `out`."""
    src = check_source(source)
    with tempfile.TemporaryDirectory(prefix="edge-slm-") as tmp:
        w = work or Path(tmp)
        w.mkdir(parents=True, exist_ok=True)
        hf = to_hf(src, w)
        genai = build_cached(hf, w, precision, max_length, stamp=src.fingerprint)
        write_slm_bundle(
            out,
            genai=genai,
            hf_dir=hf,
            precision=precision,
            source=src.fingerprint,
            target=target,
            name=name or out.name,
            version=version,
            prompt=prompt,
            key=key,
            overwrite=overwrite,
        )
    return out


def chat_template(hf_dir: Path) -> str | None:
    """The source's Jinja chat template: chat_template.jinja (transformers 5 writes it there), else
    tokenizer_config.json's `chat_template`."""
    jinja = hf_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    tc = hf_dir / "tokenizer_config.json"
    if tc.is_file():
        value = json.loads(tc.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(value, str):
            return value
    return None


def eos_ids(genai_cfg: dict[str, Any], hf_dir: Path) -> list[int]:
    """Every id that ends a turn: genai_config's, then generation_config.json's (order kept, no repeats)."""
    found: list[int] = []
    values: list[Any] = [genai_cfg["model"].get("eos_token_id")]
    gen = hf_dir / "generation_config.json"
    if gen.is_file():
        values.append(json.loads(gen.read_text(encoding="utf-8")).get("eos_token_id"))
    for v in values:
        for i in v if isinstance(v, list) else [v]:
            if isinstance(i, int) and i not in found:
                found.append(i)
    if not found:
        raise ExportError(
            f"{hf_dir}: the model declares no eos_token_id (genai_config.json, generation_config.json)"
        )
    return found


def _tensors(model: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The decoder's own inputs and outputs (the KV-cache tensors, managed by the runtime, left out)."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph

    def specs(values: Any) -> list[TensorSpec]:
        out = []
        for v in values:
            if v.name.startswith(("past_key_values.", "present.")):
                continue
            t = v.type.tensor_type
            dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
            shape: list[int | str] = [d.dim_param or d.dim_value for d in t.shape.dim]
            out.append(TensorSpec(name=v.name, dtype=dtype, shape=shape))
        return out

    return specs(graph.input), specs(graph.output)


def write_slm_bundle(
    out: Path,
    *,
    genai: Path,
    hf_dir: Path,
    precision: Precision,
    source: str,
    target: str,
    name: str,
    version: str = "1",
    prompt: PromptSpec | None = None,
    key: Ed25519PrivateKey | None = None,
    report: dict[str, Any] | None = None,
    provider_options: list[dict[str, dict[str, str]]] | None = None,
    overwrite: bool = False,
) -> Bundle:
    """Copy the genai folder into a new bundle at `out`, write the manifest, sign it (when `key` is
    given) and return it verified by the device's own code. `provider_options` (a target's recipe)
    go into the bundle's genai_config.json only, never into the folder the gate ran on."""
    import onnxruntime

    if out.exists():
        if not overwrite:
            raise ExportError(f"{out} already exists (pass --force to replace it)")
        shutil.rmtree(out)
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copytree(genai, tmp / FOLDER, ignore=lambda _d, names: [n for n in names if is_build_file(n)])
    if provider_options:
        set_provider_options(tmp / FOLDER, provider_options)
    cfg = read_genai_config(tmp / FOLDER)
    model_cfg = cfg["model"]
    decoder = tmp / FOLDER / model_cfg["decoder"]["filename"]
    inputs, outputs = _tensors(decoder)
    import onnx

    files = file_entries(tmp)
    return seal_bundle(
        tmp,
        out,
        lambda: Manifest(
            name=name,
            version=version,
            task="slm",
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            exporter_version=__version__,
            onnx_version=onnx.__version__,
            onnxruntime_version=onnxruntime.__version__,
            target=target,
            model=decoder.relative_to(tmp).as_posix(),
            inputs=inputs,
            outputs=outputs,
            slm=SlmSpec(
                folder=FOLDER,
                architecture=str(model_cfg["type"]),
                precision=precision,
                max_length=int(cfg["search"]["max_length"]),
                context_length=int(model_cfg.get("context_length") or cfg["search"]["max_length"]),
                vocab_size=int(model_cfg["vocab_size"]),
                eos_token_ids=eos_ids(cfg, hf_dir),
                chat_template=chat_template(hf_dir),
                source=source,
                prompt=prompt,
            ),
            quantization=_QUANT[precision],
            files=files,
            report=report or {},
        ),
        key,
    )
