"""The topic tree, parsed and built in one place (prefix default `edge`)."""

from __future__ import annotations

from dataclasses import dataclass

PIPELINE_KINDS = ("results", "events")
# Device-level topics; a pipeline-level topic has three levels after the prefix.
DEVICE_LEVEL = ("status", "stats", "update")


@dataclass(frozen=True, slots=True)
class PipelineTopic:
    device: str
    pipeline: str
    kind: str


def parse_pipeline_topic(prefix: str, topic: str) -> PipelineTopic | None:
    """`<prefix>/<device>/<pipeline>/<kind>` -> parts; None for anything else (cmd, replies, fleet topics)."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 3 or parts[1] == "cmd" or parts[0].startswith("_") or not all(parts):
        return None
    return PipelineTopic(*parts)


def pipeline_filter(prefix: str, share_group: str | None = None) -> str:
    """Every pipeline message of every device; `$share/<group>/...` spreads it over collectors."""
    base = f"{prefix}/+/+/+"
    return f"$share/{share_group}/{base}" if share_group else base


def device_topic(prefix: str, device: str, leaf: str) -> str:
    return f"{prefix}/{device}/{leaf}"


def fused_topic(prefix: str, zone: str) -> str:
    # Under `_fleet` and four levels deep, so collectors (prefix/+/+/+) never store it as a device result.
    return f"{prefix}/_fleet/zone/{zone}/fused"
