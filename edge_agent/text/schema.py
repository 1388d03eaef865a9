"""The JSON Schema subset an `extract` answer is constrained to and validated against, in plain Python.

Guided decoding (onnxruntime-genai's llguidance) already keeps the model inside the schema, but a result
leaves the device only after this check: a runtime bug or a cut-off answer must not publish an object
that breaks its consumers. The device takes no jsonschema dependency, so this covers exactly the
keywords a task schema needs (the log-triage schema and the like); `schema_problem` refuses any other
keyword at config time rather than ignoring it.
"""

from __future__ import annotations

import re
from typing import Any

TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
CHECKED = {
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "pattern",
}  # fmt: skip
IGNORED = {"title", "description", "default", "examples", "$schema", "$id", "x-guidance"}
# No whitespace choices for the model: llguidance otherwise lets it pad the object with newlines
# until max_new_tokens (seen with SmolLM2), and compact separators keep the answer short.
GUIDANCE = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}


def schema_problem(schema: Any, path: str = "$") -> str | None:
    """Why `schema` is outside the supported subset, or None when every keyword is understood."""
    if not isinstance(schema, dict):
        return f"{path}: expected a JSON Schema object, got {type(schema).__name__}"
    unknown = sorted(set(schema) - CHECKED - IGNORED)
    if unknown:
        return f"{path}: unsupported keyword(s) {unknown} (supported: {sorted(CHECKED)})"
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types] if types is not None else []:
        if t not in TYPES:
            return f"{path}.type: expected one of {sorted(TYPES)}, got {t!r}"
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            return f"{path}.pattern: not a regular expression ({exc})"
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        return f"{path}.properties: expected an object"
    for key, sub in props.items():
        problem = schema_problem(sub, f"{path}.{key}")
        if problem is not None:
            return problem
    if "items" in schema:
        return schema_problem(schema["items"], f"{path}[]")
    extra = schema.get("additionalProperties", True)
    if not isinstance(extra, bool):
        return f"{path}.additionalProperties: expected true or false"
    return None


def guided(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as handed to guided decoding: the same constraints, fixed separators."""
    return {**schema, "x-guidance": {**GUIDANCE, **schema.get("x-guidance", {})}}


def _is(value: Any, t: str) -> bool:
    if isinstance(value, bool) and t in ("integer", "number"):
        return False  # JSON true is not a number, though Python's bool is an int
    if t == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, TYPES[t])


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, each naming its JSON path; empty when it is valid."""
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        if not any(_is(value, t) for t in allowed):
            return [f"{path}: expected {' or '.join(allowed)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: expected one of {schema['enum']}, got {value!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: longer than maxLength {schema['maxLength']} ({len(value)} characters)")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than minLength {schema['minLength']}")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: does not match pattern {schema['pattern']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum {schema['maximum']}")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        errors += [f"{path}: missing required {k!r}" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key in props:
                errors += validate(item, props[key], f"{path}.{key}")
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{path}: unexpected property {key!r}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: more than maxItems {schema['maxItems']}")
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than minItems {schema['minItems']}")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], f"{path}[{i}]")
    return errors
