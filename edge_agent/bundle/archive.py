"""One-file bundles for transfer: pack a bundle directory into a tar.gz, unpack one safely.

Packing is deterministic (sorted names, zero mtimes and owners), so the same bundle gives the same
bytes. Unpacking trusts nothing in the archive: only regular files and directories, relative paths
without `..`, bounded member count and total size; links, devices and absolute paths are refused
before anything is written; names may carry a `./` prefix (`tar czf x.tgz -C dir .`), and a name that
appears twice is refused. The result still has to pass verify_bundle before use, which also refuses
any file the manifest does not list.
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


def _member_name(m: tarfile.TarInfo) -> str:
    """The member's path inside the bundle, '/' separated ('' for the top directory itself).

    `tar czf x.tgz -C dir .` writes './manifest.json' and a './' entry: both are the same bundle.
    """
    name = m.name
    if not name:
        raise BundleError("archive member with an empty name")
    if name.startswith(("/", "\\")) or "\\" in name or PurePosixPath(name).is_absolute():
        raise BundleError(f"archive member {name!r} points outside the bundle (absolute path)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError(f"archive member {name!r} points outside the bundle")
    return "/".join(parts)


def _checked_members(tar: tarfile.TarFile, max_bytes: int) -> list[tuple[str, tarfile.TarInfo]]:
    """Every member with its normalised name, or BundleError for the first one that is not safe.

    Read one header at a time, so an archive of a million members is refused after MAX_MEMBERS.
    """
    out: list[tuple[str, tarfile.TarInfo]] = []
    kinds: dict[str, bool] = {}  # name -> is a directory
    total = 0
    for m in tar:
        if len(out) >= MAX_MEMBERS:
            raise BundleError(f"archive has more than {MAX_MEMBERS} members")
        name = _member_name(m)
        if m.issym() or m.islnk():
            raise BundleError(f"archive member {m.name!r} is a link, not a regular file (links are refused)")
        if not (m.isfile() or m.isdir()):
            raise BundleError(f"archive member {m.name!r} is not a regular file (devices, FIFOs refused)")
        if not name:
            if m.isfile():
                raise BundleError(f"archive member {m.name!r} has no file name")
            continue  # the top directory ('.' or './')
        if name in kinds and not (kinds[name] and m.isdir()):
            raise BundleError(f"archive member {name!r} appears more than once")
        kinds[name] = m.isdir()
        total += m.size
        if total > max_bytes:
            raise BundleError(f"archive unpacks to more than {max_bytes} bytes")
        out.append((name, m))
    if kinds.get(MANIFEST) is not False:
        raise BundleError(f"archive holds no {MANIFEST} at its top level")
    return out


def _extract(tar: tarfile.TarFile, into: Path, max_bytes: int) -> None:
    into.mkdir(parents=True)
    for name, m in _checked_members(tar, max_bytes):
        target = into.joinpath(*name.split("/"))
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(m)
        if src is None:  # pragma: no cover - isfile() members always have data
            raise BundleError(f"archive member {m.name!r} has no data")
        with src, target.open("xb") as out:
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
        said = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(":")  # tarfile's is multi-line
        raise BundleError(f"{archive}: not a readable bundle archive ({said})") from exc
    return dest
