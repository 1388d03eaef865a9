"""Voting (issue 15 item 5): the same bundle asked two ways and another bundle vote on one label, through
the `ensemble:` block and edge_agent.ensemble.voting's functions, on the real SmolLM2 bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.config.models import PipelineConfig
from edge_agent.ensemble.voting import vote
from edge_agent.inference.stopper import RunStopper
from edge_agent.stages.protocols import Stages
from edge_agent.text.engine import TextEngine
from edge_agent.text.kind import build_text_stages
from edge_agent.text.voting import TextVote
from tests.text.slm_bundle import slm_bundle

LABELS = ["ok", "warning", "fault"]
LINE = b"mmc0: timeout waiting for hardware interrupt"
ALT = {"system": "You rate how serious a device log line is.", "template": "How serious is this?\n{input}"}


def _stages(tmp_path: Path, bundle: Path, voting: str) -> Stages:
    src = tmp_path / "in.log"
    src.write_text("x\n")
    other = slm_bundle(
        prompt=None, name="smollm2-plain"
    )  # another bundle, tuned for nothing: labels from config
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "text_file", "path": str(src)},
            "model": {"path": str(bundle)},
            "postprocess": {"kind": "text", "labels": LABELS, "max_input_tokens": 32},
            "ensemble": {
                "voting": voting,
                "members": [
                    {"model": {"path": str(bundle)}, "prompt": ALT, "weight": 2.0},
                    {
                        "model": {"path": str(other)},
                        "prompt": {"answer_prefix": '{"severity": "', "label_suffix": '"'},
                    },
                ],
            },
        }
    )
    return build_text_stages("v", cfg, None, RunStopper())


def _result(stages: Stages) -> dict[str, Any]:
    return stages.postprocess(stages.session.run({"text": np.frombuffer(LINE, dtype=np.uint8)}), None)


@pytest.mark.parametrize("voting", ["mean_prob", "majority"])
def test_members_vote_with_the_ensemble_functions(tmp_path: Path, triage_bundle: Path, voting: str) -> None:
    stages = _stages(tmp_path, triage_bundle, voting)
    session: Any = stages.session
    task = session.task
    assert isinstance(task, TextVote)
    members = [v.task(LINE.decode()) for v in task.voters]  # each member on its own
    assert [m.outcome for m in members] == ["ok", "ok", "ok"]
    assert members[0].probs != pytest.approx(members[1].probs)  # the other prompt really asks differently
    out = _result(stages)
    expected = vote([np.array([[m.probs[k] for k in LABELS]]) for m in members], [1.0, 2.0, 1.0], voting)[0]
    assert out["outcome"] == "ok"
    assert out["label"] == LABELS[int(expected.argmax())]
    assert out["prob"] == pytest.approx(float(expected.max()), abs=1e-4)
    assert out["tokens_in"] == sum(m.tokens_in for m in members)
    stats = stages.counters["combination"]()
    assert stats["voting"] == voting
    assert stats["ensemble_inputs"] == 1
    assert list(stats["member_runs"].values()) == [1, 1, 1]  # the vote counts its own runs
    assert list(stats["member_runs"]) == [
        "smollm2-triage@0.1.0",
        "smollm2-triage@0.1.0#1",
        "smollm2-plain@0.1.0#2",
    ]


def test_a_failing_member_does_not_vote_and_is_counted(
    tmp_path: Path, triage_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = _stages(tmp_path, triage_bundle, "mean_prob")
    task: Any = stages.session.task  # type: ignore[attr-defined]
    broken: TextEngine = task.voters[2].task.engine

    def fault(*_a: object, **_k: object) -> None:
        raise RuntimeError("injected: member failed")

    monkeypatch.setattr(broken, "_generator", fault)
    out = _result(stages)
    assert out["outcome"] == "ok"
    assert out["label"] in LABELS
    assert stages.counters["combination"]()["member_failures"] == {
        "smollm2-triage@0.1.0": 0,
        "smollm2-triage@0.1.0#1": 0,
        "smollm2-plain@0.1.0#2": 1,
    }
    assert stages.counters["text"]()["outcomes"]["ok"] == 1
