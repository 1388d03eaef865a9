"""The text session and result on the real bundle: frames in (text_frame), inputs refused with a reason,
the escalation hook's view of the input, and what a result carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.config.models import PipelineConfig
from edge_agent.inference.stopper import RunStopper
from edge_agent.stages.protocols import Stages
from edge_agent.text.engine import Reply
from edge_agent.text.frames import text_frame
from edge_agent.text.kind import build_text_stages


@pytest.fixture
def stages(tmp_path: Path, triage_bundle: Path) -> Stages:
    src = tmp_path / "in.log"
    src.write_text("x\n")
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "text_file", "path": str(src)},
            "model": {"path": str(triage_bundle)},
            "postprocess": {"kind": "text", "max_input_tokens": 32},
        }
    )
    return build_text_stages("s", cfg, None, RunStopper())


def _run(stages: Stages, data: np.ndarray[Any, Any], meta: dict[str, Any]) -> dict[str, Any]:
    assert stages.frame_session is not None
    tensor, lb = stages.preprocess(data)
    return stages.postprocess(stages.frame_session.run_frame({stages.input_name: tensor}, meta), lb)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"\xc3\x28", "not UTF-8 at byte 0"),
        (b"ok\x00then", "contains a NUL character"),
        (b"  \t", "empty input"),
    ],
)
def test_inputs_without_usable_text_are_refused_with_the_reason(
    stages: Stages, raw: bytes, detail: str
) -> None:
    out = _run(stages, np.frombuffer(raw, dtype=np.uint8), {"input": "site/logs/a"})
    assert out["outcome"] == "bad_input"
    assert out["detail"] == detail
    assert out["input_id"] == "site/logs/a"
    assert out["tokens_in"] == 0
    assert stages.counters["text"]()["outcomes"]["bad_input"] == 1


def test_the_escalation_hook_sees_the_input_fields_and_its_answer_is_published(stages: Stages) -> None:
    seen: list[dict[str, Any]] = []

    def escalate(reply: Reply, fields: dict[str, Any]) -> Reply:  # a stand-in for h-esc's escalator
        seen.append(fields)
        reply.label, reply.prob = "fault", 0.99
        return reply

    session: Any = stages.session
    session.escalate = escalate
    frame = text_frame("mmc0: card removed", 1.0, 0, "s", {"unit": "kernel", "host": "pi"}, "site/logs/pi")
    out = _run(stages, frame.data, frame.meta)
    assert seen == [{"unit": "kernel", "host": "pi", "text": "mmc0: card removed"}]
    assert out["label"] == "fault"
    assert out["prob"] == 0.99
    assert out["input_id"] == "site/logs/pi"
    assert "input" not in out
    assert "text" not in out
