"""One-file bundles for transfer: pack a bundle directory into a tar.gz, unpack one safely.

Packing is deterministic (sorted names, zero mtimes and owners), so the same bundle gives the same
bytes. Unpacking trusts nothing in the archive: only regular files and directories, relative paths
without `..`, bounded member count and total size; links, devices and absolute paths are refused
before anything is written. The result still has to pass verify_bundle before use.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from edge_agent.bundle.manifest import MANIFEST
from edge_agent.errors import BundleError

SUFFIX = ".bundle.tgz"
MAX_MEMBERS = 1000
MAX_BYTES = 4 << 30  # 4 GiB unpacked; far above any model an edge device runs


def pack(root: Path, dest: Path) -> Path:
    """Pack every file under `root` (a bundle directory) into the tar.gz `dest`; return `dest`."""
    if not (root / MANIFEST).is_file():
        raise BundleError(f"{root}: not a bundle (no {MANIFEST})")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    # gzip's own header carries a timestamp and a file name: zero them too, for reproducible bytes.
    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for p in files:
            rel = p.relative_to(root).as_posix()
            info = tarfile.TarInfo(rel)
            info.size = p.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with p.open("rb") as f:
                tar.addfile(info, f)
    tmp.replace(dest)
    return dest


def _checked_members(tar: tarfile.TarFile, max_bytes: int) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    if len(members) > MAX_MEMBERS:
        raise BundleError(f"archive has {len(members)} members; at most {MAX_MEMBERS} expected")
    total = 0
    for m in members:
        pure = PurePosixPath(m.name)
        if pure.is_absolute() or ".." in pure.parts or m.name.startswith(("/", "\\")) or "\\" in m.name:
            raise BundleError(f"archive member {m.name!r} points outside the bundle")
        if not (m.isfile() or m.isdir()):
            raise BundleError(f"archive member {m.name!r} is not a regular file (links are refused)")
        total += m.size
        if total > max_bytes:
            raise BundleError(f"archive unpacks to more than {max_bytes} bytes")
    names = {m.name for m in members if m.isfile()}
    if MANIFEST not in names:
        raise BundleError(f"archive holds no {MANIFEST} at its top level")
    return members


def _extract(tar: tarfile.TarFile, into: Path, max_bytes: int) -> None:
    into.mkdir(parents=True)
    for m in _checked_members(tar, max_bytes):
        target = into.joinpath(*PurePosixPath(m.name).parts)
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(m)
        if src is None:  # pragma: no cover - isfile() members always have data
            raise BundleError(f"archive member {m.name!r} has no data")
        with src, target.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def unpack(archive: Path, dest: Path, *, max_bytes: int = MAX_BYTES) -> Path:
    """Unpack `archive` into the new directory `dest` (must not exist); return `dest`.

    On any refusal nothing is left behind at `dest`.
    """
    if dest.exists():
        raise BundleError(f"{dest} already exists; unpack into a new directory")
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            _extract(tar, tmp, max_bytes)
        tmp.replace(dest)
    except BundleError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (OSError, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"{archive}: not a readable bundle archive ({exc})") from exc
    return dest
