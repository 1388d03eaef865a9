"""The JSON Schemas shipped in docs/ are the ones the code generates, and payloads conform to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from edge_agent.cli.config_cmd import write_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_schemas_are_current(tmp_path: Path) -> None:
    for fresh in write_schemas(tmp_path):
        shipped = DOCS / fresh.name
        assert shipped.read_text() == fresh.read_text(), (
            f"{shipped} is stale: run python -c 'from edge_agent.cli.config_cmd import write_schemas; "
            'from pathlib import Path; write_schemas(Path("docs"))\''
        )


@pytest.mark.parametrize(
    ("payload", "ok"),
    [
        (
            {
                "v": 1,
                "device": "d",
                "pipeline": "p",
                "seq": 1,
                "ts": 1.5,
                "model": "m",
                "latency_ms": 3.0,
                "frame": 0,
                "output": {"top": [{"label": "cat", "index": 3, "score": 0.9}]},
            },
            True,
        ),
        (
            {
                "v": 1,
                "device": "d",
                "pipeline": "p",
                "seq": 0,
                "ts": 1.5,
                "model": "m",
                "latency_ms": 3.0,
                "frame": 0,
                "output": {},
            },
            False,
        ),
        (
            {
                "v": 1,
                "device": "d",
                "pipeline": "p",
                "seq": 2,
                "ts": 1.5,
                "model": "m",
                "latency_ms": 3.0,
                "frame": 0,
                "output": {},
                "pixels": "AAAA",
            },
            False,
        ),
    ],
)
def test_result_schema_accepts_and_refuses(payload: dict[str, Any], ok: bool) -> None:
    schema = json.loads((DOCS / "result.schema.json").read_text())
    if ok:
        jsonschema.validate(payload, schema)
    else:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(payload, schema)
