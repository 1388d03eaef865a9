"""Cross-device fusion: devices configured to watch the same zone vote within a time window, and the
majority's answer is published as the zone's fused result (with the dissenters named).

Classification votes on the top label (score = mean of the agreeing voters). Detection votes per label
on the count (the median, which is the majority's value when most agree). A window closes as soon as
every member has voted, or `window_s` after its first vote if at least `quorum` members voted.
Fusion subscribes to its members' results topics directly (not through `$share`), so every fusing
collector sees every vote.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.errors import ConfigError, FleetError
from edge_agent.fleet.collector import record_from
from edge_agent.fleet.store import Record
from edge_agent.topics import NAME_RE, fused_topic, pipeline_topic
from edge_agent.yamlfile.reader import read_yaml_file
from edge_agent.yamlfile.validate import validate_doc

log = logging.getLogger(__name__)


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    device: str = Field(pattern=NAME_RE)
    pipeline: str = Field(pattern=NAME_RE)


class ZoneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[Member] = Field(min_length=2, description="device + pipeline pairs watching this zone")
    window_s: float = Field(default=2.0, gt=0, le=3600, description="votes this close in time are fused")
    quorum: int | None = Field(default=None, ge=1, description="votes needed; default a strict majority")

    @model_validator(mode="after")
    def _quorum(self) -> ZoneConfig:
        if self.quorum is None:
            self.quorum = len(self.members) // 2 + 1
        if self.quorum > len(self.members):
            raise ValueError(f"quorum {self.quorum} exceeds the {len(self.members)} members")
        return self


class ZonesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zones: dict[str, ZoneConfig]


def load_zones(path: Path) -> dict[str, ZoneConfig]:
    """Read a zones file with the config reader's limits; FleetError naming the key and line."""
    try:
        return validate_doc(ZonesFile, read_yaml_file(path)).zones
    except ConfigError as exc:
        first = exc.issues[0]
        more = f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
        raise FleetError(f"{path}: not a valid zones file: {first}{more}") from None


def _vote_value(output: dict[str, Any]) -> tuple[str, Any] | None:
    top = output.get("top")
    if isinstance(top, list):
        first = top[0] if top and isinstance(top[0], dict) else {}
        return ("classification", (first.get("label"), first.get("score")))
    counts = output.get("counts")
    if isinstance(counts, dict):
        return ("detection", {str(k): int(v) for k, v in counts.items() if isinstance(v, (int, float))})
    return None


def fuse(votes: dict[Member, dict[str, Any]]) -> dict[str, Any] | None:
    """The majority's output from one window of votes (member -> result output)."""
    parsed = {m: v for m, out in votes.items() if (v := _vote_value(out)) is not None}
    kinds = Counter(kind for kind, _ in parsed.values())
    if not kinds:
        return None
    kind = kinds.most_common(1)[0][0]
    values: dict[Member, Any] = {m: v for m, (k, v) in parsed.items() if k == kind}
    if kind == "classification":
        labels = Counter(label for label, _ in values.values())
        label, agree = labels.most_common(1)[0]
        scores = [s for lab, s in values.values() if lab == label and isinstance(s, (int, float))]
        dissent = [
            {"device": m.device, "pipeline": m.pipeline, "label": lab}
            for m, (lab, _) in values.items()
            if lab != label
        ]
        output = {"top": [{"label": label, "score": round(statistics.fmean(scores), 4) if scores else None}]}
        return {"output": output, "agree": agree, "dissent": dissent}
    all_labels = sorted({lab for counts in values.values() for lab in counts})
    fused = {lab: int(statistics.median_low([c.get(lab, 0) for c in values.values()])) for lab in all_labels}
    fused = {lab: n for lab, n in fused.items() if n > 0}
    dissent = [
        {"device": m.device, "pipeline": m.pipeline, "counts": c}
        for m, c in values.items()
        if {k: v for k, v in c.items() if v > 0} != fused
    ]
    return {"output": {"counts": fused}, "agree": len(values) - len(dissent), "dissent": dissent}


@dataclass(slots=True)
class _Window:
    opened: float  # monotonic time of the first vote
    votes: dict[Member, dict[str, Any]] = field(default_factory=dict)
    ts: list[float] = field(default_factory=list)


class ZoneVoter:
    """Windows and votes for one zone; pure logic, fed records, returns fused payloads."""

    def __init__(self, name: str, cfg: ZoneConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.cfg = cfg
        self.members = set(cfg.members)
        self._clock = clock
        self._window: _Window | None = None
        self.published = 0

    def feed(self, rec: Record) -> dict[str, Any] | None:
        member = Member(device=rec.device, pipeline=rec.pipeline)
        if member not in self.members:
            return None
        output = rec.body.get("output")
        if not isinstance(output, dict):
            return None
        now = self._clock()
        closed = None
        if self._window is not None and (
            now - self._window.opened > self.cfg.window_s or member in self._window.votes
        ):
            closed = self._close()  # a late or repeated vote starts the next window
        if self._window is None:
            self._window = _Window(opened=now)
        self._window.votes[member] = output
        if rec.ts is not None:
            self._window.ts.append(rec.ts)
        if len(self._window.votes) == len(self.members):
            return self._close()
        return closed

    def tick(self) -> dict[str, Any] | None:
        """Close an expired window (call periodically)."""
        if self._window is not None and self._clock() - self._window.opened > self.cfg.window_s:
            return self._close()
        return None

    def _close(self) -> dict[str, Any] | None:
        win, self._window = self._window, None
        if win is None or len(win.votes) < (self.cfg.quorum or 1):
            return None
        result = fuse(win.votes)
        if result is None:
            return None
        self.published += 1
        return {
            "v": 1,
            "zone": self.name,
            "ts": round(max(win.ts), 3) if win.ts else round(time.time(), 3),
            "voters": len(win.votes),
            "members": len(self.members),
            **result,
        }


class Fuser:
    """Subscribes to every zone member's results; publishes to `<prefix>/_fleet/zone/<zone>/fused`."""

    def __init__(self, zones: dict[str, ZoneConfig], client: mqtt.Client, prefix: str = "edge") -> None:
        self.client = client
        self.prefix = prefix
        self.voters = {name: ZoneVoter(name, cfg) for name, cfg in zones.items()}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="fusion-tick", daemon=True)
        self._topics = sorted(
            {
                pipeline_topic(prefix, m.device, m.pipeline, "results")
                for z in zones.values()
                for m in z.members
            }
        )

    def start(self) -> None:
        for topic in self._topics:
            self.client.message_callback_add(topic, self._on_message)
            self.client.subscribe(topic, qos=1)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        for topic in self._topics:
            self.client.message_callback_remove(topic)
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        rec = record_from(self.prefix, msg.topic, bytes(msg.payload), time.time())
        if rec is not None:
            self.feed(rec)

    def feed(self, rec: Record) -> None:
        with self._lock:
            out = [(name, v.feed(rec)) for name, v in self.voters.items()]
        for name, fused in out:
            if fused is not None:
                self._publish(name, fused)

    def _tick_loop(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                out = [(name, v.tick()) for name, v in self.voters.items()]
            for name, fused in out:
                if fused is not None:
                    self._publish(name, fused)

    def _publish(self, zone: str, fused: dict[str, Any]) -> None:
        if fused["dissent"]:
            log.info(
                "zone %s: %d of %d disagree with the majority", zone, len(fused["dissent"]), fused["voters"]
            )
        self.client.publish(fused_topic(self.prefix, zone), json.dumps(fused, separators=(",", ":")), qos=1)
