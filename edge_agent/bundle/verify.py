"""Load and verify a bundle directory: manifest schema, every sha256, and the ed25519 signature.

A bundle holds exactly what its manifest lists (plus manifest.json and manifest.sig): an unlisted
file or directory, a symlink anywhere inside (never followed), a hard-linked file, a device, FIFO or
socket is refused, as is a manifest larger than MAX_MANIFEST_BYTES or nested deeper than
MAX_JSON_DEPTH. The bundle directory itself may be reached through a symlink (the update slots'
`current` is one); everything below it must be real.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from edge_agent.bundle.keys import Ed25519Key, PublicKey, key_id, parse_public_key, signature_ok
from edge_agent.bundle.manifest import MANIFEST, SIGNATURE, Manifest
from edge_agent.errors import BundleError

MAX_MANIFEST_BYTES = 1 << 20  # a real manifest is a few KB; 1,000 listed files fit in ~200 KB
MAX_JSON_DEPTH = 32  # a real manifest nests 5 levels deep
MAX_SIGNATURE_BYTES = 4096  # an ed25519 signature is 64 bytes
_OWN = frozenset({MANIFEST, SIGNATURE})
_LINK = "is a symlink (links inside a bundle are refused, never followed)"


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle on disk."""

    root: Path
    manifest: Manifest
    signed_by: str | None  # key id of the trusted key that verified it, None when unsigned

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_public_key(path: Path) -> PublicKey:
    """A PEM public key, or 64 hex characters of a raw ed25519 key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read trusted key {path}: {exc.strerror}") from exc
    try:
        return parse_public_key(data)
    except ValueError as exc:
        raise BundleError(f"{path}: expected a PEM or hex ed25519 public key ({exc})") from exc


def is_bundle(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def _read_small(root: Path, rel: str, limit: int) -> bytes | None:
    """The bytes of the regular file `root/rel` (no symlink, at most `limit` bytes); None if absent."""
    path = root / rel
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BundleError(f"{root}: cannot read {rel} ({exc.strerror})") from exc
    if stat.S_ISLNK(st.st_mode):
        raise BundleError(f"{root}: {rel} {_LINK}")
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"{root}: {rel} is not a regular file")
    if st.st_size > limit:
        raise BundleError(f"{root}: {rel} is {st.st_size} bytes; at most {limit} expected")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            return f.read(limit + 1)[:limit]
    except OSError as exc:
        raise BundleError(f"{root}: cannot read {rel} ({exc.strerror})") from exc


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, counted without recursion."""
    peak, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            peak = max(peak, d)
            todo.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            peak = max(peak, d)
            todo.extend((x, d + 1) for x in v)
    return peak


def parse_manifest(root: Path, raw: bytes) -> Manifest:
    """The manifest in `raw`, or BundleError naming what is wrong (too deep, not JSON, schema)."""
    too_deep = BundleError(f"{root}: {MANIFEST} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(raw)
    except RecursionError:  # the C decoder stops at the interpreter's recursion limit
        raise too_deep from None
    except ValueError as exc:  # includes UnicodeDecodeError
        raise BundleError(f"{root}: {MANIFEST} is not valid JSON ({exc})") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise too_deep
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        said = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise BundleError(f"{root}: invalid manifest: {said}{more}") from None


def _listed_path(root: Path, rel: str) -> str:
    """`rel` if it is a plain relative '/'-separated path inside the bundle, else BundleError."""
    pure = PurePosixPath(rel)
    if (
        not rel
        or pure.is_absolute()
        or "\\" in rel
        or "\x00" in rel
        or pure.as_posix() != rel
        or any(part in (".", "..") for part in rel.split("/"))
    ):
        raise BundleError(f"{root}: manifest lists a path outside the bundle or not normalised: {rel!r}")
    if rel in _OWN:
        raise BundleError(f"{root}: manifest lists its own file {rel!r}")
    return rel


def inventory(root: Path) -> tuple[set[str], set[str]]:
    """(files, directories) under `root`, relative '/' paths; BundleError on anything that is not a
    plain regular file or directory (symlinks are reported, never followed)."""
    files: set[str] = set()
    dirs: set[str] = set()
    todo = [(root, "")]
    while todo:
        path, prefix = todo.pop()
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            raise BundleError(f"{root}: cannot list {prefix or '.'} ({exc.strerror})") from exc
        for e in entries:
            rel = prefix + e.name
            st = e.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise BundleError(f"{root}: {rel} {_LINK}")
            if stat.S_ISDIR(st.st_mode):
                dirs.add(rel)
                todo.append((Path(e.path), rel + "/"))
            elif not stat.S_ISREG(st.st_mode):
                raise BundleError(f"{root}: {rel} is not a regular file (device, FIFO or socket)")
            elif st.st_nlink > 1:
                n = st.st_nlink
                raise BundleError(f"{root}: {rel} has {n} hard links; a bundle's files must be its own")
            else:
                files.add(rel)
    return files, dirs


def _check_listing(root: Path, listed: set[str]) -> None:
    files, dirs = inventory(root)
    parents = {p.as_posix() for rel in listed for p in PurePosixPath(rel).parents if p.as_posix() != "."}
    extra = sorted((files - listed - _OWN) | (dirs - parents))
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise BundleError(f"{root}: not listed in the manifest: {shown}")
    missing = sorted(listed - files)
    if missing:
        raise BundleError(f"{root}: missing file {missing[0]}")


def _sha256_nofollow(path: Path) -> str:
    h = hashlib.sha256()
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_signature(root: Path, raw: bytes, trusted_keys: Sequence[Ed25519Key]) -> str:
    sig = _read_small(root, SIGNATURE, MAX_SIGNATURE_BYTES)
    if sig is None:
        raise BundleError(f"{root}: unsigned bundle, but trusted keys are configured")
    for key in trusted_keys:
        if signature_ok(key, sig, raw):
            return key_id(key)
    raise BundleError(f"{root}: signature does not verify with any trusted key (tampered or wrong key)")


def verify_bundle(root: Path, trusted_keys: Sequence[Ed25519Key] | None = None) -> Bundle:
    """Verify and return the bundle at `root`, or raise BundleError saying what failed.

    With `trusted_keys`, the manifest must carry a signature by one of them. Without, checksums are
    still verified and a present signature is ignored (the config did not ask for trust). Either way
    the directory must hold exactly the listed files (see the module docstring).
    """
    if not root.is_dir():
        raise BundleError(f"{root}: not a bundle directory")
    real = Path(os.path.realpath(root))
    raw = _read_small(real, MANIFEST, MAX_MANIFEST_BYTES)
    if raw is None:
        raise BundleError(f"{root}: no readable {MANIFEST}")
    signed_by = _check_signature(real, raw, trusted_keys) if trusted_keys else None
    manifest = parse_manifest(root, raw)
    listed: set[str] = set()
    for entry in manifest.files:
        rel = _listed_path(root, entry.path)
        if rel in listed:
            raise BundleError(f"{root}: manifest lists {rel!r} twice")
        listed.add(rel)
    if manifest.model not in listed:
        raise BundleError(f"{root}: the model {manifest.model!r} is not among the checksummed files")
    for case in manifest.golden:
        for rel in (case.inputs, case.outputs):
            if rel not in listed:
                raise BundleError(f"{root}: golden file {rel!r} is not among the checksummed files")
    _check_listing(real, listed)
    for entry in manifest.files:
        p = real / entry.path
        try:
            ok = p.lstat().st_size == entry.size and _sha256_nofollow(p) == entry.sha256
        except OSError as exc:
            raise BundleError(f"{root}: cannot read {entry.path} ({exc.strerror})") from exc
        if not ok:
            raise BundleError(f"{root}: checksum mismatch for {entry.path} (file changed after signing)")
    return Bundle(root=root, manifest=manifest, signed_by=signed_by)
