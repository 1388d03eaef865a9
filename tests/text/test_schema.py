"""The JSON Schema subset extract validates against: what it accepts, what it refuses and how it says so."""

from __future__ import annotations

import jsonschema
import pytest

from edge_agent.text.schema import guided, schema_problem, validate
from tests.text.slm_bundle import TRIAGE_SCHEMA

GOOD = {"severity": "fault", "component": "power", "action": "check the power supply"}
BAD = [
    ({**GOOD, "severity": "panic"}, "$.severity: expected one of"),
    ({k: v for k, v in GOOD.items() if k != "action"}, "missing required 'action'"),
    ({**GOOD, "extra": 1}, "unexpected property 'extra'"),
    ({**GOOD, "action": "x" * 81}, "longer than maxLength 80"),
    ({**GOOD, "action": 3}, "$.action: expected string, got int"),
    (["fault"], "$: expected object, got list"),
]


def test_a_valid_answer_has_no_errors() -> None:
    assert validate(GOOD, TRIAGE_SCHEMA) == []
    jsonschema.validate(GOOD, TRIAGE_SCHEMA)  # the reference implementation agrees


@pytest.mark.parametrize(("value", "message"), BAD)
def test_each_violation_is_named_with_its_path(value: object, message: str) -> None:
    errors = validate(value, TRIAGE_SCHEMA)
    assert any(message in e for e in errors), errors
    with pytest.raises(jsonschema.ValidationError):  # and the reference implementation refuses it too
        jsonschema.validate(value, TRIAGE_SCHEMA)


def test_numbers_arrays_and_booleans() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 0, "maximum": 9},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            "on": {"type": "boolean"},
        },
    }
    assert validate({"n": 3, "tags": ["a"], "on": True}, schema) == []
    errors = validate({"n": 10, "tags": ["a", "b", 1], "on": 1}, schema)
    assert "$.n: above maximum 9" in errors
    assert "$.tags: more than maxItems 2" in errors
    assert "$.tags[2]: expected string, got int" in errors
    assert "$.on: expected boolean, got int" in errors
    assert validate({"n": True}, schema) == ["$.n: expected integer, got bool"]  # JSON true is no number


def test_keywords_outside_the_subset_are_refused_not_ignored() -> None:
    assert schema_problem(TRIAGE_SCHEMA) is None
    problem = schema_problem({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}})
    assert problem is not None
    assert "$.a: unsupported keyword(s) ['anyOf']" in problem
    assert "expected one of" in (schema_problem({"type": "text"}) or "")
    assert "not a regular expression" in (schema_problem({"type": "string", "pattern": "("}) or "")


def test_guided_fixes_the_separators_and_keeps_the_constraints() -> None:
    g = guided(TRIAGE_SCHEMA)
    assert g["x-guidance"]["whitespace_flexible"] is False
    assert {k: v for k, v in g.items() if k != "x-guidance"} == TRIAGE_SCHEMA
