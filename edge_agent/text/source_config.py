"""Config models of the text inputs, one per kind; a text pipeline's `source:` tells them apart by `kind`.

| kind         | model            | where the text comes from                                          |
|--------------|------------------|--------------------------------------------------------------------|
| `text_mqtt`  | TextMqttConfig   | `topic`: a filter subscribed through the agent's own MQTT connection |
| `text_file`  | TextFileConfig   | `path`: a file replayed, one line (or JSONL record) per input        |
| `log_follow` | LogFollowConfig  | `path`: a log file followed like `tail -F` (rotation handled)        |
| `journald`   | JournaldConfig   | `journalctl -f -o json` (units, priority, identifiers)               |
| `events`     | EventsConfig     | other pipelines' events on this device, summarised every N s / N     |

Live inputs (all but `text_file`) keep a `backlog` of inputs the model has not taken yet and drop the
oldest when it is full (counted `dropped_oldest`): a log burst must not grow memory, and the newest
lines say most about the device now. A file never drops: its reader waits for the model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.strict import Strict
from edge_agent.text.frames import DEFAULT_MAX_BYTES
from edge_agent.topics import filter_problem, topic_problem

TEXT_KINDS = ("text_mqtt", "text_file", "log_follow", "journald", "events")
# journalctl's priority names, most severe first (their index is the syslog level).
PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


def _non_empty_path(v: str) -> str:
    if not v.strip():
        raise ValueError("expected a file, got an empty string")
    return v


class TextSourceBase(Strict):
    """What every text input has: the byte cap at the boundary and how the capture thread runs it."""

    max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=64,
        le=1024 * 1024,
        description="Longest input in UTF-8 bytes; a longer one is cut at a character boundary and "
        "counted `truncated` (a JSON input may be 4x this with its other fields, else it is refused).",
    )
    fps: float | None = Field(
        default=None,
        gt=0,
        description="Cap on inputs per second handed to the model; the capture waits, it never skips "
        "text. None: no cap.",
    )
    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    queue: int = Field(
        default=4, ge=1, le=4096, description="Inputs buffered between the capture and the model."
    )


class LiveTextBase(TextSourceBase):
    """A live input: what arrives while the model is busy waits in a bounded backlog."""

    backlog: int = Field(
        default=256,
        ge=1,
        le=65536,
        description="Inputs kept waiting for the model; when full the oldest is dropped (counted).",
    )


class TextMqttConfig(LiveTextBase):
    """text_mqtt: messages on a topic of the agent's broker, received through the agent's connection."""

    kind: Literal["text_mqtt"] = Field(description="Text published on a topic of the agent's broker.")
    topic: str = Field(description="Topic filter to subscribe to (+ and # allowed), e.g. site/logs/#.")
    field: str | None = Field(
        default=None,
        description="Payloads are JSON objects and this key holds the text (the other keys go to the "
        "frame's fields); None: the payload itself is the UTF-8 text.",
    )

    @field_validator("topic")
    @classmethod
    def _filter(cls, v: str) -> str:
        problem = filter_problem(v)
        if problem is not None:
            raise ValueError(f"expected an MQTT topic filter: it {problem}")
        return v


class TextFileConfig(TextSourceBase):
    """text_file: a file replayed line by line (or JSONL record by record); it never drops an input."""

    kind: Literal["text_file"] = Field(description="A text or JSONL file replayed.")
    path: str = Field(description="The file; relative to the config file's folder.")
    format: Literal["lines", "jsonl"] = Field(
        default="lines", description="lines: each line is one input; jsonl: one JSON object per line."
    )
    field: str = Field(default="text", description="jsonl: the key holding the text.")
    rate: float | None = Field(
        default=None, gt=0, description="Lines per second; None: as fast as the model takes them."
    )
    loop: bool = Field(default=False, description="Start again at the end.")

    _path = field_validator("path")(_non_empty_path)


class LogFollowConfig(LiveTextBase):
    """log_follow: a log file followed like `tail -F`: appended lines, through rotation and absence."""

    kind: Literal["log_follow"] = Field(description="A log file followed as it grows.")
    path: str = Field(description="The log file, e.g. /var/log/syslog; it may be absent for a while.")
    from_start: bool = Field(
        default=False,
        description="Read what the file already holds first (as a live input: past `backlog` waiting "
        "lines the oldest are dropped); default: only new lines.",
    )
    poll_s: float = Field(
        default=0.25, gt=0, le=60, description="How often the file is checked for new lines and rotation."
    )

    _path = field_validator("path")(_non_empty_path)


class JournaldConfig(LiveTextBase):
    """journald: the systemd journal through `journalctl -f -o json`, restarted with backoff if it ends."""

    kind: Literal["journald"] = Field(description="Entries of the systemd journal as they are written.")
    units: list[str] = Field(default_factory=list, description="Only these systemd units (-u); empty: all.")
    identifiers: list[str] = Field(
        default_factory=list, description="Only these syslog identifiers (-t), e.g. kernel; empty: all."
    )
    priority: Literal["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] | None = Field(
        default=None, description="Only entries this severe or more (-p); None: all."
    )
    fields: list[str] = Field(
        default_factory=lambda: ["_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "PRIORITY", "_HOSTNAME"],
        description="Journal fields copied into the frame's fields (the message is the text).",
    )
    journalctl: str = Field(default="journalctl", description="The journalctl program.")
    directory: str | None = Field(
        default=None, description="Read the journal files in this folder (-D) instead of the system's."
    )


class EventsConfig(LiveTextBase):
    """events: other pipelines' events on this device, kept (the last N) and summarised as JSON lines."""

    kind: Literal["events"] = Field(description="Events of other pipelines of this device.")
    pipelines: list[str] = Field(min_length=1, description="The pipelines whose events are read.")
    last: int = Field(default=20, ge=1, le=1000, description="Events kept; a summary holds at most these.")
    every_s: float | None = Field(
        default=None, gt=0, description="Emit a summary this often (when events came since the last one)."
    )
    count: int | None = Field(default=None, ge=1, description="Emit a summary after this many new events.")

    @field_validator("pipelines")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            problem = topic_problem(name)
            if problem is not None or "/" in name:
                raise ValueError(f"expected pipeline names, got {name!r}: it {problem or 'contains /'}")
        return v

    @model_validator(mode="after")
    def _trigger(self) -> EventsConfig:
        if self.every_s is None and self.count is None:
            raise ValueError("events: give `every_s`, `count` or both (when a summary is emitted)")
        return self


TextSourceConfig = TextMqttConfig | TextFileConfig | LogFollowConfig | JournaldConfig | EventsConfig
