"""What the fine-tune trains on: JSONL rows → examples and a PromptSpec, and token ids whose label
sits where the text pipeline's `classify` scores it (the real SmolLM2 tokenizer)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from edge_agent.bundle.manifest import PromptSpec
from exporters.errors import UsageError
from exporters.slm.finetune_data import Encoder, examples, holdout, prompt_for, read_jsonl, validation_split
from exporters.slm.tasks import logtriage
from tests.slm_models import hf_dir


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    auto: Any = AutoTokenizer  # transformers' loaders are untyped
    return auto.from_pretrained(hf_dir())


def test_label_tokens_are_the_ones_classify_scores(tokenizer: Any) -> None:
    prompt = logtriage.prompt_spec()
    enc = Encoder(tokenizer, prompt, max_input_tokens=96)
    ex = examples(logtriage.generate(2, 6), "severity")
    for e in ex:
        ids, start, first, end = enc.training_pair(e)
        assert ids[first:end] == enc.ids(e.label)
        ctx = enc.prompt_ids(e.text) + enc.ids(prompt["answer_prefix"])
        # classify tokenizes prompt + prefix + label + suffix as one text; training must agree
        whole = enc.ids(tokenizer.decode(ctx) + e.label + prompt["label_suffix"])
        assert ids[: len(whole)] == whole
        assert ids[start : len(ctx)] == enc.ids(prompt["answer_prefix"])
        assert ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
        assert tokenizer.decode(ids[start:-1]) == e.answer


def test_long_inputs_are_cut_to_max_input_tokens(tokenizer: Any) -> None:
    enc = Encoder(tokenizer, logtriage.prompt_spec(), max_input_tokens=8)
    short, long = enc.prompt_ids("kernel: x"), enc.prompt_ids("kernel: " + "y " * 500)
    assert len(long) <= len(short) + 8


def test_jsonl_rows_give_examples_and_a_prompt_spec(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [{"input": f"door {i}", "output": {"state": s, "note": "n"}} for i, s in enumerate("ab" * 10)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    got = read_jsonl(path)
    prompt = prompt_for(got, "Say the state.", "Event: {input}")
    spec = PromptSpec.model_validate(prompt)
    assert spec.labels == ["a", "b"]
    assert spec.answer_prefix == '{"state": "'
    assert spec.label_field == "state"
    ex = examples(got, "state")
    assert ex[0].answer == '{"state": "a", "note": "n"}'
    assert ex[0].label == "a"
    train, held = holdout(got, seed=0)
    assert len(held) == 2
    assert len(train) == 18


def test_holdout_takes_whole_families_when_rows_name_them() -> None:
    rows = logtriage.generate(1, 200)
    train, held = holdout(rows, seed=0)
    assert held
    assert not {r["family"] for r in train} & {r["family"] for r in held}


def test_validation_takes_whole_training_families_of_every_label() -> None:
    sp = logtriage.split(0, n_train=300, n_heldout=30)
    train_ex = examples(sp.train, "severity")
    train, val = validation_split(train_ex, per_label=2, seed=0)
    val_fams = {e.family for e in val}
    assert len(val_fams) == 6
    assert {e.label for e in val} == {"ok", "warning", "fault"}
    assert not val_fams & {e.family for e in train}
    assert not val_fams & set(sp.heldout_families)
    assert len(train) + len(val) == len(train_ex)
    assert validation_split(train_ex, per_label=0, seed=0) == (train_ex, [])


def test_validation_of_more_families_than_a_label_has_is_refused() -> None:
    train_ex = examples(logtriage.split(0, n_train=120, n_heldout=30).train, "severity")
    with pytest.raises(UsageError, match="--val-families: expected fewer than each label"):
        validation_split(train_ex, per_label=40, seed=0)


def test_bad_rows_name_the_line_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "a", "output": "x"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad.jsonl:2: expected a JSON object, got list"):
        read_jsonl(path)
    with pytest.raises(UsageError, match="'input'"):
        examples([{"output": {"s": "a"}}], "s")
    with pytest.raises(UsageError, match=re.escape("--template: expected a text with {input}")):
        prompt_for([{"input": "a", "output": "x"}], None, "no placeholder")
