"""Device log triage, the example task a small LM is tuned for (issue 15; docs/slm.md, "Fine-tuning").

An input is one device log line (kernel, systemd, Raspberry Pi firmware, network, storage, thermal,
...); the answer is JSON with the severity first: `{"severity": "ok|warning|fault", "component":
"<COMPONENTS>", "action": "<short text>"}`. This module renders lines from the message families in
`logtriage_families` (syslog, ISO-8601 journal and bare dmesg styles; random hosts, pids, addresses,
devices, timestamps), and splits them so that the held-out families never appear in training: the
held-out figure measures triage of messages the model has never seen, not recall.

`generate` and `split` are pure functions of their seed; tests, the benchmark and the demo import them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from typing import Any

from exporters.slm.tasks.logtriage_families import COMPONENTS, FAMILIES, SEVERITIES, Family, fields, hostname

SYSTEM = "You triage device log lines. Answer in JSON with severity, component and action."
TEMPLATE = "Triage this device log line:\n{input}"
ANSWER_PREFIX = '{"severity": "'
LABEL_SUFFIX = '"'
LABEL_FIELD = "severity"
MAX_ACTION = 80
# The line's timestamp (syslog or ISO 8601) and host, a pid and a kernel uptime carry no meaning and
# cost over half its tokens: 43 a line on average, 17 after these (SmolLM2 writes a digit a token).
# The program's name stays ("sshd: ...", "kernel: ..."). docs/slm.md, "Input rewrites".
INPUT_REWRITE: list[tuple[str, str]] = [
    (
        r"^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?"
        r"(?:Z|[+-]\d\d:?\d\d)?) +\S+ +",
        "",
    ),
    (r"^([\w.@/-]+)\[\d+\]: ", r"\1: "),
    (r"^kernel: \[ *\d+\.\d+\] ", "kernel: "),
    (r"^\[ *\d+\.\d+\] ", "kernel: "),
]

# Every program of the catalogue, for `generate(retag=...)`.
PROGRAMS: tuple[str, ...] = tuple(sorted({f.program for f in FAMILIES}))

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def schema() -> dict[str, Any]:
    """JSON Schema of the answer (the text pipeline's `extract` decodes under it)."""
    return {
        "type": "object",
        "properties": {
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "component": {"type": "string", "enum": list(COMPONENTS)},
            "action": {"type": "string", "maxLength": MAX_ACTION},
        },
        "required": ["severity", "component", "action"],
        "additionalProperties": False,
    }


def prompt_spec() -> dict[str, Any]:
    """The PromptSpec (edge_agent.bundle.manifest) the task is asked with, as its JSON fields."""
    return {
        "system": SYSTEM,
        "template": TEMPLATE,
        "answer_prefix": ANSWER_PREFIX,
        "label_suffix": LABEL_SUFFIX,
        "labels": list(SEVERITIES),
        "label_field": LABEL_FIELD,
        "schema": schema(),
        "input_rewrite": [list(r) for r in INPUT_REWRITE],
    }


def answer(row: dict[str, Any]) -> str:
    """The answer the model is tuned to write for `row`: compact JSON, severity first."""
    return json.dumps({"severity": row["severity"], "component": row["component"], "action": row["action"]})


def render(family: Family, rng: random.Random, values: dict[str, object] | None = None) -> str:
    """One log line of `family`: a random wording, fresh fields (`values`, else `fields`) and a
    random log style."""
    msg = rng.choice(family.templates).format(**(fields(rng) if values is None else values))
    host, style = hostname(rng), rng.randrange(3)
    kernel = family.program == "kernel"
    pid = 1 if family.program == "systemd" else rng.randint(200, 32000)
    tag = f"kernel: [{rng.uniform(1, 900000):12.6f}]" if kernel else f"{family.program}[{pid}]:"
    month, day = rng.randrange(12), rng.randint(1, 28)
    h, m, s = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    if style == 0:
        return f"{_MONTHS[month]} {day:2d} {h:02d}:{m:02d}:{s:02d} {host} {tag} {msg}"
    if style == 1:
        us = rng.randrange(1_000_000)
        return f"2026-{month + 1:02d}-{day:02d}T{h:02d}:{m:02d}:{s:02d}.{us:06d}+00:00 {host} {tag} {msg}"
    return f"[{rng.uniform(1, 900000):12.6f}] {msg}" if kernel else f"{tag} {msg}"


def generate(
    seed: int, n: int, families: tuple[Family, ...] = FAMILIES, retag: float = 0.0
) -> list[dict[str, Any]]:
    """`n` labelled lines from `families`, the severities as balanced as `n` allows (round robin over
    the severities present, a random family within each), shuffled. Each row: text, severity,
    component, action, family. With `retag` (a training-side augmentation), that share of the lines
    carries another program's tag (one of `PROGRAMS`), so a program's name stops standing in for
    its families' severity."""
    if n < 0:
        raise ValueError(f"n: expected a count >= 0, got {n}")
    rng = random.Random(seed)
    by_sev = {s: [f for f in families if f.severity == s] for s in SEVERITIES}
    present = [s for s in SEVERITIES if by_sev[s]]
    if not present:
        raise ValueError("families: expected at least one family, got none")
    rows = []
    for i in range(n):
        fam = rng.choice(by_sev[present[i % len(present)]])
        if retag and rng.random() < retag:
            fam = replace(fam, program=rng.choice(PROGRAMS))
        rows.append(
            {
                "text": render(fam, rng),
                "severity": fam.severity,
                "component": fam.component,
                "action": fam.action,
                "family": fam.name,
            }
        )
    rng.shuffle(rows)
    return rows


@dataclass(slots=True)
class Split:
    """Training and held-out lines; no family is on both sides. `breadth` counts the training lines
    from the compositional families of `logtriage_breadth` (0: none)."""

    train: list[dict[str, Any]]
    heldout: list[dict[str, Any]]
    train_families: list[str] = field(default_factory=list)
    heldout_families: list[str] = field(default_factory=list)
    breadth: int = 0

    def describe(self) -> str:
        return (
            f"{len(self.train_families)} training families ({len(self.train)} lines), "
            f"{len(self.heldout_families)} held-out families ({len(self.heldout)} lines): "
            + ", ".join(self.heldout_families)
        )


def split(
    seed: int,
    n_train: int = 1200,
    n_heldout: int = 300,
    heldout_per_severity: int = 8,
    *,
    n_breadth: int = 0,
    retag: float = 0.0,
    markers: float = 0.0,
) -> Split:
    """Hold out `heldout_per_severity` random families of each severity (so every severity is on
    both sides), then generate `n_train` lines from the rest and `n_heldout` from them; with
    `n_breadth`, that many training lines from the compositional families of `logtriage_breadth`
    (never a held-out family: none of theirs) are shuffled into the training side. `retag` and
    `markers` shape the training side only (`generate`, `logtriage_breadth.generate`); the held-out
    lines are the same whatever they are."""
    rng = random.Random(seed)
    held: list[Family] = []
    for sev in SEVERITIES:
        fams = [f for f in FAMILIES if f.severity == sev]
        if not 0 < heldout_per_severity < len(fams):
            raise ValueError(
                f"heldout_per_severity: expected 1..{len(fams) - 1} ({sev} has {len(fams)} families), "
                f"got {heldout_per_severity}"
            )
        held += rng.sample(fams, heldout_per_severity)
    train_fams = tuple(f for f in FAMILIES if f not in held)
    train = generate(seed * 2 + 1, n_train, train_fams, retag)
    if n_breadth:
        from exporters.slm.tasks import logtriage_breadth

        train += logtriage_breadth.generate(seed * 2 + 3, n_breadth, markers)
        random.Random(seed).shuffle(train)
    return Split(
        train=train,
        heldout=generate(seed * 2 + 2, n_heldout, tuple(held)),
        train_families=[f.name for f in train_fams],
        heldout_families=[f.name for f in held],
        breadth=n_breadth,
    )


def main() -> None:
    """Print a few lines of each split (python -m exporters.slm.tasks.logtriage)."""
    s = split(0)
    print(s.describe())
    for row in s.train[:6] + s.heldout[:6]:
        print(f"{row['family']:>18} {row['severity']:>7}  {row['text']}")


if __name__ == "__main__":
    main()
