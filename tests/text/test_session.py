"""The text session and result on the real bundle: frames in (text_frame), inputs refused with a reason,
the escalation hook's view of the input, and what a result carries."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.config.models import PipelineConfig
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.stopper import RunStopper
from edge_agent.stages.protocols import Stages
from edge_agent.text.engine import TextEngine
from edge_agent.text.frames import text_frame
from edge_agent.text.kind import build_text_stages
from edge_agent.text.session import escalating
from edge_agent.text.tasks import open_classifier


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
    seen: list[tuple[str, float, str, dict[str, Any]]] = []

    @dataclass
    class Outcome:  # the shape of edge_agent.text.escalate.Outcome
        label: str
        prob: float | None
        escalation: dict[str, Any] | None

    def apply(label: str, prob: float, text: str, fields: Mapping[str, Any]) -> Outcome:
        """A stand-in for h-esc's EscalationPolicy.apply: every answer escalates, to `fault`."""
        seen.append((label, prob, text, dict(fields)))
        return Outcome("fault", None, {"to": "http", "answered": True, "sent": ["text"]})

    session: Any = stages.session
    session.escalate = escalating(apply)
    frame = text_frame("mmc0: card removed", 1.0, 0, "s", {"unit": "kernel", "host": "pi"}, "site/logs/pi")
    out = _run(stages, frame.data, frame.meta)
    [(local_label, local_prob, text, fields)] = seen
    assert local_label in ("ok", "warning", "fault")
    assert 0 < local_prob <= 1
    assert text == "mmc0: card removed"
    assert fields == {"unit": "kernel", "host": "pi"}
    assert out["label"] == "fault"
    assert out["prob"] is None  # the larger model gave no probability: none is made up
    assert out["escalation"] == {"to": "http", "answered": True, "sent": ["text"]}
    assert out["input_id"] == "site/logs/pi"
    assert "input" not in out
    assert "text" not in out


def test_a_bundle_as_the_local_escalation_target(
    triage_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = open_classifier(ModelConfig(path=triage_bundle), ["ok", "warning", "fault"], timeout_s=30)
    label, prob = target.classify("thermal: CPU temperature above threshold, cpu clock throttled")
    assert label in ("ok", "warning", "fault")
    assert 0 < prob <= 1
    ticks = itertools.count(step=100.0)  # fault: a stuck request
    monkeypatch.setattr(TextEngine, "clock", staticmethod(lambda: next(ticks)))
    with pytest.raises(TimeoutError):
        target.classify("thermal: CPU temperature above threshold")
