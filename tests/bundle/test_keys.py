"""Device-side ed25519 keys (edge_agent.bundle.keys): what the workstation's `cryptography` writes and
signs is read and checked by PyNaCl, anything else is refused with a reason, and a device that checks
a signed bundle never imports `cryptography`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.keys import PublicKey, key_id, parse_public_key, signature_ok
from edge_agent.bundle.sign import public_pem
from edge_agent.bundle.verify import load_public_key
from edge_agent.errors import BundleError

ROOT = Path(__file__).resolve().parents[2]


def test_pem_and_hex_keys_read_as_the_workstation_wrote_them() -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    assert parse_public_key(public_pem(private.public_key())) == PublicKey(raw)
    assert parse_public_key(b"  " + raw.hex().encode() + b"\n") == PublicKey(raw)
    assert key_id(PublicKey(raw)) == key_id(private.public_key())  # the same id as the signer's


def test_signatures_made_by_cryptography_verify_and_nothing_else_does() -> None:
    private, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    key = parse_public_key(public_pem(private.public_key()))
    message = b'{"model":"model.onnx"}'
    sig = private.sign(message)
    assert signature_ok(key, sig, message)
    assert signature_ok(private.public_key(), sig, message)  # a cryptography key object works too
    assert not signature_ok(key, sig, message + b" ")
    assert not signature_ok(key, other.sign(message), message)
    assert not signature_ok(parse_public_key(public_pem(other.public_key())), sig, message)
    assert not signature_ok(key, sig[:-1], message)
    assert not signature_ok(key, sig + b"\0", message)
    assert not signature_ok(key, bytes(64), message)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not signature_ok(key, flipped, message)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"00" * 31, "32 bytes"),
        (b"zz" * 32, "non-hexadecimal"),
        (b"\xff\xfe", "neither PEM nor hex"),
        (b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", "not base64"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "other than"),
    ],
)
def test_bad_key_bytes_are_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_public_key(data)


def test_a_key_of_another_algorithm_is_named(tmp_path: Path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    path = tmp_path / "p256.pub"
    path.write_bytes(
        p256.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(BundleError, match=r"p256\.pub: expected a PEM or hex ed25519 .*not an ed25519"):
        load_public_key(path)


def test_checking_a_signed_bundle_never_imports_cryptography(base: Path, pub_file: Path) -> None:
    code = f"""
import json, sys
from pathlib import Path
from edge_agent.bundle.verify import load_public_key, verify_bundle
b = verify_bundle(Path({str(base)!r}), [load_public_key(Path({str(pub_file)!r}))])
assert b.signed_by
print(json.dumps(sorted(sys.modules)))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "nacl.signing" in loaded
    assert not any(m == "cryptography" or m.startswith("cryptography.") for m in loaded)
