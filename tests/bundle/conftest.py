"""Fixtures for the bundle variants: a signing key, its public key file, a fresh real signed bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge_agent.bundle.sign import public_pem
from tests.bundle.variants import make_bundle


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def pub(key: Ed25519PrivateKey) -> Ed25519PublicKey:
    return key.public_key()


@pytest.fixture
def pub_file(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    p = tmp_path / "trusted.pub"
    p.write_bytes(public_pem(key.public_key()))
    return p


@pytest.fixture
def base(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    """A signed bundle directory: model.onnx, golden_in.npz, golden_out.npz, manifest.json/.sig."""
    return make_bundle(tmp_path / "bundle", key, version="1.0", bias=1.0)
