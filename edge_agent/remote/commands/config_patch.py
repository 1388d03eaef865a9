"""The `set` command's file side: check a JSON merge patch against the remote-set allow-list, merge it
into the YAML config keeping the operator's comments and layout (ruamel.yaml round trip), validate,
write atomically, apply, and put the old file back (and re-apply it) when applying fails.

RFC 7396 semantics: objects merge key by key, `null` deletes a key, anything else replaces.

Trust: a remote `set` may change only the keys in REMOTE_SETTABLE (tuning: intervals, thresholds,
pre/postprocessing, enabling pipelines). Everything else — where the agent connects (`mqtt`), who it is
(`device`), what it trusts (`trusted_keys`, `require_signed`, TLS files) and every file path — can only be
changed by editing the file on the device. Refusals name the key, never a configured value or file path.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.config.loader import parse_config
from edge_agent.config.models import AgentConfig
from edge_agent.errors import CommandError, ConfigError, ConfigIssue

if TYPE_CHECKING:
    from ruamel.yaml import YAML

log = logging.getLogger(__name__)

# The keys a remote `set` may change, as dotted patterns: `*` is one level (a pipeline name), a final
# `**` any key below (including the key itself, e.g. `null` to drop a whole preprocess override). None of
# them holds a file path, a key, a host or a program; tests/remote/commands/test_commands_config_patch.py
# checks that against the schema, so a new path-typed field is never settable by accident.
REMOTE_SETTABLE = (
    "stats_interval_s",
    "log_level",
    "outbox.max_bytes",
    "outbox.max_rows",
    "outbox.commit_interval_ms",
    "outbox.commit_batch",
    "outbox.retention_s",
    "pipelines.*.enabled",
    "pipelines.*.source.fps",
    "pipelines.*.source.loop",
    "pipelines.*.source.width",
    "pipelines.*.source.height",
    "pipelines.*.source.retry_min_s",
    "pipelines.*.source.retry_max_s",
    "pipelines.*.source.queue",
    "pipelines.*.model.id",
    "pipelines.*.model.require_accelerator",
    "pipelines.*.model.intra_op_threads",
    "pipelines.*.model.inter_op_threads",
    "pipelines.*.model.workers",
    "pipelines.*.preprocess.**",
    "pipelines.*.postprocess.labels",
    "pipelines.*.postprocess.top_k",
    "pipelines.*.postprocess.softmax",
    "pipelines.*.postprocess.threshold",
    "pipelines.*.postprocess.iou",
    "pipelines.*.postprocess.max_detections",
    "pipelines.*.postprocess.classes",
    "pipelines.*.postprocess.clear",
    "pipelines.*.postprocess.neg_threshold",
    "pipelines.*.postprocess.min_on_s",
    "pipelines.*.postprocess.min_off_s",
    "pipelines.*.postprocess.min_speech_s",
    "pipelines.*.postprocess.min_silence_s",
    "pipelines.*.publish.results",
    "pipelines.*.gate.**",
    "pipelines.*.events.**",
    "pipelines.*.accounting.**",
    "pipelines.*.ensemble.voting",
    "pipelines.*.ensemble.weight",
    "pipelines.*.cascade.band",
    "fleet.updates.health_window_s",
    "fleet.updates.max_failures",
    "fleet.updates.latency_budget_ms",
)
_PATTERNS = tuple(tuple(p.split(".")) for p in REMOTE_SETTABLE)
_PATHLIKE = re.compile(r"\S*[/\\]\S*")


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


def _merge_in_place(node: MutableMapping[Any, Any], patch: dict[str, Any]) -> None:
    """The same merge, into a ruamel round-trip mapping, so untouched keys keep their comments and style."""
    for key, value in patch.items():
        if value is None:
            node.pop(key, None)
        elif isinstance(value, dict) and isinstance(node.get(key), MutableMapping):
            _merge_in_place(node[key], value)
        else:
            node[key] = merge_patch(None, value)


def patch_leaves(patch: dict[str, Any], at: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path the patch sets or deletes (a non-empty object is a level, anything else a leaf)."""
    for key, value in patch.items():
        path = (*at, str(key))
        if isinstance(value, dict) and value:
            yield from patch_leaves(value, path)
        else:
            yield path


def remote_settable(path: tuple[str, ...]) -> bool:
    """Whether a remote `set` may change the key at `path` (see REMOTE_SETTABLE)."""
    for pattern in _PATTERNS:
        if pattern[-1] == "**":
            head = pattern[:-1]
            if len(path) >= len(head) and all(p in ("*", k) for p, k in zip(head, path, strict=False)):
                return True
        elif len(pattern) == len(path) and all(p in ("*", k) for p, k in zip(pattern, path, strict=True)):
            return True
    return False


def _name(path: tuple[str, ...]) -> str:
    dotted = ".".join(path)
    return dotted if dotted.isprintable() and len(dotted) <= 200 else repr(dotted[:200])


def scrub(text: str) -> str:
    """`text` with anything that looks like a file path replaced by <path>: replies never echo paths."""
    return _PATHLIKE.sub("<path>", text)


def describe_issues(issues: list[ConfigIssue]) -> str:
    """Config issues for a reply: key and what was expected, never the value found (it may be a path)."""
    shown = "; ".join(f"{i.path or '<root>'}: {scrub(i.message)}" for i in issues[:5])
    more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
    return (shown + more)[:800]


def check_allowed(patch: dict[str, Any]) -> None:
    """Raise CommandError('refused') naming the first keys of `patch` a remote `set` may not change."""
    refused = [p for p in patch_leaves(patch) if not remote_settable(p)]
    if refused:
        names = ", ".join(_name(p) for p in refused[:3])
        more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
        raise CommandError(
            "refused",
            f"{names}{more} cannot be changed remotely: not on the remote-set allow-list "
            "(edit the file on the device)",
        )


def _round_trip() -> YAML:
    # Imported here: ruamel.yaml (about 1 MB of RSS) serves only a `set`, not the agent's every start.
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap the operator's long lines
    return y


def patched_text(old_text: str, patch: dict[str, Any]) -> str:
    """The config file's text with `patch` merged in, comments and layout kept; CommandError otherwise."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    y = _round_trip()
    try:
        data = y.load(old_text)
    except YAMLError:
        raise CommandError(
            "failed", "the config file on the device is not valid YAML; fix it there"
        ) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, MutableMapping):
        raise CommandError("failed", "the config file on the device is not a mapping; fix it there")
    _merge_in_place(data, patch)
    out = io.StringIO()
    try:
        y.dump(data, out)
    except Exception as exc:  # e.g. a value YAML cannot hold (a lone surrogate)
        raise CommandError(
            "invalid_args", f"the patch cannot be written as YAML ({type(exc).__name__})"
        ) from None
    return out.getvalue()


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

    Raises CommandError: refused (a key off the allow-list), invalid_args (the merged config does not
    validate), failed (applying raised; the old file is back and `apply(old)` was called).
    """
    check_allowed(patch)
    old_text = path.read_text(encoding="utf-8")
    new_text = patched_text(old_text, patch)
    try:
        new_cfg = parse_config(new_text, f"{path} + patch", path.parent.resolve())
    except ConfigError as exc:
        raise CommandError("invalid_args", describe_issues(exc.issues)) from None
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
        reason = scrub(str(exc))[:500] or type(exc).__name__
        raise CommandError("failed", f"patch did not apply and was rolled back: {reason}") from exc
    return {"applied": True, **summary}
