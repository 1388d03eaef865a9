"""Small language models: GGUF / Hugging Face causal LMs → onnxruntime-genai bundles (docs/slm.md).

Everything here that needs torch or transformers 5 runs in .venv-slm (scripts/slm-venv.sh).
"""
