"""What `edge-export finetune` trains on: input → answer pairs, the PromptSpec they are asked with,
and their token ids (the chat-templated prompt, then the answer the loss is taken on).

Rows come from the built-in log-triage task (`exporters.slm.tasks.logtriage`) or from a JSONL file,
one object a line: `{"input": "...", "output": {...} | "..."}`, or the log-triage shape `{"text":
"...", "severity": ..., ...}` (every key but text/input/family is the output). The held-out rows
come from `--eval FILE`, else from whole families when the rows name one (`"family"`), else a seeded
tenth of the file.

The answer is tokenized in pieces, `answer_prefix | label | label_suffix | rest | eos`, the same
boundaries the text pipeline's `classify` scores at, so training and scoring see the label as the
same tokens. No torch here: this module runs wherever the tokenizer does.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.bundle import rewrite
from exporters.errors import UsageError

_NOT_OUTPUT = ("text", "input", "family")


@dataclass(frozen=True, slots=True)
class Example:
    """One input → answer pair; `label` is the value of the prompt's label field (or the whole
    answer when it is a bare string), `family` the message family it came from, if known."""

    text: str
    answer: str
    label: str
    family: str | None = None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a line that is not a JSON object is an error naming the line."""
    if not path.is_file():
        raise UsageError(f"{path}: expected a JSONL file, got no such file")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: expected a JSON object, got invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    if not rows:
        raise UsageError(f"{path}: expected JSONL rows, got an empty file")
    return rows


def _io(row: dict[str, Any], where: str) -> tuple[str, dict[str, Any] | str]:
    text = row.get("input", row.get("text"))
    if not isinstance(text, str) or not text:
        raise UsageError(f"{where}: expected a non-empty string in 'input' (or 'text'), got {text!r}")
    out = row["output"] if "output" in row else {k: v for k, v in row.items() if k not in _NOT_OUTPUT}
    if not isinstance(out, (dict, str)) or not out:
        raise UsageError(f"{where}: expected 'output' to be a non-empty object or string, got {out!r}")
    return text, out


def label_field_of(rows: list[dict[str, Any]]) -> str | None:
    """The output's first key (the label the answer starts with), or None for bare-string answers."""
    _, out = _io(rows[0], "row 1")
    return next(iter(out)) if isinstance(out, dict) else None


def prompt_for(rows: list[dict[str, Any]], system: str | None, template: str) -> dict[str, Any]:
    """A PromptSpec (as JSON fields) for rows that bring no task of their own: labels are the label
    field's distinct values, the answer prefix is the JSON up to that field's value."""
    if "{input}" not in template:
        raise UsageError(f"--template: expected a text with {{input}} in it, got {template!r}")
    field = label_field_of(rows)
    labels = sorted({_label(_io(r, f"row {i}")[1], field) for i, r in enumerate(rows, 1)})
    return {
        "system": system,
        "template": template,
        "answer_prefix": f'{{"{field}": "' if field else "",
        "label_suffix": '"' if field else "",
        "labels": labels,
        "label_field": field,
        "schema": None,
    }


def _label(out: dict[str, Any] | str, field: str | None) -> str:
    if field is None:
        return str(out)
    if not isinstance(out, dict) or not isinstance(out.get(field), str):
        raise UsageError(f"output: expected an object whose {field!r} is a string label, got {out!r}")
    return str(out[field])


def examples(rows: list[dict[str, Any]], field: str | None) -> list[Example]:
    """Rows → Examples; the answer is compact JSON with the label field first."""
    found = []
    for i, row in enumerate(rows, 1):
        text, out = _io(row, f"row {i}")
        label = _label(out, field)
        if isinstance(out, dict) and field is not None:
            out = {field: out[field], **{k: v for k, v in out.items() if k != field}}
        answer = json.dumps(out, ensure_ascii=False) if isinstance(out, dict) else out
        fam = row.get("family")
        found.append(Example(text, answer, label, str(fam) if fam is not None else None))
    return found


def holdout(rows: list[dict[str, Any]], seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a file with no --eval: whole families when rows name them (a fifth of the families),
    else a seeded tenth of the rows."""
    rng = random.Random(seed)
    fams = sorted({str(r["family"]) for r in rows if "family" in r})
    if len(fams) >= 5:
        held = set(rng.sample(fams, max(1, len(fams) // 5)))
        return [r for r in rows if r.get("family") not in held], [r for r in rows if r.get("family") in held]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    k = max(1, len(rows) // 10)
    return shuffled[k:], shuffled[:k]


def validation_split(exs: list[Example], per_label: int, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, validation) from the training examples, for early stopping: `per_label` whole families
    of each label when the examples name families (so validation, like the held-out test, is on
    families training never saw, and never touches the test's), else a seeded tenth."""
    if per_label <= 0:
        return exs, []
    rng = random.Random(seed)
    fams: dict[str, set[str]] = {}
    for ex in exs:
        if ex.family is not None:
            fams.setdefault(ex.label, set()).add(ex.family)
    if fams:
        short = {lab: len(f) for lab, f in fams.items() if len(f) <= per_label}
        if short:
            raise UsageError(
                f"--val-families: expected fewer than each label's training families, got {per_label} "
                f"(families per label: {short})"
            )
        val = {f for lab in sorted(fams) for f in rng.sample(sorted(fams[lab]), per_label)}
        return [e for e in exs if e.family not in val], [e for e in exs if e.family in val]
    shuffled = exs[:]
    rng.shuffle(shuffled)
    k = max(1, len(exs) // 10)
    return shuffled[k:], shuffled[:k]


class Encoder:
    """Token ids for prompts and answers, with a Hugging Face tokenizer that carries the model's
    chat template (the one the bundle ships and the agent applies)."""

    def __init__(self, tokenizer: Any, prompt: dict[str, Any], max_input_tokens: int) -> None:
        self.tok = tokenizer
        self.prompt = prompt
        self.max_input_tokens = max_input_tokens
        eos = tokenizer.eos_token_id
        if not isinstance(eos, int):
            raise UsageError("tokenizer: expected an eos token (the end of an assistant turn), got none")
        self.eos: int = eos

    def ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, text: str) -> list[int]:
        """The chat-templated prompt up to the assistant's first token; the input is rewritten
        (the prompt's `input_rewrite`) and cut to `max_input_tokens`, as the text pipeline does."""
        text = rewrite.apply(self.prompt.get("input_rewrite") or [], text)
        cut = self.ids(text)
        if len(cut) > self.max_input_tokens:
            text = self.tok.decode(cut[: self.max_input_tokens])
        msgs = []
        if self.prompt.get("system"):
            msgs.append({"role": "system", "content": self.prompt["system"]})
        msgs.append({"role": "user", "content": self.prompt["template"].format(input=text)})
        chat = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return self.ids(chat)

    def answer_ids(self, ex: Example) -> list[int]:
        """The answer in the pieces classify scores: prefix, label, suffix, then the rest and eos."""
        head = self.prompt["answer_prefix"] + ex.label + self.prompt["label_suffix"]
        if not ex.answer.startswith(head):
            raise UsageError(f"answer {ex.answer!r}: expected it to start with {head!r}")
        pieces = [self.prompt["answer_prefix"], ex.label, self.prompt["label_suffix"], ex.answer[len(head) :]]
        return [t for p in pieces if p for t in self.ids(p)] + [self.eos]

    def training_pair(self, ex: Example) -> tuple[list[int], int, int, int]:
        """(prompt + answer ids, where the answer starts, where the label's tokens start and end):
        the loss is taken from the answer's start on, the label's tokens weighted."""
        p = self.prompt_ids(ex.text)
        prefix = self.prompt["answer_prefix"]
        first = len(p) + (len(self.ids(prefix)) if prefix else 0)
        return p + self.answer_ids(ex), len(p), first, first + len(self.ids(ex.label))

    def label_ids(self, label: str) -> list[int]:
        """The tokens `classify` scores for `label`: the label and its suffix, tokenized together as
        the text pipeline tokenizes them (edge_agent/text/engine.py)."""
        return self.ids(label + self.prompt["label_suffix"])

    def label_pair(self, ex: Example) -> tuple[list[int], int, int, int]:
        """The same shape for a label-only loss (`--loss label`): the sequence ends with the
        label's tokens and the suffix after it, and the loss is taken on them alone, the very
        tokens `classify` scores (a model trained on the label alone learns nothing about the
        suffix, whose probability then differs per label and moves the agent's argmax: a tuned
        model read 88.7 % without it and 65.3 % with it). Shorter sequences, no answer to memorise."""
        p = self.prompt_ids(ex.text)
        prefix = self.prompt["answer_prefix"]
        head = p + (self.ids(prefix) if prefix else [])
        label = self.label_ids(ex.label)
        return head + label, len(head), len(head), len(head) + len(label)
