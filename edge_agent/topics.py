"""The topic tree, built and parsed in one place (prefix default `edge`); the topic-name rule, the rule
for a topic prefix and the pattern of a device id or pipeline name (NAME_RE: one topic level).

A leaf module (imports nothing of the project) shared by the device side (publisher, outbox, commands,
Home Assistant, stats) and the central side (`edge_agent/fleet/`): both halves of an MQTT conversation
spell every topic through these functions, so they cannot drift apart.

    <prefix>/<device>/status                 retained birth / LWT
    <prefix>/<device>/stats                  periodic health
    <prefix>/<device>/update                 model-update progress reports
    <prefix>/<device>/<pipeline>/<kind>      results, events
    <prefix>/<device>/cmd/<verb>             commands; default replies on <prefix>/<device>/reply/<verb>
    <prefix>/_replies/<requester>/<device>   a fleet requester's private reply topics
    <prefix>/_fleet/zone/<zone>/fused        fused zone results (fleet fusion)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A device id or pipeline name: one topic level, safe in file names too.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
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
    """`<prefix>/<device>/<leaf>`: leaf is one of DEVICE_LEVEL (status, stats, update)."""
    return f"{prefix}/{device}/{leaf}"


def device_filter(prefix: str, leaf: str) -> str:
    """One device-level topic of every device, e.g. `<prefix>/+/status`."""
    return device_topic(prefix, "+", leaf)


def status_topic(prefix: str, device: str) -> str:
    return device_topic(prefix, device, "status")


def stats_topic(prefix: str, device: str) -> str:
    return device_topic(prefix, device, "stats")


def update_topic(prefix: str, device: str) -> str:
    return device_topic(prefix, device, "update")


def pipeline_topic(prefix: str, device: str, pipeline: str, kind: str) -> str:
    """`<prefix>/<device>/<pipeline>/<kind>`, kind one of PIPELINE_KINDS (`+` levels make a filter)."""
    return f"{prefix}/{device}/{pipeline}/{kind}"


def command_topic(prefix: str, device: str, verb: str) -> str:
    """Where a command `verb` is sent to `device`; `verb="+"` is the device's subscription."""
    return f"{prefix}/{device}/cmd/{verb}"


def reply_topic(prefix: str, device: str, verb: str) -> str:
    """The default reply topic of a command that names no response topic."""
    return f"{prefix}/{device}/reply/{verb}"


def replies_base(prefix: str, requester: str) -> str:
    """A fleet requester's private reply tree; it subscribes to `<base>/#`."""
    return f"{prefix}/_replies/{requester}"


def fused_topic(prefix: str, zone: str) -> str:
    # Under `_fleet` and four levels deep, so collectors (prefix/+/+/+) never store it as a device result.
    return f"{prefix}/_fleet/zone/{zone}/fused"


# -- topic-name validation: one rule for every topic the agent publishes to ------------------------------

MAX_TOPIC_BYTES = 65_535  # MQTT: a topic name is a length-prefixed UTF-8 string


class TopicError(ValueError):
    """A topic the agent must not publish to; `reason` says why in a few words (never the topic itself)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _bad_char(ch: str) -> str | None:
    code = ord(ch)
    if code == 0:
        return "contains NUL"
    if ch in "+#":
        return f"contains the wildcard {ch!r}"
    if 0xD800 <= code <= 0xDFFF:
        return "is not well-formed UTF-8 (an unpaired surrogate)"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"contains the control character U+{code:04X}"
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return f"contains the noncharacter U+{code:04X}"
    return None


def topic_problem(topic: object) -> str | None:
    """Why `topic` is not a topic name the agent may publish to, or None when it is one.

    MQTT topic names are non-empty, well-formed UTF-8 of at most 65,535 bytes without the `+` and `#`
    wildcards. Mosquitto also refuses (by dropping the connection) NUL, control characters (U+0001-U+001F,
    U+007F-U+009F) and Unicode noncharacters, so those are refused here too: one such publish, resent on
    every reconnect, would keep the device off the network.
    """
    if not isinstance(topic, str):
        return f"is not a string ({type(topic).__name__})"
    if not topic:
        return "is empty"
    plain = topic.isascii() and topic.isprintable() and "+" not in topic and "#" not in topic
    for ch in () if plain else topic:  # the usual topic is plain ASCII: no per-character loop
        bad = _bad_char(ch)
        if bad is not None:
            return bad
    size = len(topic) if plain else len(topic.encode("utf-8"))  # cannot fail: no surrogates left
    if size > MAX_TOPIC_BYTES:
        return f"is {size} bytes long, the limit is {MAX_TOPIC_BYTES}"
    return None


def validate_topic(topic: object) -> str:
    """`topic` when it is a publishable topic name; raise TopicError(reason) otherwise."""
    problem = topic_problem(topic)
    if problem is not None:
        raise TopicError(problem)
    assert isinstance(topic, str)
    return topic


def reply_topic_problem(prefix: str, device: str, topic: object) -> str | None:
    """Why a command's reply may not go to `topic` (None: it may).

    Besides being a valid topic name, a reply must stay out of the device's own publish namespace
    (`<prefix>/<device>/...`: results, events, status, stats, its own commands) except
    `<prefix>/<device>/reply/...`, and out of `$`-topics (broker-internal, e.g. $SYS), so a command
    cannot inject a reply into the device's result stream or loop it back as another command.
    """
    problem = topic_problem(topic)
    if problem is not None:
        return problem
    assert isinstance(topic, str)
    if topic.startswith("$"):
        return "is a $-topic (reserved for the broker)"
    own = f"{prefix}/{device}"
    if (topic == own or topic.startswith(own + "/")) and not topic.startswith(own + "/reply/"):
        return f"is inside the device's own topics ({own}/...; only {own}/reply/... may take replies)"
    return None


MAX_PREFIX_BYTES = 1024
_TOPIC_BAD = re.compile("[\x00-\x1f\x7f-\x9f+#\ud800-\udfff]")


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot be the first levels of every topic, or None when it can."""
    if not prefix:
        return "expected a non-empty topic prefix"
    bad = _TOPIC_BAD.search(prefix)
    if bad is not None:
        return (
            f"expected a topic prefix without wildcards (+ #) or control characters; {bad.group()!r} is one"
        )
    problem = topic_problem(prefix)  # the publisher's own rule (noncharacters, size): one owner
    if problem is not None:
        return f"expected a topic prefix that is a valid topic name; it {problem}"
    if prefix.startswith("$"):
        return "expected a topic prefix not starting with $ (reserved for the broker, e.g. $SYS)"
    if any(level == "" for level in prefix.split("/")):
        return "expected topic levels separated by single '/', without a leading or trailing '/'"
    if len(prefix.encode("utf-8")) > MAX_PREFIX_BYTES:
        return f"expected a topic prefix of at most {MAX_PREFIX_BYTES} bytes"
    return None


def filter_problem(topic_filter: str) -> str | None:
    """Why `topic_filter` cannot be subscribed to, or None. A bad filter would make the broker drop the
    agent's whole connection, so it is refused in the config."""
    if not topic_filter:
        return "is empty"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if level == "#" and i != len(levels) - 1:
            return "has # before the last level"
        if level not in ("+", "#") and ("+" in level or "#" in level):
            return f"has a wildcard inside the level {level!r} (+ and # stand for whole levels)"
    # Wildcard levels stand in as one letter; the rest follows the publisher's topic rule (one owner).
    return topic_problem("/".join("x" if level in ("+", "#") else level for level in levels))
