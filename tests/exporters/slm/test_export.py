"""`edge-export build` on the shipped SmolLM2 GGUF: a signed bundle the device verifies and runs, the
gate's figures, the ladder's climb, and the sources and options it refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from slm_export_helpers import EVAL_SET, TRIAGE, run_cli

from edge_agent.bundle.verify import load_public_key, verify_bundle
from edge_agent.errors import BundleError
from edge_agent.hardware.profile import all_profiles, load_profile
from exporters.errors import GateFailedError, SourceError, UsageError
from exporters.slm.builder import folder_size
from exporters.slm.bundle import build_slm_bundle, write_slm_bundle
from exporters.slm.export import SlmOptions, export_slm, format_report, rungs_for
from exporters.slm.source import check_source, is_slm_source, to_hf
from tests import slm_models

og = pytest.importorskip("onnxruntime_genai")

# The builds run minutes on a busy 2-core machine; this is a hang guard, not a speed assertion.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_bundle_verifies_with_the_trusted_key_only(
    int4_bundle: dict[str, Any], keypair: tuple[Path, Path]
) -> None:
    root = Path(int4_bundle["bundle"])
    bundle = verify_bundle(root, [load_public_key(keypair[1])])
    assert bundle.signed_by == int4_bundle["signed_by"]
    m = bundle.manifest
    assert (m.task, m.model, m.quantization.mode) == ("slm", "model/model.onnx", "int4")
    assert m.slm is not None
    assert (m.slm.architecture, m.slm.precision, m.slm.max_length) == ("llama", "int4", 512)
    assert (m.slm.context_length, m.slm.vocab_size, m.slm.eos_token_ids) == (8192, 49152, [2])
    assert m.slm.chat_template is not None
    assert "<|im_start|>" in m.slm.chat_template
    assert m.slm.source.startswith("SmolLM2-135M-Instruct.Q4_1.gguf sha256:")
    assert m.slm.prompt == TRIAGE
    listed = {f.path for f in m.files}
    assert {
        "model/genai_config.json",
        "model/model.onnx",
        "model/model.onnx.data",
        "model/tokenizer.json",
    } <= listed
    genai = json.loads((root / "model" / "genai_config.json").read_text(encoding="utf-8"))
    assert genai["search"]["max_length"] == 512
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with pytest.raises(BundleError):
        verify_bundle(root, [Ed25519PrivateKey.generate().public_key()])


def test_bundle_runs_in_onnxruntime_genai(int4_bundle: dict[str, Any]) -> None:
    model = og.Model(str(Path(int4_bundle["bundle"]) / "model"))
    tok = og.Tokenizer(model)
    prompt = tok.apply_chat_template(
        json.dumps([{"role": "user", "content": "Say hello."}]), add_generation_prompt=True
    )
    ids = tok.encode(prompt)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + 6)
    gen = og.Generator(model, params)
    gen.append_tokens(np.asarray(ids, dtype=np.int32))
    out = []
    while not gen.is_done():
        gen.generate_next_token()
        out.append(int(gen.get_next_tokens()[0]))
    assert 1 <= len(out) <= 6
    assert all(0 <= t < 49152 for t in out)
    assert tok.decode(out).strip()


def test_report_has_the_gate_and_the_speed_figures(int4_bundle: dict[str, Any]) -> None:
    gate = int4_bundle["gate"]
    assert gate["chosen"] == "int4"
    assert [r["rung"] for r in gate["rungs"]] == ["int4"]
    rung = gate["rungs"][0]
    assert rung["passed"]
    assert rung["missed"] == []
    # int4 re-quantizes the Q4_1 weights: it follows the source on most positions, not all
    # (MODELS.md measured top-1 71 %, KL 0.35 with greedy decoding; the teacher-forced gate here
    # reads 47 %, 0.65 on its built-in text).
    assert 0.3 < rung["top1"] < 0.9
    assert 0.1 < rung["kl"] < 1.5
    assert rung["positions"] > 100
    task = rung["task"]
    assert task["n"] == len(EVAL_SET)
    assert task["accuracy"] == round(task["right"] / task["n"], 4)
    assert 0 <= task["right"] <= task["n"]
    assert 0 <= task["reference_right"] <= task["n"]
    m = int4_bundle["measure"]
    assert m["threads"] == 1
    assert m["new_tokens"] == 8
    assert m["load_s"] > 0
    assert m["ttft_ms"] > 0
    assert m["decode_tokens_per_s"] > 0
    # The model's own process: int4 SmolLM2 with a 512-token KV cache (MODELS.md: 253 MiB).
    assert 100 < m["peak_rss_mib"] < 600
    root = Path(int4_bundle["bundle"])
    assert int4_bundle["size_bytes"] == folder_size(root / "model")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["report"]["gate"]["rungs"][0]["top1"] == rung["top1"]


def test_ladder_climbs_from_int4_when_the_budget_is_missed(ladder_bundle: Any) -> None:
    gate = ladder_bundle.report["gate"]
    rungs = {r["rung"]: r for r in gate["rungs"]}
    assert list(rungs) == ["int4", "int8"]
    assert not rungs["int4"]["passed"]
    assert any("top-1" in why for why in rungs["int4"]["missed"])
    assert rungs["int8"]["passed"]
    assert rungs["int8"]["top1"] >= 0.9
    assert rungs["int8"]["kl"] <= 0.1
    assert rungs["int8"]["size_bytes"] > 2 * rungs["int4"]["size_bytes"]
    m = ladder_bundle.bundle.manifest
    assert m.slm.precision == "int8"
    assert m.quantization.mode == "int8"
    assert m.report["gate"]["rungs"] == gate["rungs"]


def test_no_rung_within_budget_writes_no_bundle(gguf: Path, slm_work: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    opts = SlmOptions(source=gguf, out=out, precision="int4", ladder=False, work=slm_work, measure=False)
    with slm_models._locked(slm_work), pytest.raises(GateFailedError) as err:
        export_slm(opts)
    assert [r["rung"] for r in err.value.report["gate"]["rungs"]] == ["int4"]
    assert "int4" in str(err.value)
    assert not out.exists()


def test_provider_options_go_into_the_bundle_only(
    int4_bundle: dict[str, Any], slm_work: Path, tmp_path: Path
) -> None:
    genai = slm_work / "genai-int4"
    before = (genai / "genai_config.json").read_bytes()
    options = load_profile("intel-core-ultra").slm.provider_options
    bundle = write_slm_bundle(
        tmp_path / "ov",
        genai=genai,
        hf_dir=slm_work / "hf",
        precision="int4",
        source="test",
        target="intel-core-ultra",
        name="ov",
        provider_options=options,
    )
    written = json.loads((bundle.root / "model" / "genai_config.json").read_text(encoding="utf-8"))
    assert written["model"]["decoder"]["session_options"]["provider_options"] == [
        {"OpenVINO": {"device_type": "NPU"}}
    ]
    assert (genai / "genai_config.json").read_bytes() == before


def test_not_a_causal_lm_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    assert not is_slm_source(tmp_path)
    with pytest.raises(
        SourceError, match=r"architectures = \['BertForSequenceClassification'\].*ForCausalLM"
    ):
        check_source(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    assert is_slm_source(tmp_path)
    with pytest.raises(SourceError, match="no weights"):
        check_source(tmp_path)


def test_the_cached_hf_folder_is_a_causal_lm_source() -> None:
    src = check_source(slm_models.hf_dir())
    assert src.kind == "hf"
    assert "sha256:" in src.fingerprint


def test_not_a_gguf_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(SourceError, match="not a GGUF file"):
        check_source(fake)


def test_a_truncated_gguf_is_refused_in_one_line(
    gguf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.gguf"
    with gguf.open("rb") as src:
        cut.write_bytes(src.read(20 << 20))
    src_checked = check_source(cut)  # the header alone is fine
    with pytest.raises(SourceError, match="truncated or corrupt"):
        to_hf(src_checked, tmp_path / "work")
    code, _ = run_cli(["build", str(cut), "--out", str(tmp_path / "b"), "--work", str(tmp_path / "w2")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1
    assert "truncated or corrupt" in err[0]
    assert not (tmp_path / "b").exists()


def test_options_that_cannot_work_are_refused_before_building(gguf: Path, tmp_path: Path) -> None:
    base: dict[str, Any] = {"source": gguf, "out": tmp_path / "b", "work": tmp_path / "w"}
    with pytest.raises(UsageError, match="--eval-set needs --prompt-spec"):
        export_slm(SlmOptions(**base, eval_set=tmp_path / "e.jsonl"))
    with pytest.raises(UsageError, match=r"cuda execution provider.*--no-gate"):
        export_slm(SlmOptions(**base, target="jetson-orin-nano"))
    with pytest.raises(UsageError, match="--max-length"):
        export_slm(SlmOptions(**base, max_length=0))
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"template": "{input}", "labels": "ok"}))
    with pytest.raises(UsageError, match=r"--prompt-spec .*labels"):
        export_slm(SlmOptions(**base, prompt_spec=bad))
    assert not (tmp_path / "w").exists()


def test_rungs_follow_the_target_recipe() -> None:
    cpu, cuda = load_profile("generic-x86").slm, load_profile("jetson-orin-nano").slm
    assert rungs_for(cpu, None, ladder=True) == ["int4", "int8", "fp32"]
    assert rungs_for(cpu, "int8", ladder=True) == ["int8", "fp32"]
    assert rungs_for(cpu, "int4", ladder=False) == ["int4"]
    assert rungs_for(cpu, "fp16", ladder=True) == ["fp16"]
    assert rungs_for(cuda, None, ladder=True) == ["int4", "fp16"]


def test_every_profile_has_an_slm_recipe() -> None:
    profiles = all_profiles()
    assert all(p.slm.ladder for p in profiles.values())
    untested = {n for n, p in profiles.items() if p.slm.untested}
    assert untested == {"intel-core-ultra", "jetson-orin-nano", "snapdragon-x"}
    assert profiles["snapdragon-x"].slm.provider_options[0].keys() == {"QNN"}
    assert profiles["jetson-orin-nano"].slm.builder_ep == "cuda"


def test_the_printed_report_has_every_figure(int4_bundle: dict[str, Any]) -> None:
    lines = format_report(int4_bundle)
    rung = next(ln for ln in lines if ln.lstrip().startswith("int4 "))
    assert f"{int4_bundle['gate']['rungs'][0]['top1']:.4f}" in rung
    assert rung.rstrip().endswith("PASS")
    header = next(ln for ln in lines if "shipped" in ln)
    for column in ("MiB", "load s", "TTFT ms", "decode tok/s", "threads", "peak RSS MiB"):
        assert column in header
    shipped = lines[lines.index(header) + 1].split()
    assert shipped[0] == "int4"
    assert float(shipped[-1]) == int4_bundle["measure"]["peak_rss_mib"]


@pytest.mark.heavy
@pytest.mark.timeout(900)
def test_an_fp32_build_agrees_with_its_source_exactly(gguf: Path, slm_work: Path, tmp_path: Path) -> None:
    """The gate's own soundness: fp32 genai and the torch source give the same next-token
    distributions, so a budget only fp32 meets makes the ladder climb all the way."""
    opts = SlmOptions(
        source=gguf,
        out=tmp_path / "fp32",
        precision="int8",
        min_top1=0.999,
        max_kl=0.001,
        work=slm_work,
        measure=False,
    )
    with slm_models._locked(slm_work):
        result = export_slm(opts)
    rungs = {r["rung"]: r for r in result.report["gate"]["rungs"]}
    assert list(rungs) == ["int8", "fp32"]
    assert not rungs["int8"]["passed"]
    assert rungs["fp32"]["top1"] >= 0.999
    assert rungs["fp32"]["kl"] < 0.001
    assert result.bundle.manifest.quantization.mode == "none"


def test_image_flags_are_refused_for_a_language_model(
    gguf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(
        ["build", str(gguf), "--out", str(tmp_path / "b"), "--calib", "x.npy", "--quantize", "dynamic"]
    )
    assert code == 2
    assert "--calib, --quantize: not used when SOURCE is a language model" in capsys.readouterr().err


def test_build_slm_bundle_reuses_the_work_folder(
    int4_bundle: dict[str, Any], gguf: Path, slm_work: Path, tmp_path: Path
) -> None:
    """The one-call builder other tools use: same source and work folder, so the int4 build the
    CLI made is reused, and the bundle is signed and carries the PromptSpec."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    stamp = (slm_work / "genai-int4" / ".edge-build").read_text(encoding="utf-8")
    with slm_models._locked(slm_work):
        out = build_slm_bundle(
            gguf, tmp_path / "triage", precision="int4", prompt=TRIAGE, key=key, work=slm_work
        )
    assert (slm_work / "genai-int4" / ".edge-build").read_text(encoding="utf-8") == stamp
    bundle = verify_bundle(out, [key.public_key()])
    assert bundle.manifest.slm is not None
    assert bundle.manifest.slm.prompt == TRIAGE
    assert bundle.manifest.slm.precision == "int4"
    assert ".edge-build" not in {Path(f.path).name for f in bundle.manifest.files}


def _rung(accuracy: float, reference: float) -> dict[str, Any]:
    return {"top1": 0.95, "kl": 0.05, "task": {"accuracy": accuracy, "reference_accuracy": reference}}


def test_a_rung_that_loses_the_task_misses_even_when_it_follows_the_source() -> None:
    """A tuned model's int4 build can keep top-1 agreement on text and lose the task (measured: a
    tuned SmolLM2 scored 84 % in torch and 60 % at int4): with a labelled eval set, the default
    budget refuses a rung more than 2 points below the source model on it."""
    from exporters.slm.export import DEFAULT_MAX_ACCURACY_DROP
    from exporters.slm.ladder import misses

    budget: dict[str, float | None] = {
        "min_top1": 0.9,
        "max_kl": 0.1,
        "min_accuracy": None,
        "max_accuracy_drop": DEFAULT_MAX_ACCURACY_DROP,
    }
    (why,) = misses(_rung(0.60, 0.84), budget)
    assert "0.6000 is 0.2400 below the source model's 0.8400 (max drop 0.02)" in why
    assert misses(_rung(0.82, 0.84), budget) == []  # within 2 points
    assert misses(_rung(0.90, 0.84), budget) == []  # better than the source is no miss
    assert misses({"top1": 0.95, "kl": 0.05}, budget) == []  # no eval set: the task is not judged
    assert misses(_rung(0.60, 0.84), {**budget, "max_accuracy_drop": None}) == []  # --max-accuracy-drop none


def test_the_cli_takes_the_accuracy_drop_budget() -> None:
    from exporters.cli import build_parser

    base = ["build", "m.gguf", "--out", "o"]
    assert build_parser().parse_args(base).max_accuracy_drop == 0.02
    assert build_parser().parse_args([*base, "--max-accuracy-drop", "0.05"]).max_accuracy_drop == 0.05
    assert build_parser().parse_args([*base, "--max-accuracy-drop", "none"]).max_accuracy_drop is None
