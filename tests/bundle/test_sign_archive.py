"""Signing, verification and one-file archives of bundles, with real keys and real files."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from edge_agent.bundle.archive import pack, unpack
from edge_agent.bundle.manifest import MANIFEST, SIGNATURE, FileEntry, Manifest
from edge_agent.bundle.sign import load_private_key, sign_bundle, write_keypair
from edge_agent.bundle.verify import load_public_key, verify_bundle
from edge_agent.errors import BundleError


def _bundle(root: Path) -> Path:
    root.mkdir()
    payload = b"not really onnx, but the checksums do not care"
    (root / "model.onnx").write_bytes(payload)
    entry = FileEntry(path="model.onnx", sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    m = Manifest(
        name="tiny",
        version="1",
        task="raw",
        created="2026-01-01T00:00:00Z",
        exporter_version="0",
        target="generic-x86",
        model="model.onnx",
        inputs=[],
        outputs=[],
        files=[entry],
    )
    (root / MANIFEST).write_text(json.dumps(m.model_dump(mode="json")))
    return root


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_keypair(tmp_path / "keys" / "release")


@pytest.fixture
def signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    root = _bundle(tmp_path / "b")
    sign_bundle(root, load_private_key(keys[0]))
    return root


def test_keygen_writes_private_key_0600_and_refuses_overwrite(keys: tuple[Path, Path]) -> None:
    key, pub = keys
    assert key.stat().st_mode & 0o777 == 0o600
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY")
    with pytest.raises(BundleError, match="refusing to overwrite"):
        write_keypair(key.with_suffix(""))


def test_signed_bundle_verifies_with_its_key(signed: Path, keys: tuple[Path, Path]) -> None:
    b = verify_bundle(signed, [load_public_key(keys[1])])
    assert b.signed_by is not None
    assert b.manifest.model_id == "tiny@1"


def test_tampered_model_file_is_refused(signed: Path, keys: tuple[Path, Path]) -> None:
    with (signed / "model.onnx").open("ab") as f:
        f.write(b"!")
    with pytest.raises(BundleError, match=r"checksum mismatch for model\.onnx"):
        verify_bundle(signed, [load_public_key(keys[1])])


def test_tampered_manifest_is_refused(signed: Path, keys: tuple[Path, Path]) -> None:
    raw = (signed / MANIFEST).read_text().replace('"version": "1"', '"version": "2"')
    (signed / MANIFEST).write_text(raw)
    with pytest.raises(BundleError, match="signature does not verify"):
        verify_bundle(signed, [load_public_key(keys[1])])


def test_wrong_key_is_refused(signed: Path, tmp_path: Path) -> None:
    _, other = write_keypair(tmp_path / "other")
    with pytest.raises(BundleError, match="signature does not verify"):
        verify_bundle(signed, [load_public_key(other)])


def test_missing_signature_is_refused_when_keys_are_trusted(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    root = _bundle(tmp_path / "u")
    with pytest.raises(BundleError, match="unsigned bundle"):
        verify_bundle(root, [load_public_key(keys[1])])


def test_archive_round_trip_is_deterministic_and_verifies(
    signed: Path, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    a = pack(signed, tmp_path / "one.bundle.tgz")
    b = pack(signed, tmp_path / "two.bundle.tgz")
    assert a.read_bytes() == b.read_bytes()
    out = unpack(a, tmp_path / "unpacked")
    assert (out / SIGNATURE).is_file()
    assert verify_bundle(out, [load_public_key(keys[1])]).signed_by is not None


def _evil(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo(MANIFEST)
        good.size = 2
        tar.addfile(good, io.BytesIO(b"{}"))
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("../escape.txt", tarfile.REGTYPE, "outside the bundle"),
        ("/etc/passwd-copy", tarfile.REGTYPE, "outside the bundle"),
        ("link", tarfile.SYMTYPE, "not a regular file"),
        ("hard", tarfile.LNKTYPE, "not a regular file"),
    ],
)
def test_unpack_refuses_unsafe_members(tmp_path: Path, name: str, kind: bytes, reason: str) -> None:
    m = tarfile.TarInfo(name)
    m.type = kind
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        m.linkname = "/etc/passwd"
    archive = _evil(tmp_path / "evil.tgz", m)
    with pytest.raises(BundleError, match=reason):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_unpack_refuses_archives_too_large(signed: Path, tmp_path: Path) -> None:
    a = pack(signed, tmp_path / "b.bundle.tgz")
    with pytest.raises(BundleError, match=r"more than 10 bytes"):
        unpack(a, tmp_path / "out", max_bytes=10)


def test_unpack_refuses_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(BundleError, match="not a readable bundle archive"):
        unpack(junk, tmp_path / "out")
