"""What the log-triage data tests compare wordings by: runs of consecutive words."""

from __future__ import annotations

import re


def runs(template: str, k: int = 4) -> set[tuple[str, ...]]:
    """Every run of `k` words in a template's literal text (its {placeholders} break the runs)."""
    found = set()
    for chunk in re.split(r"\{[^}]*\}", template):
        words = re.findall(r"[a-z0-9]+", chunk.lower())
        found |= {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}
    return found
