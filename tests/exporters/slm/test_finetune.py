"""`edge-export finetune` on a small slice of the log-triage task, for real: SmolLM2 tuned in torch
in .venv-slm, scored before and after as `classify` scores, and its output built by
onnxruntime-genai's model builder and opened by the runtime the device uses.

The slice is sized for CI (a few steps of short sequences, the top layers only, a high learning
rate), seeded; what it must show is that tuning moves the held-out accuracy above the zero-shot
figure, not the 95 % of a full run (docs/slm.md, "Fine-tuning" has that run's figures).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.bundle import rewrite
from edge_agent.bundle.manifest import PromptSpec
from exporters import cli
from exporters.slm import finetune
from exporters.slm.finetune import PROMPT_SPEC, REPORT, SCORES
from exporters.slm.tasks import logtriage
from tests.slm_models import cache_root, hf_dir, need_slm_env

# A real fine-tune: ~100 s on two idle cores, over 250 s on a busy machine; its own timeout (3x).
pytestmark = pytest.mark.timeout(900)

SLICE = [
    "--task", "logtriage", "--n-train", "240", "--n-heldout", "36", "--train-eval", "24",
    "--steps", "14", "--batch-size", "8", "--lr", "6e-4", "--top-layers", "4", "--seed", "0",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_slm_env()
    out = tmp_path_factory.mktemp("finetune") / "tuned"
    assert cli.main(["finetune", "--base", str(hf_dir()), "--out", str(out), *SLICE]) == 0
    return out


def _report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / REPORT).read_text(encoding="utf-8"))
    return data


def test_tuning_raises_accuracy_above_zero_shot(tuned: Path) -> None:
    r = _report(tuned)
    assert r["steps"] == 14
    assert r["heldout_lines"] == 36
    assert not set(r["train_families"]) & set(r["heldout_families"])
    assert r["loss_last"] < r["loss_first"]
    assert r["train_after"]["accuracy"] > r["train_before"]["accuracy"]
    assert r["heldout_after"]["accuracy"] > r["heldout_before"]["accuracy"]
    assert r["train_wall_s"] > 0
    assert r["train_cpu_s"] > 0


def test_scores_file_is_the_reports_figure(tuned: Path) -> None:
    """heldout_scores.jsonl holds every held-out line's label probabilities, and their argmax is the
    report's tuned accuracy to the line (benchmarks/slm_vote.py votes on these)."""
    r = _report(tuned)
    rows = [json.loads(line) for line in (tuned / SCORES).read_text(encoding="utf-8").splitlines()]
    assert len(rows) == r["heldout_lines"] == 36
    assert {row["family"] for row in rows} <= set(r["heldout_families"])
    right = 0
    for row in rows:
        assert list(row["probs"]) == ["ok", "warning", "fault"]
        assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-4)
        right += max(row["probs"], key=row["probs"].__getitem__) == row["label"]
    assert right / len(rows) == pytest.approx(r["heldout_after"]["accuracy"], abs=1e-4)


def test_rewrite_rules_join_the_tasks() -> None:
    args = finetune.build_parser().parse_args(
        ["--base", "shipped", "--task", "logtriage", "--out", "o", "--n-train", "12", "--n-heldout", "6",
         "--rewrite", r"^[\w.@/-]+: ", ""]
    )  # fmt: skip
    train, _, held, prompt, about = finetune.load_data(args)
    rules = prompt["input_rewrite"]
    assert rules[:-1] == [list(r) for r in logtriage.INPUT_REWRITE]
    assert rules[-1] == [r"^[\w.@/-]+: ", ""]
    assert about["rewrite"] == [rules[-1]]
    line = "Dec  1 10:00:00 pi-cam2 sshd[812]: Accepted publickey for pi from 10.0.0.7 port 50122 ssh2"
    assert rewrite.apply(rules, line) == "Accepted publickey for pi from 10.0.0.7 port 50122 ssh2"
    assert len(train) == 12
    assert len(held) == 6


def test_outputs_are_what_build_takes(tuned: Path) -> None:
    import onnxruntime_genai as og  # type: ignore[import-untyped]

    from exporters.slm.builder import build_genai

    spec = PromptSpec.model_validate_json((tuned / PROMPT_SPEC).read_text(encoding="utf-8"))
    assert spec.labels == ["ok", "warning", "fault"]
    assert spec.answer_prefix == '{"severity": "'
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (tuned / name).is_file(), name
    genai = build_genai(tuned, tuned.parent / "genai", "int4", 256, cache=cache_root() / "builder-cache")
    tok = og.Tokenizer(og.Model(str(genai)))
    assert tok.decode(tok.encode(spec.answer_prefix + "fault")) == spec.answer_prefix + "fault"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need_slm_env()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    args = ["finetune", "--base", str(tmp_path), "--train", str(bad), "--out", str(tmp_path / "o")]
    assert cli.main(args) == 2
    assert "bad.jsonl:1: expected a JSON object" in capsys.readouterr().err
    args = ["finetune", "--base", "shipped", "--task", "logtriage", "--out", str(tmp_path / "o"),
            "--rewrite", "(", ""]  # fmt: skip
    assert cli.main(args) == 2
    assert "--rewrite #1: '(' -> '' does not compile" in capsys.readouterr().err
