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
the new bundle, never neither. A version is verified (checksums, no unlisted files, no links) before it
is renamed in, and again before it is reused for the same bundle sent again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from edge_agent.bundle.manifest import MANIFEST, SIGNATURE
from edge_agent.bundle.verify import verify_bundle
from edge_agent.errors import BundleError, UpdateError

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


def _differs(copy: Path, original: Path) -> str | None:
    """None when `copy` verifies (checksums, listing, no links) and has `original`'s manifest and
    signature bytes; else what is wrong with it."""
    for rel in (MANIFEST, SIGNATURE):
        a, b = copy / rel, original / rel
        if a.is_file() != b.is_file() or (a.is_file() and a.read_bytes() != b.read_bytes()):
            return f"{rel} differs from the bundle being installed"
    try:
        verify_bundle(copy)
    except BundleError as exc:
        return str(exc)
    return None


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
        """Copy a (verified) bundle into versions/<name>-<sha8>/; return its final path.

        An installed copy of the same manifest is reused only after it verifies again and carries
        the same manifest and signature bytes; a damaged one is replaced. The new copy is verified
        before it is renamed into versions/.
        """
        try:
            raw = (bundle_dir / MANIFEST).read_bytes()
        except OSError as exc:
            raise UpdateError("swap", f"{bundle_dir} is not a bundle ({exc.strerror})") from exc
        self.versions.mkdir(parents=True, exist_ok=True)
        final = self.versions / f"{name}-{hashlib.sha256(raw).hexdigest()[:8]}"
        if final.is_dir():
            damage = _differs(final, bundle_dir)
            if damage is None:
                return final  # the same bundle is already installed, intact
            log.warning("%s: installed copy is damaged (%s); installing it again", final, damage)
            self._discard(final)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            # symlinks=True: a link that appeared after verification is copied as a link, and the
            # verification of the staged copy below refuses it instead of following it.
            shutil.copytree(bundle_dir, staging, dirs_exist_ok=True, symlinks=True)
            _fsync_tree(staging)
            damage = _differs(staging, bundle_dir)
            if damage is not None:
                raise UpdateError("swap", f"the staged copy does not verify: {damage}")
            os.replace(staging, final)
            _fsync_dir(self.versions)
        except OSError as exc:
            raise UpdateError("swap", f"cannot stage the bundle: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    def _discard(self, version_dir: Path) -> None:
        trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=self.root))
        os.replace(version_dir, trash / version_dir.name)  # atomic: never half-deleted under versions/
        shutil.rmtree(trash, ignore_errors=True)

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
            self._discard(p)
