"""Several small text models or prompts voting on one label (issue 15 item 5).

A text pipeline's `ensemble:` block names more members beside its `model:`: other SLM bundles, or the
same bundle asked another way (a member's `prompt:`). Each member classifies the input over the same
label set; their label-probability vectors are combined by edge_agent.ensemble.voting, the functions
image ensembles use (majority, weighted, mean_prob). A member that times out or fails does not vote;
the answer stands on those that did, and the stats count both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_agent.ensemble.voting import vote
from edge_agent.errors import ModelError
from edge_agent.stages.types import JSON
from edge_agent.text.engine import Reply
from edge_agent.text.tasks import Classify


@dataclass(slots=True)
class Voter:
    """One voting member: its classify task, vote weight and counters."""

    task: Classify
    weight: float = 1.0
    name: str = ""
    runs: int = 0
    failures: int = 0


class TextVote:
    """A classify task whose answer is the vote of its members (a Task: `text -> Reply`)."""

    task = "classify"

    def __init__(self, voters: Sequence[Voter], voting: str = "mean_prob") -> None:
        if len(voters) < 2:
            raise ModelError(f"ensemble: expected two or more members, got {len(voters)}")
        labels = voters[0].task.labels
        for v in voters[1:]:
            if v.task.labels != labels:
                raise ModelError(
                    f"ensemble: member {v.name} votes on {v.task.labels}, the pipeline's model on {labels}: "
                    "every member needs the same labels in the same order"
                )
        self.voters = list(voters)
        self.labels = list(labels)
        self.voting = voting
        self.inputs = 0

    def __call__(self, text: str) -> Reply:
        replies = [v.task(text) for v in self.voters]
        out = Reply("classify")
        out.tokens_in = sum(r.tokens_in for r in replies)
        out.tokens_out = sum(r.tokens_out for r in replies)
        out.ms = sum(r.ms for r in replies)
        out.cpu_s = sum(r.cpu_s for r in replies)
        out.truncated = any(r.truncated for r in replies)
        self.inputs += 1
        answered = []
        for v, r in zip(self.voters, replies, strict=True):
            v.runs += 1
            if r.outcome == "ok":
                answered.append((v, r))
            else:
                v.failures += 1
        if not answered:  # nobody voted: the first member's outcome says why
            out.outcome = replies[0].outcome
            out.detail = "no member answered: " + "; ".join(
                f"{v.name}: {r.detail}" for v, r in zip(self.voters, replies, strict=True)
            )
            return out
        probs = [np.array([[r.probs[label] for label in self.labels]]) for _, r in answered]
        scores = vote(probs, [v.weight for v, _ in answered], self.voting)[0]
        best = int(scores.argmax())
        out.label, out.prob = self.labels[best], float(scores[best])
        out.probs = {label: float(s) for label, s in zip(self.labels, scores, strict=True)}
        return out

    def stats(self) -> JSON:
        """Counters for the stats message, as image ensembles report them."""
        return {
            "ensemble_inputs": self.inputs,
            "voting": self.voting,
            "member_runs": {v.name: v.runs for v in self.voters},
            "member_failures": {v.name: v.failures for v in self.voters},
        }
