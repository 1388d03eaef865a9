"""ed25519 keys and bundle signatures: key generation, PEM files, and signing a bundle's manifest.

The signature is detached: `manifest.sig` holds the raw 64-byte ed25519 signature over the exact
bytes of `manifest.json`, and the manifest carries the sha256 of every other file, so one signature
covers the whole bundle. Verification lives in edge_agent.bundle.verify (the device side); this
module only needs `cryptography`, so a workstation can sign without the export extra.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge_agent.bundle.keys import key_id
from edge_agent.bundle.manifest import MANIFEST, SIGNATURE
from edge_agent.errors import BundleError


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_keypair(stem: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Create `<stem>.key` (PKCS#8 PEM, mode 0600) and `<stem>.pub` (PEM); return both paths.

    An existing key is never replaced unless asked: losing a signing key strands every device that
    trusts it.
    """
    key_path, pub_path = stem.with_suffix(".key"), stem.with_suffix(".pub")
    if not overwrite:
        for p in (key_path, pub_path):
            if p.exists():
                raise BundleError(f"{p} already exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Created with 0600 from the start, so the key is never readable by others, even briefly.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_bytes(public_pem(private.public_key()))
    return key_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """A PEM (PKCS#8, unencrypted) ed25519 private key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read signing key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{path}: expected an unencrypted PEM ed25519 private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path}: not an ed25519 private key")
    return key


def sign_bundle(root: Path, private: Ed25519PrivateKey) -> str:
    """Write `manifest.sig` for the bundle at `root`; return the signing key's id."""
    mpath = root / MANIFEST
    try:
        raw = mpath.read_bytes()
    except OSError as exc:
        raise BundleError(f"{root}: no readable {MANIFEST} ({exc.strerror})") from exc
    (root / SIGNATURE).write_bytes(private.sign(raw))
    return key_id(private.public_key())
