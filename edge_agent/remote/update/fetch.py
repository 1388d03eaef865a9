"""Getting a bundle archive onto the device: by URL (http, https, file) with a sha256, or in chunks sent
over MQTT (`upload` commands) and assembled here. Either way the archive's sha256 is checked before it is
unpacked, and sizes are bounded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from edge_agent.errors import UpdateError

MAX_ARCHIVE = 2 << 30  # 2 GiB
UPLOAD_AREA = "updates"  # <state_dir>/updates: chunks sent over MQTT and update work directories


def is_upload_data(path: Path, state_dir: Path) -> bool:
    """Whether `path` lies in the upload area, where remote senders put bytes of their choosing.

    Such files are data (an archive to verify), never configuration: a trusted key, a config or a model
    named there is refused, or a bundle signature could be checked against a key its sender uploaded.
    """
    try:
        Path(path).resolve().relative_to((Path(state_dir) / UPLOAD_AREA).resolve())
    except ValueError:
        return False
    return True


_TRANSFER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _copy_hashing(src: Any, dest: Path, max_bytes: int) -> str:
    h = hashlib.sha256()
    total = 0
    with dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise UpdateError("fetch", f"archive is larger than {max_bytes} bytes")
            h.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return h.hexdigest()


def fetch_url(
    url: str, sha256: str, dest: Path, *, timeout: float = 60.0, max_bytes: int = MAX_ARCHIVE
) -> Path:
    """Download `url` to `dest` and check its sha256; raise UpdateError('fetch', ...) otherwise."""
    if not url.startswith(("http://", "https://", "file://")):
        raise UpdateError("fetch", f"unsupported URL scheme: {url[:40]}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # scheme checked above
            digest = _copy_hashing(resp, dest, max_bytes)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        dest.unlink(missing_ok=True)
        raise UpdateError("fetch", f"cannot download {url}: {exc}") from exc
    except UpdateError:
        dest.unlink(missing_ok=True)
        raise
    if digest != sha256:
        dest.unlink(missing_ok=True)
        # the digest found is not reported: with file:// it would tell a sender the hash of any file
        raise UpdateError("fetch", f"sha256 mismatch: the archive is not {sha256[:12]}...")
    return dest


class ChunkStore:
    """Chunks of archives sent over MQTT, one directory per transfer id, assembled when complete."""

    def __init__(self, root: Path, max_bytes: int = MAX_ARCHIVE, max_age_s: float = 3600.0) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def _dir(self, transfer: str) -> Path:
        if not _TRANSFER.match(transfer):
            raise UpdateError("upload", f"bad transfer id {transfer[:70]!r}")
        return self.root / transfer

    def receive(self, transfer: str, index: int, count: int, data: bytes) -> dict[str, Any]:
        d = self._dir(transfer)
        with self._lock:
            if transfer not in self._counts:
                self._drop_abandoned()
            known = self._counts.setdefault(transfer, count)
            if known != count:
                raise UpdateError("upload", f"transfer {transfer}: count changed from {known} to {count}")
            if not 0 <= index < count:
                raise UpdateError("upload", f"index {index} out of range 0..{count - 1}")
            d.mkdir(parents=True, exist_ok=True)
            used = sum(p.stat().st_size for p in d.glob("*.part"))
            if used + len(data) > self.max_bytes:
                raise UpdateError("upload", f"transfer {transfer} exceeds {self.max_bytes} bytes")
            tmp = d / f"{index:06d}.tmp"
            tmp.write_bytes(data)
            tmp.replace(d / f"{index:06d}.part")  # a retransmitted chunk simply replaces itself
            have = len(list(d.glob("*.part")))
        return {
            "transfer": transfer,
            "received": index,
            "have": have,
            "count": count,
            "complete": have == count,
        }

    def _drop_abandoned(self) -> None:
        """Transfers nobody finished (an interrupted deploy) would fill the disk: drop the long-idle ones."""
        if not self.root.is_dir():
            return
        horizon = time.time() - self.max_age_s
        for d in self.root.iterdir():
            if d.is_dir() and d.stat().st_mtime < horizon:
                shutil.rmtree(d, ignore_errors=True)
                self._counts.pop(d.name, None)

    def assemble(self, transfer: str, sha256: str | None, dest: Path) -> Path:
        """Concatenate the chunks in order into `dest`, check sha256, drop the chunks."""
        d = self._dir(transfer)
        with self._lock:
            count = self._counts.get(transfer)
            parts = sorted(d.glob("*.part"))
            if count is None or len(parts) != count:
                raise UpdateError(
                    "fetch", f"transfer {transfer}: {len(parts)} of {count or '?'} chunks received"
                )
            h = hashlib.sha256()
            with dest.open("wb") as out:
                for p in parts:
                    data = p.read_bytes()
                    h.update(data)
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            shutil.rmtree(d, ignore_errors=True)
            self._counts.pop(transfer, None)
        if sha256 is not None and h.hexdigest() != sha256:
            dest.unlink(missing_ok=True)
            raise UpdateError("fetch", f"transfer {transfer}: sha256 mismatch after assembly")
        return dest
