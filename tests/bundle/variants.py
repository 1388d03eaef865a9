"""Hostile and legitimate variants of one real bundle (tiny ONNX model, golden npz, ed25519 signature,
made by tests/remote/update/bundle_factory with the project's sign_bundle and pack)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.manifest import MANIFEST
from edge_agent.bundle.sign import sign_bundle
from tests.remote.update.bundle_factory import make_bundle

__all__ = ["make_bundle", "manifest", "members", "resign", "tar_from"]


def manifest(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / MANIFEST).read_bytes())
    return data


def entry(root: Path, rel: str) -> dict[str, Any]:
    data = (root / rel).read_bytes()
    return {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def resign(
    root: Path,
    key: Ed25519PrivateKey | None,
    edit: Callable[[dict[str, Any]], None] | None = None,
    *,
    raw: bytes | None = None,
) -> None:
    """Rewrite manifest.json (edited, or exactly `raw`) and sign it again: the signature is then
    valid, so only the rule under test can refuse the bundle."""
    if raw is None:
        data = manifest(root)
        if edit is not None:
            edit(data)
        raw = json.dumps(data, indent=1).encode()
    (root / MANIFEST).write_bytes(raw)
    if key is not None:
        sign_bundle(root, key)


def members(root: Path, prefix: str = "") -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """Regular-file members for every file under `root`, names prefixed with `prefix`."""
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            info = tarfile.TarInfo(prefix + p.relative_to(root).as_posix())
            data = p.read_bytes()
            info.size = len(data)
            out.append((info, data))
    return out


def tar_from(path: Path, items: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A tar.gz holding exactly `items` (a member with None data is written header-only)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in items:
            if data is None:
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path
