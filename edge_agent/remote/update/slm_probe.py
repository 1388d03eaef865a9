"""The canary of an SLM bundle (task `slm`): it has no golden tensors and is not an ONNX Runtime
session, so it is probed the way the text pipeline will run it: opened with onnxruntime-genai by the
text engine (edge_agent.text.engine: genai config, tokenizer, chat template) and asked for one
greedy token. A bundle that cannot be opened, renders no prompt or generates nothing is refused at
`canary` with the reason, before `swap`: the pipeline keeps running the old bundle.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from edge_agent.bundle.verify import Bundle
from edge_agent.errors import EdgeAgentError, UpdateError
from edge_agent.text.engine import Prompt, TextEngine

PROBE_TEXT = "Started Daily apt upgrade and clean activities."
PROBE_TIMEOUT_S = 60.0  # loading a model and one token: far below this on any device that runs one


@dataclass(slots=True)
class SlmProbeReport:
    """What the probe saw: the runtime that ran it, tokens in and out, and how long it took."""

    runtime: str
    tokens_in: int
    tokens_out: int
    load_ms: float
    first_token_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_slm(bundle: Bundle, threads: int = 1, timeout_s: float = PROBE_TIMEOUT_S) -> SlmProbeReport:
    """Open the verified SLM `bundle` with the text engine and generate one token; raise
    UpdateError('canary', reason) when it cannot."""
    spec = bundle.manifest.slm
    if bundle.manifest.task != "slm" or spec is None:
        raise UpdateError("canary", f"expected an SLM bundle (task slm), got task {bundle.manifest.task}")
    t0 = time.monotonic()
    try:
        engine = TextEngine(bundle, spec, threads)
    except EdgeAgentError as exc:
        raise UpdateError("canary", f"the SLM bundle does not load: {exc}") from exc
    except Exception as exc:  # the runtime's own errors are plain RuntimeErrors; the agent goes on
        raise UpdateError("canary", f"the SLM bundle does not load: onnxruntime-genai: {exc}") from exc
    load_ms = (time.monotonic() - t0) * 1000
    prompt = Prompt.of(spec.prompt)
    t1 = time.monotonic()
    try:
        reply = engine.generate(
            PROBE_TEXT, prompt, max_input_tokens=64, max_new_tokens=1, timeout_s=timeout_s
        )
    except Exception as exc:
        raise UpdateError("canary", f"the SLM bundle does not generate: {exc}") from exc
    if reply.outcome != "ok" or reply.tokens_out < 1:
        why = reply.detail or f"outcome {reply.outcome}, {reply.tokens_out} tokens"
        raise UpdateError("canary", f"the SLM bundle does not generate a token: {why}")
    return SlmProbeReport(
        runtime="onnxruntime-genai",
        tokens_in=reply.tokens_in,
        tokens_out=reply.tokens_out,
        load_ms=round(load_ms, 1),
        first_token_ms=round((time.monotonic() - t1) * 1000, 1),
    )
