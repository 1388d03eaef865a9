"""The text engine on the real SmolLM2 bundle (onnxruntime-genai): tasks, bounds, outcomes, the lock.

Zero-shot the 135M model is near chance at triage, so these assert structure, validity and bounds,
never accuracy. The only fakes are injected faults: a clock that jumps (a stuck generation) and a
generator that raises (a runtime failure).
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from edge_agent.bundle.verify import verify_bundle
from edge_agent.errors import ModelError
from edge_agent.inference.config import ModelConfig
from edge_agent.text.engine import Prompt, Reply, TextEngine
from edge_agent.text.model import open_bundle
from edge_agent.text.schema import validate
from tests.text.slm_bundle import TRIAGE_SCHEMA

LABELS = ["ok", "warning", "fault"]
LINE = "kernel: Under-voltage detected! (0x00050005)"


def classify(engine: TextEngine, prompt: Prompt, text: str = LINE, **kw: Any) -> Reply:
    return engine.classify(
        text, LABELS, prompt, max_input_tokens=kw.get("max_input_tokens", 64), timeout_s=30
    )


def test_classify_gives_a_label_of_the_set_with_probabilities(
    engine: TextEngine, triage_prompt: Prompt
) -> None:
    r = classify(engine, triage_prompt)
    assert r.outcome == "ok", r.detail
    assert r.label in LABELS
    assert set(r.probs) == set(LABELS)
    assert sum(r.probs.values()) == pytest.approx(1.0)
    assert r.prob == max(r.probs.values()) == r.probs[r.label]
    assert r.tokens_in > 20
    assert r.tokens_out == 0
    assert not r.truncated
    assert r.ms > 0
    assert r.tokens_per_s > 0
    assert r.text is None
    assert r.obj is None


def test_rewinding_to_the_shared_prefix_scores_like_a_fresh_run(
    engine: TextEngine, triage_prompt: Prompt
) -> None:
    """The shortcut (prompt once, rewind between labels) gives the log-probabilities a fresh generator
    per label gives."""
    got = classify(engine, triage_prompt).probs
    og: Any = engine._loaded.og
    head = engine.render(LINE, triage_prompt) + triage_prompt.answer_prefix
    logp = []
    for label in LABELS:
        ids = np.asarray(engine._tok.encode(head + label + triage_prompt.label_suffix), dtype=np.int32)
        params = og.GeneratorParams(engine._loaded.model)
        params.set_search_options(max_length=len(ids) + 1)
        gen = og.Generator(engine._loaded.model, params)
        n = len(ids) - 2  # score the last two tokens (label and quote) by hand, one at a time
        gen.append_tokens(ids[:n])
        total = 0.0
        for tok in ids[n:]:
            logits = np.asarray(gen.get_logits()[0, -1], dtype=np.float64)
            total += float(logits[tok] - logits.max() - np.log(np.exp(logits - logits.max()).sum()))
            gen.append_tokens(np.array([tok], dtype=np.int32))
        logp.append(total)
    p = np.exp(np.array(logp) - max(logp))
    p /= p.sum()
    assert [got[label] for label in LABELS] == pytest.approx(list(p), abs=1e-4)


def test_the_input_rewrite_runs_before_the_prompt(engine: TextEngine, triage_prompt: Prompt) -> None:
    """A syslog line under the log-triage rules scores exactly as its bare `program: message`, in
    fewer tokens than the raw line costs without them; an override of [] turns the rules off."""
    from dataclasses import replace

    from edge_agent.bundle.settings import PromptOverride
    from exporters.slm.tasks.logtriage import INPUT_REWRITE

    raw = "2026-12-02T17:28:15.123456+00:00 pi-cam2 kernel: [ 8123.456789] " + LINE.removeprefix("kernel: ")
    ruled = replace(triage_prompt, input_rewrite=tuple(INPUT_REWRITE))
    plain = replace(triage_prompt, input_rewrite=())
    got, bare = classify(engine, ruled, raw), classify(engine, plain, LINE)
    unruled = classify(engine, plain, raw)
    assert got.probs == pytest.approx(bare.probs, abs=1e-6)
    assert got.tokens_in == bare.tokens_in < unruled.tokens_in - 20
    off = Prompt.of(engine.prompt_spec, PromptOverride(input_rewrite=[]))
    assert off.input_rewrite == ()


def test_an_over_long_input_is_cut_and_marked(engine: TextEngine, triage_prompt: Prompt) -> None:
    short = classify(engine, triage_prompt, max_input_tokens=64)
    long = classify(engine, triage_prompt, "disk error sector " * 200, max_input_tokens=64)
    assert not short.truncated
    assert long.outcome == "ok"
    assert long.truncated
    overhead = short.tokens_in - len(engine._tok.encode(LINE))
    assert long.tokens_in <= overhead + 64 + 2  # the cut input, re-encoded, may merge a token or two


def test_extract_answers_are_valid_against_the_schema(engine: TextEngine, triage_prompt: Prompt) -> None:
    for line in (LINE, "systemd[1]: Started Daily apt upgrade and clean activities."):
        r = engine.extract(
            line, TRIAGE_SCHEMA, triage_prompt, max_input_tokens=64, max_new_tokens=96, timeout_s=30
        )
        assert r.outcome == "ok", r.detail
        assert validate(r.obj, TRIAGE_SCHEMA) == []
        jsonschema.validate(r.obj, TRIAGE_SCHEMA)
        assert 0 < r.tokens_out <= 96


def test_extract_cut_by_max_new_tokens_is_invalid_not_published(
    engine: TextEngine, triage_prompt: Prompt
) -> None:
    r = engine.extract(
        LINE, TRIAGE_SCHEMA, triage_prompt, max_input_tokens=64, max_new_tokens=6, timeout_s=30
    )
    assert r.outcome == "invalid"
    assert r.obj is None
    assert r.detail == "answer cut at max_new_tokens"
    assert r.tokens_out == 6


def test_generate_is_bounded_by_max_new_tokens(engine: TextEngine) -> None:
    r = engine.generate(
        "Summarise: the fan started.", Prompt(), max_input_tokens=32, max_new_tokens=8, timeout_s=30
    )
    assert r.outcome == "ok"
    assert isinstance(r.text, str)
    assert 0 < r.tokens_out <= 8


def test_a_stuck_generation_times_out_and_the_engine_goes_on(
    engine: TextEngine, triage_prompt: Prompt, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = itertools.count(step=100.0)  # fault: each look at the clock is 100 s later
    monkeypatch.setattr(TextEngine, "clock", staticmethod(lambda: next(ticks)))
    r = engine.generate(LINE, Prompt(), max_input_tokens=32, max_new_tokens=64, timeout_s=150)
    assert r.outcome == "timeout"
    assert r.detail == "over timeout_s 150"
    assert r.tokens_out < 64
    monkeypatch.undo()
    assert classify(engine, triage_prompt).outcome == "ok"  # the lock was released


def test_a_runtime_failure_is_an_error_outcome(
    engine: TextEngine, triage_prompt: Prompt, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("injected: generator failed")

    monkeypatch.setattr(engine, "_generator", broken)
    r = classify(engine, triage_prompt)
    assert r.outcome == "error"
    assert r.detail == "RuntimeError: injected: generator failed"
    monkeypatch.undo()
    assert classify(engine, triage_prompt).outcome == "ok"


def test_engines_on_one_bundle_share_one_model_and_one_lock(
    engine: TextEngine, triage_bundle: Path, triage_prompt: Prompt
) -> None:
    bundle = verify_bundle(triage_bundle)
    assert bundle.manifest.slm is not None
    other = TextEngine(bundle, bundle.manifest.slm, threads=1)
    assert other._loaded is engine._loaded
    replies: list[Reply] = []
    threads = [
        threading.Thread(target=lambda e=e: replies.append(classify(e, triage_prompt)))
        for e in (engine, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in replies] == ["ok", "ok"]
    assert replies[0].probs == pytest.approx(replies[1].probs, abs=1e-5)  # same answer, one at a time


def test_bounds_that_cannot_fit_max_length_are_refused(engine: TextEngine, triage_prompt: Prompt) -> None:
    with pytest.raises(ModelError, match="max_length 512 leaves no room for the input"):
        engine.input_budget(triage_prompt, reserve=500, max_input_tokens=64)
    assert engine.input_budget(triage_prompt, reserve=64, max_input_tokens=64) == 64


def test_a_folder_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="expected an SLM bundle directory"):
        open_bundle(ModelConfig(path=tmp_path))


def test_a_request_waits_for_the_generator_in_use_within_its_timeout(
    engine: TextEngine, triage_prompt: Prompt
) -> None:
    """One generator at a time per model: while another request holds the model, this one waits, and
    ends with `timeout` when its own deadline passes first."""
    with engine._loaded.lock:  # another pipeline's request on the same bundle, in flight
        r = engine.classify(LINE, LABELS, triage_prompt, max_input_tokens=64, timeout_s=0.05)
    assert r.outcome == "timeout"
    assert r.detail == "the model was busy for 0.05 s"
    assert classify(engine, triage_prompt).outcome == "ok"
