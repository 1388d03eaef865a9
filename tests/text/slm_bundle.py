"""SmolLM2 (tests/slm_models.genai_dir) wrapped into a signed SLM bundle with the log-triage prompt.

A stand-in for h-slmx's `exporters.slm.bundle.build_slm_bundle` until it lands: the same layout
(manifest.json + manifest.sig + model/ with the genai folder, every file listed), written once per
prompt and cached beside the genai folder, so a test session copies the 90 MB model once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.manifest import MANIFEST, FileEntry, Manifest, PromptSpec, SlmSpec
from edge_agent.bundle.sign import public_pem, sign_bundle
from edge_agent.bundle.verify import sha256_file, verify_bundle
from tests.slm_models import _locked, genai_dir

COMPONENTS = ["power", "kernel", "storage", "network", "thermal", "service", "firmware"]
TRIAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "severity": {"type": "string", "enum": ["ok", "warning", "fault"]},
        "component": {"type": "string", "enum": COMPONENTS},
        "action": {"type": "string", "maxLength": 80},
    },
    "required": ["severity", "component", "action"],
    "additionalProperties": False,
}
TRIAGE = PromptSpec(
    system="You triage device log lines. Answer with JSON: severity, component, action.",
    template="Triage this device log line:\n{input}",
    answer_prefix='{"severity": "',
    label_suffix='"',
    labels=["ok", "warning", "fault"],
    label_field="severity",
    schema=TRIAGE_SCHEMA,
)
# A fixed test key (not a secret: it signs throwaway test bundles only).
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"edge-agent text tests").digest())


def _entries(root: Path) -> list[FileEntry]:
    return [
        FileEntry(path=p.relative_to(root).as_posix(), sha256=sha256_file(p), size=p.stat().st_size)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, "manifest.sig")
    ]


def slm_bundle(prompt: PromptSpec | None = TRIAGE, name: str = "smollm2-triage") -> Path:
    """The signed bundle (int4, max_length 512) for `prompt`, built once and cached."""
    src = genai_dir("int4")
    spec_json = json.dumps(prompt.model_dump(by_alias=True) if prompt else None, sort_keys=True)
    key = hashlib.sha256(f"{name}:{spec_json}".encode()).hexdigest()[:10]
    out = src.parent / f"bundle-{name}-{key}-{src.name}"
    with _locked(out):
        if not (out / "manifest.sig").is_file():
            tmp = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp / "model")
            template = tmp / "model" / "chat_template.jinja"
            manifest = Manifest(
                name=name,
                version="0.1.0",
                task="slm",
                created="2026-12-02T00:00:00Z",
                exporter_version="tests",
                target="generic-cpu",
                model="model/model.onnx",
                inputs=[],
                outputs=[],
                slm=SlmSpec(
                    architecture="llama",
                    precision="int4",
                    max_length=512,
                    context_length=8192,
                    vocab_size=49152,
                    eos_token_ids=[2],
                    chat_template=template.read_text() if template.is_file() else None,
                    source="SmolLM2-135M-Instruct.Q4_1.gguf (tests/slm_models.py)",
                    prompt=prompt,
                ),
                files=_entries(tmp),
            )
            (tmp / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=2))
            sign_bundle(tmp, KEY)
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
    verify_bundle(out, [KEY.public_key()])
    return out


def public_key_file(folder: Path) -> Path:
    """The test key's public half as a PEM file in `folder` (for `model.trusted_keys`)."""
    path = folder / "text-tests.pub.pem"
    path.write_bytes(public_pem(KEY.public_key()))
    return path


__all__ = ["COMPONENTS", "TRIAGE", "TRIAGE_SCHEMA", "public_key_file", "slm_bundle"]
