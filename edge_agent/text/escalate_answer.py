"""An escalated answer, checked: the schema asked for, the label read back (refused unless it is in the
label set), its probability among the labels, and the failure reasons escalation counts.

Pure functions over what a server returned; edge_agent.text.escalate does the asking.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

# Why an escalation failed: the counters' keys, so the stats message has a fixed vocabulary.
REASONS = ("no_fields", "unreachable", "timeout", "http_error", "bad_response", "invalid_answer", "error")


class EscalationError(Exception):
    """One escalation that gave no usable answer; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        self.reason = reason
        super().__init__(f"{reason}: {message}")


def short(s: str, n: int = 60) -> str:
    """`s` quoted and cut to `n` characters: an answer may echo the input, and errors and logs keep
    only its start."""
    return repr(s if len(s) <= n else s[: n - 3] + "...")


def answer_schema(label_field: str, labels: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of an escalated answer: one object, the label field, one of the labels."""
    return {
        "type": "object",
        "properties": {label_field: {"type": "string", "enum": list(labels)}},
        "required": [label_field],
        "additionalProperties": False,
    }


def parse_label(content: str, label_field: str, labels: Sequence[str]) -> str:
    """The label in an answer: `{"<label_field>": "<label>"}` (a constrained answer), or, from a server
    that ignored the constraint, a bare label. Anything else raises EscalationError(invalid_answer)."""
    s = content.strip()
    try:
        obj = json.loads(s)
    except ValueError:
        obj = s.strip("\"'` .\n").lower()
    if isinstance(obj, dict):
        obj = obj.get(label_field)
    if isinstance(obj, str) and obj in labels:
        return obj
    raise EscalationError("invalid_answer", f"expected {label_field} in {list(labels)}, got {short(s)}")


def _label_start(content: str, label: str) -> int:
    quoted = content.find(f'"{label}"')
    return quoted + 1 if quoted >= 0 else content.find(label)


def label_prob(content: str, label: str, labels: Sequence[str], logprobs: Any) -> float | None:
    """The label's share among the labels where the answer's label begins, from an OpenAI
    `choices[0].logprobs` (with `top_logprobs`): softmax over the best alternative token of each label.

    Why not exp(the label's own log-probability): servers report the model's distribution before a
    grammar constrains it, so a forced label can show 1 %; its share among the labels is the figure
    comparable to the local `classify` probability. None when the server gave no log-probabilities
    or they do not line up with the answer.
    """
    toks = logprobs.get("content") if isinstance(logprobs, dict) else None
    start = _label_start(content, label)
    if not isinstance(toks, list) or start < 0:
        return None
    pos = 0
    for tok in toks:
        text = tok.get("token") if isinstance(tok, dict) else None
        if not isinstance(text, str):
            return None
        if pos <= start < pos + len(text):
            return _share(tok, start - pos, label, labels)
        pos += len(text)
    return None


def _share(tok: dict[str, Any], offset: int, label: str, labels: Sequence[str]) -> float | None:
    head = tok["token"][:offset]  # what the token holds before the label (e.g. ' "')
    alts = [tok, *(a for a in tok.get("top_logprobs") or [] if isinstance(a, dict))]
    best: dict[str, float] = {}
    for alt in alts:
        text, lp = alt.get("token"), alt.get("logprob")
        if not isinstance(text, str) or not isinstance(lp, int | float) or not text.startswith(head):
            continue
        rest = text[offset:]
        for lab in labels:
            if rest and (lab.startswith(rest) or rest.startswith(lab)):
                best[lab] = max(best.get(lab, -math.inf), float(lp))
    if label not in best:
        return None
    top = max(best.values())
    z = sum(math.exp(v - top) for v in best.values())
    return round(math.exp(best[label] - top) / z, 4)
