"""The `set` command's file side: merge a JSON merge patch into the YAML config, validate, write atomically,
apply, and put the old file back (and re-apply it) when applying fails.

RFC 7396 semantics: objects merge key by key, `null` deletes a key, anything else replaces.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from edge_agent.config.loader import parse_config
from edge_agent.config.models import AgentConfig
from edge_agent.errors import CommandError, ConfigError

log = logging.getLogger(__name__)

# Keys a remote `set` may not change: they decide where the agent connects and what it trusts.
PROTECTED = (("mqtt",), ("device", "id"), ("device", "state_dir"))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch; returns a new object and leaves both inputs alone."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _touches(patch: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = patch
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def write_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same directory, fsync, rename over, fsync the directory."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def apply_config_patch(
    path: Path, patch: dict[str, Any], apply: Callable[[AgentConfig], dict[str, Any]]
) -> dict[str, Any]:
    """Validate `patch` against the file at `path`, write it, call `apply(new)`; roll back on failure.

    Raises CommandError: invalid_args (the merged config does not validate, or touches a protected key),
    failed (applying raised; the old file is back and `apply(old)` was called).
    """
    for protected in PROTECTED:
        if _touches(patch, protected):
            raise CommandError("refused", f"{'.'.join(protected)} cannot be changed remotely")
    old_text = path.read_text(encoding="utf-8")
    old_data = yaml.safe_load(old_text) or {}
    new_text = yaml.safe_dump(merge_patch(old_data, patch), sort_keys=False)
    try:
        new_cfg = parse_config(new_text, f"{path} + patch", path.parent.resolve())
    except ConfigError as exc:
        raise CommandError("invalid_args", "; ".join(str(i) for i in exc.issues)[:800]) from None
    write_atomic(path, new_text)
    try:
        summary = apply(new_cfg)
    except Exception as exc:
        log.warning("config patch failed to apply (%s); restoring %s", exc, path)
        write_atomic(path, old_text)
        try:
            apply(parse_config(old_text, str(path), path.parent.resolve()))
        except Exception:
            log.exception("re-applying the previous config failed too")
        raise CommandError("failed", f"patch did not apply and was rolled back: {exc}") from exc
    return {"applied": True, **summary}
