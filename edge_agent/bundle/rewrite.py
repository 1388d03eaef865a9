"""Input rewrites: the regular-expression substitutions a prompt applies to an input before the
template (PromptSpec.input_rewrite, docs/slm.md, "Input rewrites"). The exporter's finetune, its
gate and the agent's text pipeline all call `apply`, so a tuned model sees on the device exactly the
text it was trained on.

A log line's timestamp, host name, pid and kernel uptime say nothing about its meaning and cost
more than half its tokens (SmolLM2 writes each digit as a token); cutting them makes every
prompt shorter to train on and to run. Leaf module: `re` only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

Rule = tuple[str, str]


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check(rules: Sequence[Sequence[str]]) -> list[Rule]:
    """`rules` as (pattern, replacement) pairs; a pair that is not two strings, a pattern that does
    not compile or a replacement that names a group the pattern lacks raises ValueError naming it."""
    out: list[Rule] = []
    for i, rule in enumerate(rules):
        if len(rule) != 2 or not all(isinstance(s, str) for s in rule):
            raise ValueError(f"input_rewrite[{i}]: expected [pattern, replacement], got {list(rule)!r}")
        pattern, repl = rule
        try:
            _compiled(pattern).sub(repl, "")  # compiles both: a bad group reference fails here too
        except re.error as exc:
            raise ValueError(f"input_rewrite[{i}]: {pattern!r} -> {repl!r} does not compile: {exc}") from None
        out.append((pattern, repl))
    return out


def apply(rules: Sequence[Sequence[str]], text: str) -> str:
    """`text` with each rule's substitution made in turn (every match, as re.sub)."""
    for pattern, repl in rules:
        text = _compiled(pattern).sub(repl, text)
    return text
