"""A packed bundle (`*.bundle.tgz`) as `model.path`: verified, unpacked into <state_dir>/packed/<sha256>/,
reused while the archive is unchanged (verified again first), a clear error when it is bad."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.archive import pack
from edge_agent.bundle.manifest import SIGNATURE
from edge_agent.bundle.packed import unpack_verified, with_unpacked_bundle
from edge_agent.bundle.sign import public_pem
from edge_agent.config.models import PipelineConfig
from edge_agent.errors import BundleError, ModelError
from edge_agent.inference.session import open_model
from edge_agent.remote.update.service import with_installed_bundle
from tests.bundle.variants import make_bundle, members, tar_from


def _pcfg(path: Path, keys: list[Path], model_id: str | None = None) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "source": {"kind": "video", "path": "/dev/null"},
            "model": {"path": str(path), "trusted_keys": [str(k) for k in keys], "id": model_id},
        }
    )


@pytest.fixture
def packed(base: Path, tmp_path: Path) -> Path:
    return pack(base, tmp_path / "tiny.bundle.tgz")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_packed_model_path_is_unpacked_verified_and_runs(
    packed: Path, pub_file: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    pcfg = with_installed_bundle(state, "cam", _pcfg(packed, [pub_file], model_id="door"))
    dest = state / "packed" / _sha(packed)
    assert pcfg.model.path == dest
    assert pcfg.model.id == "door"  # the operator's id is kept
    model = open_model(pcfg.model)
    assert model.bundle is not None
    assert model.bundle.signed_by is not None
    assert model.model_id == "door"
    out = model.run({"x": np.arange(4, dtype=np.float32).reshape(1, 4)})
    np.testing.assert_allclose(out[0], [[1.0, 3.0, 5.0, 7.0]])
    assert not [p for p in (state / "packed").iterdir() if p.name.startswith(".")]  # no work dirs left


def test_second_start_reuses_the_unpacked_copy(
    packed: Path, pub_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    first = with_installed_bundle(state, "cam", _pcfg(packed, [pub_file])).model.path
    inode = (first / "model.onnx").stat().st_ino
    with caplog.at_level(logging.INFO, logger="edge_agent.bundle.packed"):
        second = with_installed_bundle(state, "cam", _pcfg(packed, [pub_file])).model.path
    assert second == first
    assert (second / "model.onnx").stat().st_ino == inode  # not unpacked again
    assert "reusing the unpacked copy" in caplog.text
    assert len(list((state / "packed").iterdir())) == 1


@pytest.mark.parametrize(
    "damage",
    ["tampered-model", "unlisted-file", "model-symlink", "missing-signature", "deleted-golden"],
)
def test_damaged_unpacked_copy_is_unpacked_again(
    packed: Path, pub_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    state = tmp_path / "state"
    dest = unpack_verified(packed, state, None).root
    model = dest / "model.onnx"
    if damage == "tampered-model":
        model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    elif damage == "unlisted-file":
        (dest / "evil.so").write_bytes(b"x")
    elif damage == "model-symlink":
        copy = tmp_path / "copy.onnx"
        copy.write_bytes(model.read_bytes())
        model.unlink()
        model.symlink_to(copy)
    elif damage == "missing-signature":
        (dest / SIGNATURE).unlink()
    else:
        (dest / "golden_in.npz").unlink()
    with caplog.at_level(logging.WARNING, logger="edge_agent.bundle.packed"):
        pcfg = with_installed_bundle(state, "cam", _pcfg(packed, [pub_file]))
    assert pcfg.model.path == dest
    assert "unpacked copy is damaged" in caplog.text
    assert open_model(pcfg.model).bundle is not None  # the fresh copy verifies with the key


def test_changed_archive_gets_its_own_copy(
    base: Path, key: Ed25519PrivateKey, pub_file: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    one = pack(base, tmp_path / "a.bundle.tgz")
    v2 = pack(make_bundle(tmp_path / "v2", key, version="2.0", bias=2.0), tmp_path / "a2.bundle.tgz")
    p1 = with_installed_bundle(state, "cam", _pcfg(one, [pub_file])).model.path
    p2 = with_installed_bundle(state, "cam", _pcfg(v2, [pub_file])).model.path
    assert p1 != p2
    assert p2.name == _sha(v2)
    assert open_model(_pcfg(p2, [pub_file]).model).model_id == "tiny@2.0"


def _other_key(tmp_path: Path) -> Path:
    p = tmp_path / "other.pub"
    p.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    return p


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong-key", r"packed bundle refused: .*signature does not verify"),
        ("unsigned-with-keys", r"packed bundle refused: .*unsigned bundle"),
        ("unlisted-member", r"packed bundle refused: .*not listed in the manifest: extra\.txt"),
        ("symlink-member", r"packed bundle refused: archive member 'alias' is a link"),
        ("traversal-member", r"packed bundle refused: archive member '\.\./x' points outside"),
        ("garbage", r"packed bundle refused: .*not a readable bundle archive"),
        ("tampered-model", r"packed bundle refused: .*checksum mismatch for model\.onnx"),
    ],
)
def test_bad_packed_bundle_is_a_clear_error_and_nothing_is_kept(
    base: Path,
    pub_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    *,
    case: str,
    reason: str,
) -> None:
    state = tmp_path / "state"
    archive = tmp_path / "bad.bundle.tgz"
    keys = [pub_file]
    items = members(base)
    if case == "wrong-key":
        keys = [_other_key(tmp_path)]
        pack(base, archive)
    elif case == "unsigned-with-keys":
        items = [i for i in items if i[0].name != SIGNATURE]
    elif case in ("unlisted-member", "symlink-member", "traversal-member"):
        name = {"unlisted-member": "extra.txt", "symlink-member": "alias", "traversal-member": "../x"}[case]
        info = tarfile.TarInfo(name)
        if case == "symlink-member":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        items.append((info, None if case == "symlink-member" else b"x"))
    elif case == "garbage":
        archive.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    elif case == "tampered-model":
        items = [(i, d[:-1] + b"\x01" if d and i.name == "model.onnx" else d) for i, d in items]
    if not archive.exists():
        tar_from(archive, items)
    pcfg = _pcfg(archive, keys)
    with caplog.at_level(logging.ERROR, logger="edge_agent.bundle.packed"):
        out = with_installed_bundle(state, "cam", pcfg)
    assert out == pcfg  # unchanged: the pipeline then fails to open it, with the reason
    assert re.search(reason, caplog.text), caplog.text
    with pytest.raises(ModelError, match=reason) as info:
        open_model(out.model)
    assert "\n" not in str(info.value)
    packed_dir = state / "packed"
    assert not packed_dir.exists() or not list(packed_dir.iterdir())


def test_unsigned_packed_bundle_loads_when_no_key_is_trusted(base: Path, tmp_path: Path) -> None:
    (base / SIGNATURE).unlink()
    archive = pack(base, tmp_path / "u.bundle.tgz")
    b = unpack_verified(archive, tmp_path / "state", None)
    assert b.signed_by is None
    assert b.root == tmp_path / "state" / "packed" / _sha(archive)


def test_installed_remote_update_still_wins_over_a_packed_path(
    packed: Path, pub_file: Path, tmp_path: Path
) -> None:
    from edge_agent.remote.update.slots import Slots

    state = tmp_path / "state"
    slots = Slots(state, "cam")
    slots.activate(slots.stage(packed.with_name("bundle"), "tiny@1.0"))
    pcfg = with_installed_bundle(state, "cam", _pcfg(packed, [pub_file]))
    assert pcfg.model.path == slots.current
    assert not (state / "packed").exists()


def test_packed_path_elsewhere_says_where_it_is_accepted(packed: Path, pub_file: Path) -> None:
    """An archive that reaches the loader still packed (e.g. an ensemble member) is named as such."""
    with pytest.raises(ModelError, match=r"only as a pipeline's model\.path"):
        open_model(_pcfg(packed, [pub_file]).model)


def test_unpack_verified_refuses_an_unreadable_archive(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="cannot read the packed bundle"):
        unpack_verified(tmp_path / "absent.bundle.tgz", tmp_path / "state", None)


def test_with_unpacked_bundle_leaves_other_paths_alone(base: Path, tmp_path: Path) -> None:
    pcfg = _pcfg(base, [])
    assert with_unpacked_bundle(tmp_path / "state", "cam", pcfg) is pcfg


def test_only_the_most_recently_used_copies_are_kept(
    base: Path, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    from edge_agent.bundle.packed import KEEP_COPIES

    state = tmp_path / "state"
    first = unpack_verified(pack(base, tmp_path / "v0.bundle.tgz"), state, None).root
    made = [first]
    for i in range(1, KEEP_COPIES + 2):
        b = make_bundle(tmp_path / f"b{i}", key, version=f"{i}.5")
        made.append(unpack_verified(pack(b, tmp_path / f"v{i}.bundle.tgz"), state, None).root)
        os.utime(made[-1], (1000.0 + i, 1000.0 + i))  # a clear order of use, whatever the clock says
    os.utime(first, (5000.0, 5000.0))  # the first archive was used last: it stays
    unpack_verified(pack(base, tmp_path / "v0.bundle.tgz"), state, None)
    last = make_bundle(tmp_path / "last", key, version="9.0")
    newest = unpack_verified(pack(last, tmp_path / "last.bundle.tgz"), state, None).root
    kept = sorted(p.name for p in (state / "packed").iterdir())
    assert len(kept) == KEEP_COPIES
    assert first.name in kept
    assert newest.name in kept
    assert made[1].name not in kept  # the least recently used went
