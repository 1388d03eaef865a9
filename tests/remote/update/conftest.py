"""Fixtures for update tests: a signing key trusted by the device and a ModelControl on bundle v1."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundle_factory import make_bundle
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from model_control import ModelControl

from edge_agent.bundle.sign import public_pem
from edge_agent.inference.config import ModelConfig


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def trusted(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    p = tmp_path / "trusted.pub"
    p.write_bytes(public_pem(key.public_key()))
    return p


@pytest.fixture
def control(tmp_path: Path, key: Ed25519PrivateKey, trusted: Path) -> ModelControl:
    v1 = make_bundle(tmp_path / "v1", key, version="1.0", bias=1.0)
    return ModelControl(ModelConfig(path=v1, trusted_keys=[trusted]))
