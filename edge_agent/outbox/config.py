"""The outbox's config block (`outbox:`): where results wait for the broker, and how much may wait."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge_agent.strict import Strict


class OutboxConfig(Strict):
    path: Path | None = Field(default=None, description="SQLite file; defaults to <state_dir>/outbox.sqlite.")
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="Largest size of queued payloads, bytes."
    )
    max_rows: int = Field(default=500_000, ge=100, description="Most results kept while undelivered.")
    commit_interval_ms: int = Field(
        default=200, ge=0, le=60_000, description="Batch commits: at most this long between commits."
    )
    commit_batch: int = Field(
        default=100, ge=1, le=100_000, description="Batch commits: commit once this many are waiting."
    )
    retention_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="Results older than this are dropped first when full."
    )
