"""Packed bundles (tar.gz), hostile and legitimate: each is unpacked with edge_agent.bundle.archive and
verified, as the agent's update and `edge-export verify` do; refused with its reason, or accepted."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_agent.bundle.archive import MAX_MEMBERS, pack, unpack
from edge_agent.bundle.manifest import MANIFEST
from edge_agent.bundle.verify import Bundle, verify_bundle
from edge_agent.errors import BundleError
from exporters.cli import main as export_main
from tests.bundle.variants import members, tar_from

Build = Callable[[Path, Path], Path]  # (bundle dir, output path) -> archive
Items = list[tuple[tarfile.TarInfo, bytes | None]]


def _open(path: Path, pub: Ed25519PublicKey, *, max_bytes: int | None = None) -> Bundle:
    dest = path.with_name(path.name + ".out")
    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    return verify_bundle(unpack(path, dest, **kwargs), [pub])


def _plus(*extra: tuple[str, bytes, bytes | None], prefix: str = "") -> Build:
    """The bundle's members plus `extra` (name, tar type, data) members."""

    def build(root: Path, out: Path) -> Path:
        items: Items = members(root, prefix)
        for name, kind, data in extra:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = "/etc/passwd" if name.endswith("abs") else "model.onnx"
            if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3
            items.append((info, data))
        return tar_from(out, items)

    return build


def _edit_items(edit: Callable[[Items], Items], prefix: str = "") -> Build:
    return lambda root, out: tar_from(out, edit(members(root, prefix)))


def _rename(old: str, new: str) -> Callable[[Items], Items]:
    def go(items: Items) -> Items:
        for info, _ in items:
            if info.name == old:
                info.name = new
        return items

    return go


def _dup(name: str) -> Callable[[Items], Items]:
    def go(items: Items) -> Items:
        _, data = next(i for i in items if i[0].name == name)
        copy = tarfile.TarInfo(f"./{name}" if not name.startswith("./") else name)
        return [*items, (copy, data)]

    return go


def _tampered(items: Items) -> Items:
    out: Items = []
    for info, data in items:
        flipped = data[:-1] + bytes([data[-1] ^ 1]) if data and info.name.endswith("model.onnx") else data
        out.append((info, flipped))
    return out


def _with_dot_dir(items: Items) -> Items:
    top = tarfile.TarInfo(".")
    top.type = tarfile.DIRTYPE
    return [(top, None), *items]


def _packed(root: Path, out: Path) -> Path:
    return pack(root, out)


def _gnu_tar(*args: str) -> Build:
    def build(root: Path, out: Path) -> Path:
        if shutil.which("tar") is None:
            pytest.skip("no tar command on this machine")
        subprocess.run(["tar", "czf", str(out), "-C", str(root), *args], check=True)
        return out

    return build


def _gnu_tar_parent(root: Path, out: Path) -> Path:
    """`tar czf x.tgz -C parent bundle`: everything one level down, no manifest at the top."""
    subprocess.run(["tar", "czf", str(out), "-C", str(root.parent), root.name], check=True)
    return out


def _uncompressed(root: Path, out: Path) -> Path:
    with tarfile.open(out, "w") as tar:
        for info, data in members(root):
            tar.addfile(info, io.BytesIO(data or b""))
    return out


def _garbage(_root: Path, out: Path) -> Path:
    out.write_bytes(b"\x00" * 512)
    return out


def _random_bytes(_root: Path, out: Path) -> Path:
    out.write_bytes(bytes(range(256)) * 8)
    return out


def _not_gzip_inside(_root: Path, out: Path) -> Path:
    out.write_bytes(gzip.compress(b"this is not a tar stream " * 100))
    return out


def _truncated(root: Path, out: Path) -> Path:
    data = pack(root, out).read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def _many(root: Path, out: Path) -> Path:
    items = members(root)
    for i in range(MAX_MEMBERS):
        info = tarfile.TarInfo(f"f{i}")
        items.append((info, b""))
    return tar_from(out, items)


def _manifest_as_dir(root: Path, out: Path) -> Path:
    items = [i for i in members(root) if i[0].name != MANIFEST]
    d = tarfile.TarInfo(MANIFEST)
    d.type = tarfile.DIRTYPE
    return tar_from(out, [(d, None), *items])


# (id, builder, expected reason regex; None = accepted)
ARCHIVES: list[tuple[str, Build, str | None]] = [
    ("pack", _packed, None),
    ("tar-czf-dot", _gnu_tar("."), None),  # ./manifest.json, ./model.onnx, and a ./ entry
    (
        "tar-czf-names",
        _gnu_tar(MANIFEST, "manifest.sig", "model.onnx", "golden_in.npz", "golden_out.npz"),
        None,
    ),
    ("python-dot-prefix", _edit_items(lambda items: items, prefix="./"), None),
    ("python-dot-dir-entry", _edit_items(_with_dot_dir, prefix="./"), None),
    ("double-dot-slash", _edit_items(lambda items: items, prefix="././"), None),
    ("uncompressed-tar", _uncompressed, None),
    (
        "dot-prefix-plus-unlisted",
        _plus(("./extra.txt", tarfile.REGTYPE, b"x"), prefix="./"),
        r"not listed.*extra",
    ),
    ("unlisted-file", _plus(("payload.sh", tarfile.REGTYPE, b"#!/bin/sh\n")), r"not listed.*payload\.sh"),
    ("unlisted-dir", _plus(("empty", tarfile.DIRTYPE, None)), r"not listed in the manifest: empty"),
    ("symlink-inside", _plus(("alias", tarfile.SYMTYPE, None)), r"'alias' is a link"),
    ("symlink-outside-abs", _plus(("abs", tarfile.SYMTYPE, None)), r"'abs' is a link"),
    ("hardlink", _plus(("hard", tarfile.LNKTYPE, None)), r"'hard' is a link"),
    ("char-device", _plus(("null", tarfile.CHRTYPE, None)), r"'null' is not a regular file"),
    ("block-device", _plus(("disk", tarfile.BLKTYPE, None)), r"'disk' is not a regular file"),
    ("fifo", _plus(("pipe", tarfile.FIFOTYPE, None)), r"'pipe' is not a regular file"),
    ("traversal", _plus(("../escape.txt", tarfile.REGTYPE, b"x")), r"'\.\./escape\.txt' points outside"),
    ("traversal-deep", _plus(("a/../../escape.txt", tarfile.REGTYPE, b"x")), r"points outside"),
    ("traversal-dot-prefix", _plus(("./../escape.txt", tarfile.REGTYPE, b"x")), r"points outside"),
    ("absolute", _plus(("/tmp/escape.txt", tarfile.REGTYPE, b"x")), r"points outside the bundle \(absolute"),
    ("backslash", _plus(("..\\escape.txt", tarfile.REGTYPE, b"x")), r"points outside"),
    ("duplicate-member", _edit_items(lambda i: [*i, i[0]]), r"appears more than once"),
    ("duplicate-via-dot-prefix", _edit_items(_dup("model.onnx")), r"'model\.onnx' appears more than once"),
    ("file-then-dir-same-name", _plus(("model.onnx", tarfile.DIRTYPE, None)), r"appears more than once"),
    ("too-many-members", _many, rf"more than {MAX_MEMBERS} members"),
    ("no-top-level-manifest", _gnu_tar_parent, r"no manifest\.json at its top level"),
    ("manifest-is-a-dir", _manifest_as_dir, r"no manifest\.json at its top level"),
    ("manifest-renamed", _edit_items(_rename(MANIFEST, "Manifest.json")), r"no manifest\.json"),
    ("tampered-model", _edit_items(_tampered), r"checksum mismatch for model\.onnx"),
    (
        "missing-model",
        _edit_items(lambda i: [x for x in i if x[0].name != "model.onnx"]),
        r"missing file model",
    ),
    ("zero-blocks", _garbage, r"no manifest\.json at its top level"),  # an empty tar, to tarfile
    ("random-bytes", _random_bytes, r"not a readable bundle archive"),
    ("gzip-of-not-tar", _not_gzip_inside, r"not a readable bundle archive"),
    ("truncated", _truncated, r"not a readable bundle archive"),
]


@pytest.mark.parametrize(("build", "reason"), [a[1:] for a in ARCHIVES], ids=[a[0] for a in ARCHIVES])
def test_archive_variant(
    base: Path, pub: Ed25519PublicKey, tmp_path: Path, *, build: Build, reason: str | None
) -> None:
    archive = build(base, tmp_path / "x.tgz")
    dest = archive.with_name(archive.name + ".out")
    if reason is None:
        b = _open(archive, pub)
        assert b.signed_by is not None
        assert sorted(p.name for p in dest.iterdir()) == [
            "golden_in.npz",
            "golden_out.npz",
            "manifest.json",
            "manifest.sig",
            "model.onnx",
        ]
        return
    with pytest.raises(BundleError, match=reason) as info:
        _open(archive, pub)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "escape.txt").exists()
    assert not Path("/tmp/escape.txt").exists() or reason is None


def test_archive_variants_count(tmp_path: Path) -> None:
    assert len(ARCHIVES) >= 30


def test_unpack_refuses_oversize_total(base: Path, pub: Ed25519PublicKey, tmp_path: Path) -> None:
    archive = pack(base, tmp_path / "b.bundle.tgz")
    with pytest.raises(BundleError, match=r"unpacks to more than 100 bytes"):
        _open(archive, pub, max_bytes=100)
    assert not (tmp_path / "b.bundle.tgz.out").exists()
    assert not (tmp_path / "b.bundle.tgz.out.part").exists()


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (_gnu_tar("."), None),
        (_plus(("extra.txt", tarfile.REGTYPE, b"x")), r"not listed in the manifest: extra\.txt"),
        (_plus(("alias", tarfile.SYMTYPE, None)), r"is a link"),
    ],
    ids=["tar-czf-dot", "unlisted", "symlink"],
)
def test_edge_export_verify_on_archives(
    base: Path,
    pub_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    build: Build,
    reason: str | None,
) -> None:
    archive = build(base, tmp_path / "x.bundle.tgz")
    rc = export_main(["verify", str(archive), "--key", str(pub_file)])
    out = capsys.readouterr()
    if reason is None:
        assert rc == 0, out.err
        assert "ok: tiny@1.0" in out.out
        return
    assert rc == 1
    assert out.err.count("\n") == 1, out.err
    assert re.search(reason, out.err), out.err
