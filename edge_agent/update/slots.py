"""Installed bundles per pipeline and the atomic switch between them.

Layout under `<state_dir>/bundles/<pipeline>/`:
    versions/<name>@<version>-<sha8>/   complete, fsynced bundle directories
    current  -> versions/...            what the pipeline runs (a symlink)
    previous -> versions/...            what it ran before (for rollback)
    .staging-*/                         a bundle being copied in; ignored and removed by recover()
    .trash-*/                           an old version being deleted; removed by recover()

A version directory appears only by rename after its files are fsynced, and disappears only by rename
to .trash-* before it is deleted, so whatever sits under versions/ is complete. `current` changes only
by renaming a new symlink over it, so a SIGKILL at any instant leaves `current` naming either the old or
the new bundle, never neither.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from edge_agent.bundle.verify import sha256_file
from edge_agent.errors import UpdateError

log = logging.getLogger(__name__)
KEEP_VERSIONS = 3


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
        elif p.is_dir():
            _fsync_dir(p)
    _fsync_dir(root)


def _point(link: Path, target: str) -> None:
    """Atomically make `link` a symlink to `target` (relative), via rename over the old link."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_dir(link.parent)


class Slots:
    """The bundle slots of one pipeline."""

    def __init__(self, state_dir: Path, pipeline: str) -> None:
        self.root = state_dir / "bundles" / pipeline
        self.versions = self.root / "versions"
        self.current_link = self.root / "current"
        self.previous_link = self.root / "previous"

    def _resolve(self, link: Path) -> Path | None:
        if not link.is_symlink():
            return None
        target = link.resolve()
        return target if target.is_dir() else None

    @property
    def current(self) -> Path | None:
        return self._resolve(self.current_link)

    @property
    def previous(self) -> Path | None:
        return self._resolve(self.previous_link)

    def stage(self, bundle_dir: Path, name: str) -> Path:
        """Copy a (verified) bundle into versions/<name>-<sha8>/; return its final path."""
        manifest = bundle_dir / "manifest.json"
        if not manifest.is_file():
            raise UpdateError("swap", f"{bundle_dir} is not a bundle")
        self.versions.mkdir(parents=True, exist_ok=True)
        final = self.versions / f"{name}-{sha256_file(manifest)[:8]}"
        if final.is_dir():
            return final  # the same manifest bytes are already installed
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            shutil.copytree(bundle_dir, staging, dirs_exist_ok=True, symlinks=False)
            _fsync_tree(staging)
            os.replace(staging, final)
            _fsync_dir(self.versions)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise UpdateError("swap", f"cannot stage the bundle: {exc}") from exc
        return final

    def activate(self, version_dir: Path) -> Path | None:
        """Point `current` at `version_dir` (and `previous` at what was current); return the old one."""
        old = self.current
        if old is not None and old != version_dir.resolve():
            _point(self.previous_link, os.path.relpath(old, self.root))
        _point(self.current_link, os.path.relpath(version_dir, self.root))
        return old

    def rollback(self) -> Path:
        """Point `current` back at `previous`."""
        prev = self.previous
        if prev is None:
            raise UpdateError("rollback", "no previous bundle to roll back to")
        _point(self.current_link, os.path.relpath(prev, self.root))
        return prev

    def recover(self) -> Path | None:
        """After a crash: drop half-copied staging dirs and temp links; return what `current` names."""
        if not self.root.is_dir():
            return None
        for pattern in (".staging-*", ".trash-*"):
            for p in self.root.glob(pattern):
                shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob(".*.tmp"):
            p.unlink(missing_ok=True)
        if self.current is None and self.previous is not None:
            log.warning("%s: current is missing; falling back to previous", self.root)
            self.rollback()
        return self.current

    def prune(self, keep: int = KEEP_VERSIONS) -> None:
        """Remove old versions, never the current or previous one."""
        if not self.versions.is_dir():
            return
        live = {p for p in (self.current, self.previous) if p is not None}
        olds = sorted(
            (p for p in self.versions.iterdir() if p.is_dir() and p.resolve() not in live),
            key=lambda p: p.stat().st_mtime,
        )
        for p in olds[: max(0, len(olds) - max(0, keep - len(live)))]:
            trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=self.root))
            os.replace(p, trash / p.name)  # atomic: a half-deleted version is never visible in versions/
            shutil.rmtree(trash, ignore_errors=True)
