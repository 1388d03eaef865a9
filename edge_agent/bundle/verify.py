"""Load and verify a bundle directory: manifest schema, every sha256, and the ed25519 signature."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from edge_agent.bundle.manifest import MANIFEST, SIGNATURE, Manifest
from edge_agent.errors import BundleError


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle on disk."""

    root: Path
    manifest: Manifest
    signed_by: str | None  # key id of the trusted key that verified it, None when unsigned

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key, or 64 hex characters of a raw ed25519 key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read trusted key {path}: {exc.strerror}") from exc
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
            if not isinstance(key, Ed25519PublicKey):
                raise BundleError(f"{path}: not an ed25519 public key")
            return key
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode("ascii")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: expected a PEM or hex ed25519 public key ({exc})") from exc


def is_bundle(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def _safe(root: Path, rel: str) -> Path:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        raise BundleError(f"manifest lists a path outside the bundle: {rel!r}")
    return root / pure


def verify_bundle(root: Path, trusted_keys: list[Ed25519PublicKey] | None = None) -> Bundle:
    """Verify and return the bundle at `root`, or raise BundleError saying what failed.

    With `trusted_keys`, the manifest must carry a signature by one of them. Without, checksums are
    still verified and a present signature is ignored (the config did not ask for trust).
    """
    mpath = root / MANIFEST
    try:
        raw = mpath.read_bytes()
    except OSError as exc:
        raise BundleError(f"{root}: no readable {MANIFEST} ({exc.strerror})") from exc
    signed_by = None
    if trusted_keys:
        sig_path = root / SIGNATURE
        if not sig_path.is_file():
            raise BundleError(f"{root}: unsigned bundle, but trusted keys are configured")
        sig = sig_path.read_bytes()
        for key in trusted_keys:
            try:
                key.verify(sig, raw)
            except InvalidSignature:
                continue
            signed_by = key_id(key)
            break
        if signed_by is None:
            msg = "signature does not verify with any trusted key (tampered or wrong key)"
            raise BundleError(f"{root}: {msg}")
    try:
        manifest = Manifest.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise BundleError(f"{root}: invalid manifest: {exc}") from exc
    listed = {f.path for f in manifest.files}
    if manifest.model not in listed:
        raise BundleError(f"{root}: the model {manifest.model!r} is not among the checksummed files")
    for entry in manifest.files:
        p = _safe(root, entry.path)
        if not p.is_file():
            raise BundleError(f"{root}: missing file {entry.path}")
        if p.stat().st_size != entry.size or sha256_file(p) != entry.sha256:
            raise BundleError(f"{root}: checksum mismatch for {entry.path} (file changed after signing)")
    for case in manifest.golden:
        for rel in (case.inputs, case.outputs):
            if rel not in listed:
                raise BundleError(f"{root}: golden file {rel!r} is not among the checksummed files")
    return Bundle(root=root, manifest=manifest, signed_by=signed_by)
