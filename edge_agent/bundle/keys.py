"""Ed25519 public keys on the device: read (PEM or hex), named (key id) and checked against signatures.

Checking uses PyNaCl (libsodium's `crypto_sign_verify_detached`, which also refuses non-canonical
signatures and small-order keys): about 1 MB of RSS where `cryptography` costs about 7, which
matters on a 512 MB board (benchmarks/pipeline.py). Only the workstation's signing needs
`cryptography` (edge_agent.bundle.sign). Any object with `public_bytes_raw()` is a key here, so
`cryptography`'s Ed25519PublicKey works as well as a PublicKey read from a file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Protocol

PEM_BEGIN, PEM_END = b"-----BEGIN PUBLIC KEY-----", b"-----END PUBLIC KEY-----"
# RFC 8410: the DER SubjectPublicKeyInfo of an Ed25519 key is this 12-byte header, then the 32-byte key.
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")
RAW_BYTES = 32


class Ed25519Key(Protocol):
    def public_bytes_raw(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A trusted ed25519 public key: its 32 raw bytes."""

    raw: bytes

    def public_bytes_raw(self) -> bytes:
        return self.raw


def parse_public_key(data: bytes) -> PublicKey:
    """A PEM `PUBLIC KEY` block holding an Ed25519 key, or 64 hex characters of the raw key; raise
    ValueError saying what the bytes are instead."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        lines = text.splitlines()
        if lines[0].strip() != PEM_BEGIN or lines[-1].strip() != PEM_END:
            raise ValueError(f"a PEM block other than {PEM_BEGIN.decode()}")
        try:
            der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"the PEM body is not base64: {exc}") from None
        if len(der) != len(SPKI_ED25519) + RAW_BYTES or not der.startswith(SPKI_ED25519):
            raise ValueError("not an ed25519 public key")
        return PublicKey(der[len(SPKI_ED25519) :])
    try:
        raw = bytes.fromhex(text.decode("ascii"))
    except UnicodeDecodeError:
        raise ValueError("neither PEM nor hex") from None
    if len(raw) != RAW_BYTES:
        raise ValueError(f"a raw ed25519 key is {RAW_BYTES} bytes (64 hex characters), not {len(raw)}")
    return PublicKey(raw)


def key_id(key: Ed25519Key) -> str:
    """The first 16 hex characters of the raw key's sha256: how bundles and commands name a key."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()[:16]


def signature_ok(key: Ed25519Key, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `key`'s ed25519 signature of `message`."""
    from nacl.exceptions import CryptoError
    from nacl.signing import VerifyKey

    try:
        VerifyKey(key.public_bytes_raw()).verify(message, signature)
    except (CryptoError, ValueError):  # a bad signature; one not 64 bytes long
        return False
    return True
