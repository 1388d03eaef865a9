"""Bundle directories, hostile and legitimate: each variant of one real signed bundle is refused by
verify_bundle with its reason, or accepted. The agent (open_model) and `edge-export verify` use the
same function; a few variants go through each of them as well."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge_agent.bundle.manifest import MANIFEST, SIGNATURE
from edge_agent.bundle.verify import MAX_JSON_DEPTH, MAX_MANIFEST_BYTES, verify_bundle
from edge_agent.errors import BundleError, ModelError
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import open_model
from exporters.cli import main as export_main
from tests.bundle.variants import entry, manifest, resign

Mutate = Callable[[Path, Ed25519PrivateKey, Path], None]


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"x": value}
    return value


def _add_listed(rel: str, data: bytes) -> Mutate:
    def go(root: Path, key: Ed25519PrivateKey, _tmp: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        resign(root, key, lambda m: m["files"].append(entry(root, rel)))

    return go


def _write(rel: str, data: bytes = b"payload") -> Mutate:
    def go(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    return go


def _mkdir(rel: str) -> Mutate:
    return lambda root, _k, _t: (root / rel).mkdir(parents=True)


def _symlink(rel: str, target: Callable[[Path, Path], str]) -> Mutate:
    def go(root: Path, _key: Ed25519PrivateKey, tmp: Path) -> None:
        os.symlink(target(root, tmp), root / rel)

    return go


def _replace_by_link(rel: str) -> Mutate:
    """`rel` becomes a symlink to an identical copy outside: the checksum alone would pass."""

    def go(root: Path, _key: Ed25519PrivateKey, tmp: Path) -> None:
        outside = tmp / f"outside-{rel.replace('/', '_')}"
        shutil.copyfile(root / rel, outside)
        (root / rel).unlink()
        os.symlink(outside, root / rel)

    return go


def _hardlink(rel: str) -> Mutate:
    def go(root: Path, _key: Ed25519PrivateKey, tmp: Path) -> None:
        os.link(root / rel, tmp / "other-name")

    return go


def _fifo(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
    os.mkfifo(root / "pipe")


def _socket(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(root / "sock"))
    s.close()


def _edit(fn: Callable[[dict[str, Any]], None]) -> Mutate:
    return lambda root, key, _t: resign(root, key, fn)


def _raw(data: bytes) -> Mutate:
    return lambda root, key, _t: resign(root, key, raw=data)


def _append(rel: str, data: bytes = b"!") -> Mutate:
    def go(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
        with (root / rel).open("ab") as f:
            f.write(data)

    return go


def _flip_byte(rel: str) -> Mutate:
    def go(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
        data = bytearray((root / rel).read_bytes())
        data[len(data) // 2] ^= 0x01
        (root / rel).write_bytes(bytes(data))

    return go


def _resign_with_other_key(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
    resign(root, Ed25519PrivateKey.generate())


def _unsigned_change(root: Path, _key: Ed25519PrivateKey, _tmp: Path) -> None:
    text = (root / MANIFEST).read_text().replace('"version": "1.0"', '"version": "9.9"')
    (root / MANIFEST).write_text(text)


def _set_first_path(path: str) -> Mutate:
    def edit(m: dict[str, Any]) -> None:
        m["files"][0]["path"] = path

    return _edit(edit)


def _dup_entry(m: dict[str, Any]) -> None:
    m["files"].append(dict(m["files"][0]))


def _deep_report(depth: int) -> Mutate:
    def edit(m: dict[str, Any]) -> None:
        m["report"] = _nested(depth)

    return _edit(edit)


def _deep_raw(depth: int) -> Mutate:
    """`depth` nested arrays as the value of `report`, written as text (json.dumps would recurse)."""

    def go(root: Path, key: Ed25519PrivateKey, _tmp: Path) -> None:
        text = (root / MANIFEST).read_text()
        head, _, _tail = text.rpartition('"report"')
        raw = head + '"report": {"deep": ' + "[" * depth + "]" * depth + "}\n}"
        resign(root, key, raw=raw.encode())

    return go


def _huge(root: Path, key: Ed25519PrivateKey, _tmp: Path) -> None:
    resign(root, key, lambda m: m.update(report={"pad": "x" * (MAX_MANIFEST_BYTES + 10)}))


OUTSIDE_FILE = "/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd"

# (id, mutation, expected reason regex; None = accepted)
VARIANTS: list[tuple[str, Mutate | None, str | None]] = [
    ("pristine", None, None),
    ("listed-extra-file-in-subdir", _add_listed("labels/labels.txt", b"a\nb\n"), None),
    ("listed-empty-file", _add_listed("empty.bin", b""), None),
    ("depth-at-the-limit", _deep_report(MAX_JSON_DEPTH - 1), None),  # the top object is one level
    ("unlisted-file", _write("extra.txt"), r"not listed in the manifest: extra\.txt"),
    (
        "unlisted-file-in-subdir",
        _write("sub/payload.so"),
        r"not listed in the manifest: sub, sub/payload\.so",
    ),
    ("unlisted-hidden-file", _write(".hidden"), r"not listed in the manifest: \.hidden"),
    ("unlisted-manifest-backup", _write("manifest.json.bak"), r"not listed.*manifest\.json\.bak"),
    ("unlisted-empty-dir", _mkdir("empty"), r"not listed in the manifest: empty"),
    ("unlisted-many", lambda r, k, t: [_write(f"x{i}")(r, k, t) for i in range(7)], r"x0, x1.* and 2 more"),
    ("unlisted-next-to-listed", _write("labels/evil.txt"), r"not listed.*labels"),
    ("symlink-to-inside", _symlink("alias.onnx", lambda r, t: "model.onnx"), r"alias\.onnx is a symlink"),
    ("symlink-to-outside-file", _symlink("host", lambda r, t: OUTSIDE_FILE), r"host is a symlink"),
    ("symlink-to-outside-dir", _symlink("rootfs", lambda r, t: "/"), r"rootfs is a symlink"),
    ("symlink-dangling", _symlink("gone", lambda r, t: str(t / "nowhere")), r"gone is a symlink"),
    ("symlink-to-parent", _symlink("up", lambda r, t: ".."), r"up is a symlink"),
    ("listed-model-is-symlink", _replace_by_link("model.onnx"), r"model\.onnx is a symlink"),
    ("listed-golden-is-symlink", _replace_by_link("golden_in.npz"), r"golden_in\.npz is a symlink"),
    ("manifest-is-symlink", _replace_by_link(MANIFEST), r"manifest\.json is a symlink"),
    ("signature-is-symlink", _replace_by_link(SIGNATURE), r"manifest\.sig is a symlink"),
    ("hardlinked-model", _hardlink("model.onnx"), r"model\.onnx has 2 hard links"),
    ("fifo", _fifo, r"pipe is not a regular file"),
    ("unix-socket", _socket, r"sock is not a regular file"),
    ("tampered-model", _flip_byte("model.onnx"), r"checksum mismatch for model\.onnx"),
    ("grown-model", _append("model.onnx"), r"checksum mismatch for model\.onnx"),
    ("tampered-golden", _flip_byte("golden_out.npz"), r"checksum mismatch for golden_out\.npz"),
    ("missing-model", lambda r, k, t: (r / "model.onnx").unlink(), r"missing file model\.onnx"),
    ("missing-golden", lambda r, k, t: (r / "golden_in.npz").unlink(), r"missing file golden_in\.npz"),
    ("missing-manifest", lambda r, k, t: (r / MANIFEST).unlink(), r"no readable manifest\.json"),
    (
        "manifest-is-dir",
        lambda r, k, t: ((r / MANIFEST).unlink(), (r / MANIFEST).mkdir()),
        "not a regular file",
    ),
    ("missing-signature", lambda r, k, t: (r / SIGNATURE).unlink(), r"unsigned bundle"),
    ("bad-signature", _flip_byte(SIGNATURE), r"signature does not verify"),
    ("empty-signature", lambda r, k, t: (r / SIGNATURE).write_bytes(b""), r"signature does not verify"),
    ("oversize-signature", lambda r, k, t: (r / SIGNATURE).write_bytes(b"s" * 5000), r"at most 4096"),
    ("other-key-signature", _resign_with_other_key, r"signature does not verify"),
    ("manifest-changed-after-signing", _unsigned_change, r"signature does not verify"),
    ("deep-manifest-100000", _deep_raw(100_000), rf"nests deeper than {MAX_JSON_DEPTH} levels"),
    ("deep-manifest-5000", _deep_raw(5000), rf"nests deeper than {MAX_JSON_DEPTH} levels"),
    ("deep-manifest-just-over", _deep_report(MAX_JSON_DEPTH), rf"nests deeper than {MAX_JSON_DEPTH}"),
    ("huge-manifest", _huge, rf"manifest\.json is \d+ bytes; at most {MAX_MANIFEST_BYTES}"),
    ("manifest-not-json", _raw(b"{not json"), r"manifest\.json is not valid JSON"),
    ("manifest-not-utf8", _raw(b'{"name": "\xff\xfe"}'), r"manifest\.json is not valid JSON"),
    ("manifest-a-list", _raw(b"[1, 2]"), r"invalid manifest"),
    ("manifest-missing-field", _edit(lambda m: m.pop("model")), r"invalid manifest: model: Field required"),
    (
        "manifest-unknown-field",
        _edit(lambda m: m.update(evil=True)),
        r"invalid manifest: evil: Extra inputs are not permitted",
    ),
    ("listed-traversal", _set_first_path("../outside.onnx"), r"outside the bundle.*\.\./outside"),
    ("listed-absolute", _set_first_path("/etc/passwd"), r"outside the bundle.*/etc/passwd"),
    ("listed-dot-prefix", _set_first_path("./model.onnx"), r"not normalised: '\./model\.onnx'"),
    ("listed-double-slash", _set_first_path("sub//model.onnx"), r"not normalised"),
    ("listed-backslash", _set_first_path("sub\\model.onnx"), r"not normalised"),
    ("listed-nul", _set_first_path("model.onnx\x00.txt"), r"not normalised"),
    ("listed-empty", _set_first_path(""), r"not normalised"),
    ("listed-twice", _edit(_dup_entry), r"lists 'model\.onnx' twice"),
    ("lists-its-signature", _set_first_path(SIGNATURE), r"lists its own file 'manifest\.sig'"),
    ("model-not-listed", _edit(lambda m: m.update(model="other.onnx")), r"not among the checksummed"),
    (
        "golden-not-listed",
        _edit(lambda m: m["golden"][0].update(inputs="nowhere.npz")),
        r"golden file 'nowhere\.npz' is not among",
    ),
]


@pytest.mark.parametrize(("mutate", "reason"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_bundle_directory_variant(
    base: Path,
    key: Ed25519PrivateKey,
    pub: Ed25519PublicKey,
    tmp_path: Path,
    *,
    mutate: Mutate | None,
    reason: str | None,
) -> None:
    if mutate is not None:
        mutate(base, key, tmp_path)
    if reason is None:
        b = verify_bundle(base, [pub])
        assert b.signed_by is not None
        assert b.manifest.model_id == "tiny@1.0"
        return
    with pytest.raises(BundleError, match=reason) as info:
        verify_bundle(base, [pub])
    assert "\n" not in str(info.value)  # one line, pydantic's errors included


def test_variants_are_at_least_forty() -> None:
    assert len(VARIANTS) >= 40


def test_unsigned_bundle_verifies_by_checksum_when_no_key_is_trusted(base: Path) -> None:
    (base / SIGNATURE).unlink()
    assert verify_bundle(base).signed_by is None


def test_unlisted_file_is_refused_even_without_trusted_keys(base: Path) -> None:
    (base / "extra.txt").write_text("x")
    with pytest.raises(BundleError, match=r"not listed in the manifest: extra\.txt"):
        verify_bundle(base)


def test_bundle_reached_through_a_symlink_is_accepted(
    base: Path, pub: Ed25519PublicKey, tmp_path: Path
) -> None:
    link = tmp_path / "current"
    os.symlink(base, link)  # the update slots' `current` is such a link
    assert verify_bundle(link, [pub]).root == link


def test_deep_manifest_is_refused_quickly_with_one_line(
    base: Path, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    _deep_raw(100_000)(base, key, tmp_path)
    with pytest.raises(BundleError) as info:
        verify_bundle(base)  # no keys: the parser itself meets the nesting
    assert str(info.value).count("\n") == 0
    assert not isinstance(info.value.__cause__, RecursionError)  # no RecursionError chained into logs


def test_agent_refuses_unlisted_file_and_symlink(base: Path, pub_file: Path, tmp_path: Path) -> None:
    cfg = ModelConfig(path=base, trusted_keys=[pub_file])
    assert open_model(cfg).bundle is not None
    (base / "extra.txt").write_text("x")
    with pytest.raises(ModelError, match=r"not listed in the manifest: extra\.txt"):
        open_model(cfg)
    (base / "extra.txt").unlink()
    _replace_by_link("model.onnx")(base, Ed25519PrivateKey.generate(), tmp_path)
    with pytest.raises(ModelError, match=r"model\.onnx is a symlink"):
        open_model(cfg)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (_write("extra.txt"), r"not listed in the manifest: extra\.txt"),
        (_symlink("host", lambda r, t: OUTSIDE_FILE), r"host is a symlink"),
        (_deep_raw(100_000), r"nests deeper than"),
    ],
    ids=["unlisted", "symlink", "deep"],
)
def test_edge_export_verify_refuses_with_one_line(
    base: Path,
    key: Ed25519PrivateKey,
    pub_file: Path,
    tmp_path: Path,
    *,
    capsys: pytest.CaptureFixture[str],
    mutate: Mutate,
    reason: str,
) -> None:
    assert export_main(["verify", str(base), "--key", str(pub_file)]) == 0
    capsys.readouterr()
    mutate(base, key, tmp_path)
    assert export_main(["verify", str(base), "--key", str(pub_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert __import__("re").search(reason, err), err


def test_manifest_fields_survive_a_resign(base: Path, key: Ed25519PrivateKey, pub: Ed25519PublicKey) -> None:
    """The helper the variants use changes only what a variant asks for."""
    before = manifest(base)
    resign(base, key)
    assert manifest(base) == before
    assert json.loads((base / MANIFEST).read_text())["name"] == "tiny"
    assert verify_bundle(base, [pub]).signed_by is not None
