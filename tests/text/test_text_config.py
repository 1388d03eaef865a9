"""The text pipeline's config: the `postprocess: {kind: text}` block, and what building refuses, by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge_agent.config.models import PipelineConfig
from edge_agent.errors import ModelError
from edge_agent.inference.stopper import RunStopper
from edge_agent.text.config import TextPost
from edge_agent.text.kind import build_text_stages
from tests.text.slm_bundle import slm_bundle


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"labels": ["ok"]}, "expected at least two labels"),
        ({"labels": ["ok", "ok"]}, "expected distinct, non-empty labels"),
        ({"task": "extract", "labels": ["a", "b"]}, "labels: only the classify task uses labels"),
        ({"schema": {"type": "object"}}, "schema: only the extract task uses a schema"),
        ({"task": "extract", "schema": {"oneOf": []}}, "unsupported keyword(s) ['oneOf']"),
        ({"prompt": {"template": "no slot"}}, "expected a template containing {input}"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"max_new_tokens": 0}, "greater than or equal to 1"),
        ({"task": "summarise"}, "'classify', 'extract' or 'generate'"),
    ],
)
def test_bad_blocks_are_refused_saying_what_was_expected(block: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        TextPost.model_validate({"kind": "text", **block})


def test_defaults_are_the_documented_bounds() -> None:
    post = TextPost()
    assert (post.task, post.max_input_tokens, post.max_new_tokens, post.timeout_s) == (
        "classify",
        256,
        64,
        10.0,
    )
    assert post.labels is None
    assert post.schema_ is None  # the bundle's PromptSpec then


def _pipeline(tmp_path: Path, bundle: Path, **extra: Any) -> PipelineConfig:
    lines = tmp_path / "in.log"
    lines.write_text("x\n")
    return PipelineConfig.model_validate(
        {"source": {"kind": "text_file", "path": str(lines)}, "model": {"path": str(bundle)}, **extra}
    )


def test_text_sources_and_the_text_block_go_together(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match="postprocess: source kind text_file needs kind text, got classification"
    ):
        _pipeline(tmp_path, tmp_path, postprocess={"kind": "classification", "labels": ["a", "b"]})
    with pytest.raises(
        ValidationError, match="postprocess: kind text is not for source kind video"
    ):
        PipelineConfig.model_validate(
            {
                "source": {"kind": "video", "path": "v.mp4"},
                "model": {"path": "m.onnx"},
                "postprocess": {"kind": "text"},
            }
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"cascade": {"large": {"model": {"path": "x"}}}}, "pipelines.p.cascade: a text pipeline escalates"),
        (
            {
                "postprocess": {"kind": "text", "task": "generate"},
                "ensemble": {"members": [{"model": {"path": "x"}}]},
            },
            "pipelines.p.ensemble: members vote on a label: task must be classify",
        ),
        (
            {"postprocess": {"kind": "text", "max_new_tokens": 600, "task": "generate"}},
            "max_length 512 leaves no room for the input",
        ),
    ],
)
def test_building_refuses_what_cannot_run(
    tmp_path: Path, triage_bundle: Path, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        build_text_stages("p", _pipeline(tmp_path, triage_bundle, **extra), None, RunStopper())


def test_a_bundle_tuned_for_no_task_needs_labels_and_schema_from_the_config(tmp_path: Path) -> None:
    plain = slm_bundle(prompt=None, name="smollm2-plain")
    with pytest.raises(
        ModelError, match=r"pipelines.p.postprocess.labels: classify needs two or more labels"
    ):
        build_text_stages("p", _pipeline(tmp_path, plain), None, RunStopper())
    with pytest.raises(ModelError, match=r"pipelines.p.postprocess.schema: extract needs a JSON Schema"):
        build_text_stages(
            "p",
            _pipeline(tmp_path, plain, postprocess={"kind": "text", "task": "extract"}),
            None,
            RunStopper(),
        )
    stages = build_text_stages(
        "p",
        _pipeline(tmp_path, plain, postprocess={"kind": "text", "labels": ["yes", "no"]}),
        None,
        RunStopper(),
    )
    assert stages.model.model_id == "smollm2-plain@0.1.0"
    assert stages.input_name == "text"
