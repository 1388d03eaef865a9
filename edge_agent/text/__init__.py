"""The `text` pipeline kind: small language models (onnxruntime-genai) on text inputs.

config.py (the `postprocess: {kind: text}` block), engine.py (one genai model per bundle, the bounds),
schema.py (the JSON Schema subset extract validates), kind.py (the PipelineKind and its Stages),
voting.py (several bundles or prompts voting on a label); the inputs (frames.py, the boundary every
input passes; source_config.py; inputs/, one Source per input kind); escalation (escalate*.py, off
by default). See docs/slm.md.
"""
