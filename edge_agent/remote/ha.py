"""Home Assistant MQTT discovery, device-based: one retained `homeassistant/device/<id>/config` message
listing every entity of the device (each pipeline's main outputs, plus health sensors).

Payloads use Home Assistant's documented abbreviations (dev, o, cmps, p, stat_t, val_tpl, uniq_id...).
Availability follows the agent's retained status topic and its LWT. Home Assistant publishes `online`
on `homeassistant/status` when it restarts; `DiscoveryAnnouncer.on_ha_status` re-announces then.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_agent.topics import pipeline_topic, stats_topic, status_topic

log = logging.getLogger(__name__)

ORIGIN = {"name": "edge-agent"}
MAX_LABEL_SENSORS = 10  # one count sensor per label beyond this floods a dashboard; counts stay in attrs

# Event names (from the `events.threshold` config) that become binary sensors, with a device class.
BINARY_DEVICE_CLASS = {"anomaly": "problem", "speech": "sound", "motion": "motion", "occupancy": "occupancy"}
TASK_EVENT = {"anomaly": "anomaly", "vad": "speech"}


@dataclass(slots=True)
class PipelineInfo:
    """What discovery needs to know about one pipeline."""

    name: str
    task: str  # classification | detection | embedding | anomaly | vad | raw
    labels: Sequence[str] = ()
    events: Sequence[str] = field(default_factory=tuple)  # threshold event names (anomaly, speech...)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _tpl_str(text: str) -> str:
    """A Jinja string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _binary_template(name: str) -> str:
    # Events for other names must not flip this sensor: keep the current state for them.
    n = _tpl_str(name)
    return (
        f"{{% if value_json.get('name') == {n} and value_json.event == 'start' %}}ON"
        f"{{% elif value_json.get('name') == {n} and value_json.event == 'end' %}}OFF"
        "{% else %}{{ 'ON' if this.state == 'on' else 'OFF' }}{% endif %}"
    )


def build_discovery(
    device: str,
    pipelines: Sequence[PipelineInfo],
    *,
    prefix: str = "edge",
    version: str = "0",
    model: str | None = None,
) -> dict[str, Any]:
    """The device-based discovery payload (abbreviated keys)."""
    uid = f"edge_agent_{_slug(device)}"
    cmps: dict[str, dict[str, Any]] = {}

    def add(key: str, platform: str, name: str, topic: str, tpl: str, **extra: Any) -> None:
        cid = f"{uid}_{_slug(key)}"
        cmps[cid] = {"p": platform, "name": name, "uniq_id": cid, "stat_t": topic, "val_tpl": tpl, **extra}

    stats = stats_topic(prefix, device)
    diag = {"ent_cat": "diagnostic"}
    add(
        "cpu",
        "sensor",
        "CPU",
        stats,
        "{{ value_json.cpu_percent }}",
        unit_of_meas="%",
        stat_cla="measurement",
        **diag,
    )
    add(
        "temperature",
        "sensor",
        "Temperature",
        stats,
        "{{ value_json.temperature_c_max }}",
        dev_cla="temperature",
        unit_of_meas="°C",
        stat_cla="measurement",
        **diag,
    )
    add(
        "rss",
        "sensor",
        "Memory",
        stats,
        "{{ value_json.rss_bytes }}",
        dev_cla="data_size",
        unit_of_meas="B",
        stat_cla="measurement",
        **diag,
    )
    add(
        "outbox",
        "sensor",
        "Outbox depth",
        stats,
        "{{ value_json.outbox_depth }}",
        stat_cla="measurement",
        **diag,
    )
    add(
        "throttled",
        "binary_sensor",
        "Throttled",
        stats,
        "{{ 'ON' if value_json.throttled else 'OFF' }}",
        dev_cla="problem",
        **diag,
    )

    for p in pipelines:
        results, events = (pipeline_topic(prefix, device, p.name, k) for k in ("results", "events"))
        pq = _tpl_str(p.name)
        add(
            f"{p.name}_fps",
            "sensor",
            f"{p.name} fps",
            stats,
            f"{{{{ value_json.pipelines.get({pq}, {{}}).get('fps') }}}}",
            unit_of_meas="fps",
            stat_cla="measurement",
            **diag,
        )
        add(
            f"{p.name}_latency",
            "sensor",
            f"{p.name} latency",
            results,
            "{{ value_json.latency_ms }}",
            dev_cla="duration",
            unit_of_meas="ms",
            stat_cla="measurement",
            **diag,
        )
        if p.task == "classification":
            add(
                f"{p.name}_label",
                "sensor",
                f"{p.name} label",
                results,
                "{{ value_json.output.top[0].label if value_json.output.top else 'none' }}",
                json_attr_t=results,
                json_attr_tpl="{{ value_json.output | tojson }}",
            )
        elif p.task == "detection":
            add(
                f"{p.name}_count",
                "sensor",
                f"{p.name} objects",
                results,
                "{{ value_json.output.detections | length }}",
                stat_cla="measurement",
                json_attr_t=results,
                json_attr_tpl="{{ value_json.output.counts | tojson }}",
            )
            for label in list(p.labels)[:MAX_LABEL_SENSORS]:
                add(
                    f"{p.name}_count_{label}",
                    "sensor",
                    f"{p.name} {label} count",
                    results,
                    f"{{{{ value_json.output.counts.get({_tpl_str(label)}, 0) }}}}",
                    stat_cla="measurement",
                )
        names = list(dict.fromkeys([*([TASK_EVENT[p.task]] if p.task in TASK_EVENT else []), *p.events]))
        for ev in names:
            extra = {"dev_cla": BINARY_DEVICE_CLASS[ev]} if ev in BINARY_DEVICE_CLASS else {}
            add(f"{p.name}_{ev}", "binary_sensor", f"{p.name} {ev}", events, _binary_template(ev), **extra)

    return {
        "dev": {
            "ids": [uid],
            "name": device,
            "mf": "edge-agent",
            "mdl": model or "edge-agent",
            "sw": version,
        },
        "o": {**ORIGIN, "sw": version},
        "cmps": cmps,
        "avty": [{"t": status_topic(prefix, device), "val_tpl": "{{ value_json.state }}"}],
        "qos": 1,
    }


def discovery_topic(device: str, discovery_prefix: str = "homeassistant") -> str:
    return f"{discovery_prefix}/device/{_slug(device)}/config"


PublishFn = Callable[[str, bytes, bool], None]  # (topic, payload, retain)


class DiscoveryAnnouncer:
    """Publishes the retained discovery message, again whenever Home Assistant comes back online."""

    def __init__(
        self,
        publish: PublishFn,
        device: str,
        pipelines: Callable[[], Sequence[PipelineInfo]],
        *,
        prefix: str = "edge",
        version: str = "0",
        discovery_prefix: str = "homeassistant",
    ) -> None:
        self._publish = publish
        self.device = device
        self._pipelines = pipelines
        self.prefix = prefix
        self.version = version
        self.discovery_prefix = discovery_prefix
        self.announced = 0

    @property
    def status_topic(self) -> str:
        return f"{self.discovery_prefix}/status"

    @property
    def topic(self) -> str:
        return discovery_topic(self.device, self.discovery_prefix)

    def announce(self) -> None:
        payload = build_discovery(self.device, self._pipelines(), prefix=self.prefix, version=self.version)
        self._publish(self.topic, json.dumps(payload, separators=(",", ":")).encode(), True)
        self.announced += 1

    def remove(self) -> None:
        """An empty retained message deletes the device in Home Assistant."""
        self._publish(self.topic, b"", True)

    def on_ha_status(self, payload: bytes) -> None:
        if payload.strip().lower() == b"online":
            log.info("Home Assistant is online: announcing %s again", self.device)
            self.announce()


def info_from_config(name: str, pipeline: Any, task: str | None = None) -> PipelineInfo:
    """PipelineInfo from a PipelineConfig; `task` (from the bundle manifest) wins when given."""
    post = getattr(pipeline, "postprocess", None)
    kind = getattr(post, "kind", None)
    guessed = {"yolo": "detection", "ssd": "detection"}.get(kind or "", kind or "raw")
    labels = list(getattr(post, "classes", None) or getattr(post, "labels", None) or [])
    threshold = getattr(getattr(pipeline, "events", None), "threshold", None)
    events = (threshold.name,) if threshold is not None else ()
    return PipelineInfo(name=name, task=task or guessed, labels=labels, events=events)
