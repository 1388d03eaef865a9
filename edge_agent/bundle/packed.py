"""A packed bundle (`*.bundle.tgz`, as `edge-export` writes it) used directly as a model path.

The archive is unpacked once into `<state_dir>/packed/<sha256 of the archive>/`, verified with the
same rules as a bundle directory, and reused while the archive's bytes are unchanged. A reused copy
is verified again first; a damaged one is replaced by a fresh unpack of the archive.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from edge_agent.bundle.archive import SUFFIX, unpack
from edge_agent.bundle.verify import Bundle, load_public_key, sha256_file, verify_bundle
from edge_agent.errors import BundleError

if TYPE_CHECKING:
    from edge_agent.bundle.keys import Ed25519Key

log = logging.getLogger(__name__)
CACHE = "packed"
KEEP_COPIES = 4  # unpacked copies kept, most recently used first; the archives stay the source of truth


class _Copyable(Protocol):
    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


class _ModelRef(_Copyable, Protocol):
    """What of a pipeline's `model:` block (edge_agent.inference.config.ModelConfig) is read here."""

    path: Path
    trusted_keys: list[Path]


class _PipelineRef(_Copyable, Protocol):
    """A pipeline config (edge_agent.config.models.PipelineConfig), seen only through its model: the
    bundle package stays below the config that composes it."""

    @property
    def model(self) -> _ModelRef: ...


P = TypeVar("P", bound=_PipelineRef)


def is_packed(path: Path) -> bool:
    """A file named like the exporter's archives (`<name>.bundle.tgz`)."""
    return path.name.endswith(SUFFIX) and path.is_file()


def cache_dir(state_dir: Path) -> Path:
    return state_dir / CACHE


def _refused(archive: Path, exc: BundleError, staged: Path) -> str:
    """One line naming the archive, without the throwaway directory it was checked in."""
    return f"{archive}: packed bundle refused: " + str(exc).replace(f"{staged}: ", "")


def _discard(path: Path) -> None:
    trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=path.parent))
    os.replace(path, trash / path.name)  # atomic: a half-deleted copy never sits under its hash
    shutil.rmtree(trash, ignore_errors=True)


def unpack_verified(archive: Path, state_dir: Path, trusted_keys: Sequence[Ed25519Key] | None) -> Bundle:
    """The verified unpacked copy of `archive` under the state directory; BundleError saying why not."""
    try:
        digest = sha256_file(archive)
    except OSError as exc:
        raise BundleError(f"{archive}: cannot read the packed bundle ({exc.strerror})") from exc
    cache = cache_dir(state_dir)
    dest = cache / digest
    if dest.is_dir():
        try:
            bundle = verify_bundle(dest, trusted_keys)
        except BundleError as exc:
            log.warning("%s: the unpacked copy is damaged (%s); unpacking the archive again", archive, exc)
            _discard(dest)
        else:
            os.utime(dest)  # marks it used, for _prune
            log.info("%s: reusing the unpacked copy %s", archive, dest)
            return bundle
    try:
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
    except OSError as exc:
        raise BundleError(f"{archive}: cannot unpack into {cache} ({exc.strerror})") from exc
    staged = work / "bundle"
    try:
        unpack(archive, staged)
        bundle = verify_bundle(staged, trusted_keys)
        if sha256_file(archive) != digest:
            raise BundleError("the archive changed while it was unpacked")
        os.replace(staged, dest)
    except BundleError as exc:
        raise BundleError(_refused(archive, exc, staged)) from exc
    except OSError as exc:
        raise BundleError(f"{archive}: cannot unpack into {cache} ({exc.strerror})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("%s: unpacked and verified into %s", archive, dest)
    try:
        _prune(cache, keep=dest)
    except OSError as exc:  # housekeeping only: the verified copy is there
        log.warning("%s: cannot prune old unpacked copies: %s", cache, exc)
    return replace(bundle, root=dest)


def _prune(cache: Path, keep: Path) -> None:
    """Drop the least recently used copies beyond KEEP_COPIES (never `keep`); a pipeline whose copy
    went is unpacked again from its archive at its next start."""
    copies = sorted(
        (p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in copies[KEEP_COPIES - 1 :]:
        _discard(old)


def with_unpacked_bundle(state_dir: Path, name: str, pcfg: P) -> P:
    """`pcfg` with a packed `model.path` replaced by its verified unpacked copy; unchanged otherwise.

    A refused archive is logged here with its reason and `pcfg` comes back unchanged: opening the
    model then fails with the same reason (edge_agent.inference.session) and the pipeline reports it.
    """
    path = pcfg.model.path
    if not is_packed(path):
        return pcfg
    try:
        keys = [load_public_key(k) for k in pcfg.model.trusted_keys]
        bundle = unpack_verified(path, state_dir, keys or None)
    except BundleError as exc:
        log.error("pipeline %s: %s", name, exc)
        return pcfg
    return pcfg.model_copy(update={"model": pcfg.model.model_copy(update={"path": bundle.root})})


def why_not_unpacked(archive: Path, trusted_keys: Sequence[Ed25519Key] | None) -> str:
    """Why `archive` reached a model loader still packed: its refusal reason, found again in a
    throwaway directory, or (when it verifies) where packed bundles are accepted."""
    with tempfile.TemporaryDirectory(prefix="edge-packed-") as tmp:
        staged = Path(tmp) / "bundle"
        try:
            verify_bundle(unpack(archive, staged), trusted_keys)
        except BundleError as exc:
            return _refused(archive, exc, staged)
    return (
        f"{archive}: a packed bundle is unpacked into <state_dir>/{CACHE}/ only as a pipeline's "
        "model.path; elsewhere give the unpacked bundle directory"
    )
