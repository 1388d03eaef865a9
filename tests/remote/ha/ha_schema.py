"""Home Assistant's documented discovery abbreviations and a JSON Schema of the device-based payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Home Assistant's documented abbreviations (MQTT discovery), the subset a device-based payload can use.
ABBREV = {
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "cmps": "components",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "t": "topic",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
    "sug_dsp_prc": "suggested_display_precision",
}
DEVICE_ABBREV = {
    "cns": "connections",
    "cu": "configuration_url",
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "mdl_id": "model_id",
    "sw": "sw_version",
    "hw": "hw_version",
    "sn": "serial_number",
    "sa": "suggested_area",
    "via_device": "via_device",
}
ORIGIN_ABBREV = {"sw": "sw_version", "url": "support_url"}
SCHEMA = json.loads((Path(__file__).parent / "ha_discovery_schema.json").read_text())


def expand(payload: dict[str, Any]) -> dict[str, Any]:
    def keys(d: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
        return {table.get(k, k): v for k, v in d.items()}

    out = keys(payload, ABBREV)
    out["device"] = keys(out["device"], DEVICE_ABBREV)
    out["origin"] = keys(out["origin"], ORIGIN_ABBREV)
    out["availability"] = [keys(a, ABBREV) for a in out.get("availability", [])]
    out["components"] = {cid: keys(c, ABBREV) for cid, c in out["components"].items()}
    return out
