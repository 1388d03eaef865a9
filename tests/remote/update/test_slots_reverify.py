"""Installed slots are verified before they are reused: the same bundle sent again over a damaged
installed copy installs a good copy; a copy that does not verify never appears under versions/."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import archive, make_bundle
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from model_control import ModelControl

from edge_agent.bundle.verify import verify_bundle
from edge_agent.errors import UpdateError
from edge_agent.remote.update import Slots, UpdatePolicy, UpdateService


def _damage(version_dir: Path, how: str, tmp_path: Path) -> None:
    model = version_dir / "model.onnx"
    if how == "tampered-model":
        model.write_bytes(model.read_bytes()[:-1] + b"\x07")
    elif how == "truncated-model":
        model.write_bytes(model.read_bytes()[:10])
    elif how == "unlisted-file":
        (version_dir / "evil.so").write_bytes(b"\x7fELF")
    elif how == "model-symlink":
        copy = tmp_path / "outside.onnx"
        copy.write_bytes(model.read_bytes())
        model.unlink()
        os.symlink(copy, model)
    elif how == "missing-golden":
        (version_dir / "golden_out.npz").unlink()
    elif how == "missing-signature":
        (version_dir / "manifest.sig").unlink()
    elif how == "other-signature":
        (version_dir / "manifest.sig").write_bytes(b"\x00" * 64)
    else:
        raise AssertionError(how)


DAMAGES = [
    "tampered-model",
    "truncated-model",
    "unlisted-file",
    "model-symlink",
    "missing-golden",
    "missing-signature",
    "other-signature",
]


def test_same_intact_bundle_is_reused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    b = make_bundle(tmp_path / "b", key)
    slots = Slots(tmp_path / "state", "cam")
    first = slots.stage(b, "tiny@1.0")
    inode = (first / "model.onnx").stat().st_ino
    assert slots.stage(b, "tiny@1.0") == first
    assert (first / "model.onnx").stat().st_ino == inode  # not copied again


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_installed_slot_is_replaced_when_the_same_bundle_comes_again(
    tmp_path: Path, key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    b = make_bundle(tmp_path / "b", key)
    slots = Slots(tmp_path / "state", "cam")
    installed = slots.stage(b, "tiny@1.0")
    slots.activate(installed)
    _damage(installed, how, tmp_path)
    with caplog.at_level(logging.WARNING, logger="edge_agent.remote.update.slots"):
        again = slots.stage(b, "tiny@1.0")
    assert again == installed
    assert "installed copy is damaged" in caplog.text
    assert verify_bundle(again, [key.public_key()]).signed_by is not None
    assert slots.current == again.resolve()  # `current` names the good copy
    assert not list(slots.root.glob(".staging-*"))
    assert not list(slots.root.glob(".trash-*"))


@pytest.mark.parametrize("extra", ["unlisted-file", "symlink"])
def test_a_source_that_changed_after_verification_is_not_installed(
    tmp_path: Path, key: Ed25519PrivateKey, extra: str
) -> None:
    b = make_bundle(tmp_path / "b", key)
    verify_bundle(b, [key.public_key()])
    if extra == "unlisted-file":
        (b / "dropped-in.sh").write_text("#!/bin/sh\n")
        reason = r"not listed in the manifest: dropped-in\.sh"
    else:
        os.symlink("/etc/passwd", b / "passwd")
        reason = r"passwd is a symlink"
    slots = Slots(tmp_path / "state", "cam")
    with pytest.raises(UpdateError, match=reason):
        slots.stage(b, "tiny@1.0")
    assert list(slots.versions.iterdir()) == []
    assert not list(slots.root.glob(".staging-*"))


def _service(control: ModelControl, state: Path, reports: list[dict[str, Any]]) -> UpdateService:
    return UpdateService(
        control,
        state,
        "dev1",
        model_config=lambda _p: control.cfg,
        report=reports.append,
        policy=UpdatePolicy(health_window_s=0.3),
    )


def test_resending_the_same_bundle_over_a_damaged_slot_installs_a_good_copy(
    tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl
) -> None:
    """Before: the damaged slot was reused, the reopen failed, and the update rolled back."""
    reports: list[dict[str, Any]] = []
    svc = _service(control, tmp_path / "state", reports)
    tgz, sha = archive(make_bundle(tmp_path / "v2", key, version="2.0", bias=5.0))
    assert svc.run("cam", {"url": tgz.as_uri(), "sha256": sha}, "u1")["state"] == "ok"
    slots = Slots(tmp_path / "state", "cam")
    current = slots.current
    assert current is not None
    _damage(current, "tampered-model", tmp_path)
    final = svc.run("cam", {"url": tgz.as_uri(), "sha256": sha}, "u2")
    assert final["state"] == "ok", reports
    assert control.version == "2.0"
    assert slots.current == current
    verify_bundle(current, [key.public_key()])


def test_update_with_an_unlisted_member_is_refused_at_verify(
    tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl
) -> None:
    b = make_bundle(tmp_path / "v2", key, version="2.0")
    tgz = tmp_path / "v2-extra.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for p in sorted(b.iterdir()):
            tar.add(p, arcname=f"./{p.name}")  # `tar czf -C dir .` style names are fine...
        extra = tmp_path / "extra.py"
        extra.write_text("print('hi')\n")
        tar.add(extra, arcname="./hooks/extra.py")  # ...a file the manifest does not list is not
    sha = hashlib.sha256(tgz.read_bytes()).hexdigest()
    reports: list[dict[str, Any]] = []
    final = _service(control, tmp_path / "state", reports).run(
        "cam", {"url": tgz.as_uri(), "sha256": sha}, "u"
    )
    assert (final["state"], final["failed_step"]) == ("failed", "verify"), reports
    assert "not listed in the manifest: hooks, hooks/extra.py" in final["reason"]
    assert control.version == "1.0"
    assert Slots(tmp_path / "state", "cam").current is None
    assert json.dumps(final)  # the report is plain JSON
