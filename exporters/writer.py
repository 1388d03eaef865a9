"""Write a bundle directory the agent's verify_bundle accepts: model, files, golden cases, manifest.

The manifest lists the sha256 of every file; the signature (when a key is given) covers the
manifest's exact bytes. The finished bundle is verified with the device's own code before this
returns, so a bundle the agent would refuse is never handed out.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from edge_agent.bundle.manifest import MANIFEST, FileEntry, GoldenCase, Manifest
from edge_agent.bundle.sign import sign_bundle
from edge_agent.bundle.verify import Bundle, sha256_file, verify_bundle
from exporters.errors import ExportError
from exporters.sources import Feed

MODEL = "model.onnx"


def file_entries(root: Path) -> list[FileEntry]:
    """Every file under `root` but the manifest and its signature, with its sha256 and size."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in (MANIFEST, "manifest.sig"):
            out.append(FileEntry(path=rel, sha256=sha256_file(p), size=p.stat().st_size))
    return out


def write_bundle(
    out: Path,
    *,
    model: Path,
    fields: dict[str, Any],
    files: dict[str, Path],
    golden: list[tuple[Feed, dict[str, np.ndarray]]],
    golden_atol: float,
    key: Ed25519PrivateKey | None = None,
    overwrite: bool = False,
) -> Bundle:
    """Write the bundle at `out` (a new directory) and return it verified.

    `fields` are the manifest's fields other than model, files and golden; `files` maps a path inside
    the bundle to a file to copy there.
    """
    if out.exists():
        if not overwrite:
            raise ExportError(f"{out} already exists (pass --force to replace it)")
        shutil.rmtree(out)
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(model, tmp / MODEL)
    for rel, src in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp / rel)
    cases = []
    for i, (inputs, outputs) in enumerate(golden):
        (tmp / "golden").mkdir(exist_ok=True)
        gi, go = f"golden/case{i}_inputs.npz", f"golden/case{i}_outputs.npz"
        np.savez(tmp / gi, **inputs)  # type: ignore[arg-type]
        np.savez(tmp / go, **outputs)  # type: ignore[arg-type]
        cases.append(GoldenCase(inputs=gi, outputs=go, atol=golden_atol, rtol=1e-3))
    return seal_bundle(
        tmp, out, lambda: Manifest(model=MODEL, files=file_entries(tmp), golden=cases, **fields), key
    )


def seal_bundle(
    tmp: Path, out: Path, make: Callable[[], Manifest], key: Ed25519PrivateKey | None
) -> Bundle:
    """Finish a bundle staged in `tmp`: the manifest `make` builds (an invalid one removes `tmp` and
    raises ExportError), written, signed when `key` is given, moved to `out`, and returned verified
    by the device's own code. Every bundle writer ends here."""
    try:
        manifest = make()
    except ValidationError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"the manifest would be invalid: {exc}") from exc
    (tmp / MANIFEST).write_text(
        json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=2) + "\n", encoding="utf-8"
    )
    if key is not None:
        sign_bundle(tmp, key)
    tmp.replace(out)
    return verify_bundle(out, [key.public_key()] if key is not None else None)
