"""Small language models: GGUF / Hugging Face causal LMs → onnxruntime-genai bundles (docs/slm.md).

source (what SOURCE is) → gguf (dequantize, repair the tokenizer) → builder (genai model at one
precision, bounded max_length) → gate + ladder (agreement with the source, int4 → int8 → fp32) →
measure (fresh process) → bundle (manifest, signature); export runs the whole command, cli is its
flags. Everything here that needs torch or transformers 5 runs in .venv-slm (scripts/slm-venv.sh)
through env.
"""
