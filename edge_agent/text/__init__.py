"""The `text` pipeline kind: small language models (onnxruntime-genai) on text inputs.

config.py (the `postprocess: {kind: text}` block), engine.py (one genai model per bundle, the bounds),
schema.py (the JSON Schema subset extract validates), kind.py (the PipelineKind and its Stages),
voting.py (several bundles or prompts voting on a label). Inputs are h-textin's (frames.py,
source_config.py, inputs/); escalation is h-esc's (escalate.py). See docs/slm.md.
"""
