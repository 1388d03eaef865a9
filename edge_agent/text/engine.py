"""The text engine: an SLM bundle opened with onnxruntime-genai, and the three tasks under their bounds.

One `og.Model` per bundle folder (and thread count) in the process (edge_agent.text.model), shared by
every engine on it with one lock: **one generator at a time per model**, so two requests never share
the CPU threads the model was given nor hold two KV caches at once.

Each request renders the chat template (the bundle's own), cuts the input to `max_input_tokens`
(counted `truncated`) and to what the model's `max_length` leaves after the prompt and the answer, and
checks its deadline between tokens: a request over `timeout_s` ends with outcome `timeout`, never a
hung thread. Failures of the runtime become outcome `error`; nothing raises into the pipeline's thread.

- classify: the prompt and the answer's shared prefix run once; each label's continuation
  (`label + label_suffix`) is scored from there, rewinding the generator to the shared prefix between
  labels (median 403 ms for three labels against 1158 ms re-running the prompt per label:
  benchmarks/text_scoring.py).
  Label probability = softmax over labels of the summed token log-probabilities.
- extract: guided decoding under the JSON Schema (llguidance, fixed separators: schema.guided), then
  parsed and validated (schema.validate) before anything is published.
- generate: greedy free text up to `max_new_tokens` or the end-of-sequence token.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle import Bundle, rewrite
from edge_agent.bundle.manifest import PromptSpec, SlmSpec
from edge_agent.errors import ModelError
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.stopper import RunCancelledError
from edge_agent.text.config import INPUT, PromptOverride
from edge_agent.text.model import load, open_bundle
from edge_agent.text.schema import guided, validate

log = logging.getLogger(__name__)

Clock = Callable[[], float]
IDS = npt.NDArray[np.int32]
# Tokens kept free beyond the counted prompt and answer: re-encoding a cut input can merge differently.
MARGIN = 4
# The prompt goes in by chunks: the decoder returns logits for every position it is fed (vocab x 4 bytes
# each, 192 KiB for SmolLM2), so a 380-token prompt in one append peaked at 400 MiB RSS and in 32-token
# chunks at 288, the same logits (benchmarks/text_scoring.py). It bounds the transient whatever the input.
PREFILL_CHUNK = 32


class RequestTimeoutError(Exception):
    """A request passed its deadline (internal: it becomes outcome `timeout`)."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """How an input is asked: the bundle's PromptSpec with the config's overrides applied."""

    system: str | None = None
    template: str = INPUT
    answer_prefix: str = ""
    label_suffix: str = ""
    input_rewrite: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, spec: PromptSpec | None, over: PromptOverride | None = None) -> Prompt:
        if spec is None:
            base = cls()
        else:
            rules = tuple(spec.input_rewrite)
            base = cls(spec.system, spec.template, spec.answer_prefix, spec.label_suffix, rules)
        if over is None:
            return base
        return cls(
            over.system if over.system is not None else base.system,
            over.template if over.template is not None else base.template,
            over.answer_prefix if over.answer_prefix is not None else base.answer_prefix,
            over.label_suffix if over.label_suffix is not None else base.label_suffix,
            tuple(over.input_rewrite) if over.input_rewrite is not None else base.input_rewrite,
        )


@dataclass(slots=True)
class Reply:
    """One request's answer and its costs. `outcome`: ok | timeout | invalid | bad_input | error."""

    task: str
    outcome: str = "ok"
    tokens_in: int = 0
    tokens_out: int = 0
    ms: float = 0.0
    cpu_s: float = 0.0
    truncated: bool = False
    label: str | None = None
    prob: float | None = None
    probs: dict[str, float] = field(default_factory=dict)
    obj: dict[str, Any] | None = None
    text: str | None = None
    detail: str | None = None
    escalation: dict[str, Any] | None = None  # set when a larger model was asked (edge_agent.text.escalate)

    @property
    def tokens_per_s(self) -> float:
        """Tokens the model processed (prompt, scored labels, generated) per second of the request."""
        return (self.tokens_in + self.tokens_out) / (self.ms / 1000.0) if self.ms > 0 else 0.0


def _log_softmax(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    v = np.asarray(x, dtype=np.float64)
    top = v.max()
    return np.asarray(v - top - np.log(np.exp(v - top).sum()), dtype=np.float64)


class TextEngine:
    """Runs classify / extract / generate on one SLM bundle; thread-safe (one request at a time)."""

    # The deadline's clock; a test replaces it to inject a stuck generation (the one allowed fault).
    clock: Clock = staticmethod(time.monotonic)

    def __init__(self, bundle: Bundle, spec: SlmSpec, threads: int = 1) -> None:
        self.bundle = bundle
        self.spec = spec
        self.model_id = bundle.manifest.model_id
        # The pipeline's stop, checked between tokens like the deadline (set by the kind).
        self.cancelled: Callable[[], bool] | None = None
        self._loaded = load(bundle.root / spec.folder, threads)
        self._tok = self._loaded.tokenizer
        self._eos = set(spec.eos_token_ids)
        self.render("", Prompt())  # a template the runtime cannot render fails at load, not per input

    @classmethod
    def open(cls, cfg: ModelConfig) -> TextEngine:
        """The engine for the bundle a pipeline's (or member's) `model:` names, threads from it."""
        bundle, spec = open_bundle(cfg)
        return cls(bundle, spec, cfg.intra_op)

    @property
    def prompt_spec(self) -> PromptSpec | None:
        return self.spec.prompt

    # -- prompt -----------------------------------------------------------------------------------
    def render(self, text: str, prompt: Prompt) -> str:
        """The chat-templated prompt for `text`, ending where the assistant's answer begins."""
        turns = [{"role": "system", "content": prompt.system}] if prompt.system else []
        turns.append({"role": "user", "content": prompt.template.replace(INPUT, text, 1)})
        try:
            return str(
                self._tok.apply_chat_template(
                    template_str=self.spec.chat_template or "",
                    messages=json.dumps(turns),
                    add_generation_prompt=True,
                )
            )
        except Exception as exc:
            raise ModelError(f"{self.bundle.root}: the chat template does not render ({exc})") from exc

    def _ids(self, s: str) -> IDS:
        return np.asarray(self._tok.encode(s), dtype=np.int32)

    def input_budget(self, prompt: Prompt, reserve: int, max_input_tokens: int) -> int:
        """Input tokens a request may use: `max_input_tokens`, less what max_length cannot hold after
        the prompt's own tokens and `reserve` answer tokens. Raises ModelError when nothing is left."""
        overhead = len(self._ids(self.render("", prompt) + prompt.answer_prefix))
        room = self.spec.max_length - overhead - reserve - MARGIN
        if room < 1:
            raise ModelError(
                f"{self.bundle.root}: max_length {self.spec.max_length} leaves no room for the input "
                f"(prompt {overhead} tokens + {reserve} for the answer): lower max_new_tokens"
            )
        return min(max_input_tokens, room)

    def label_reserve(self, labels: list[str], prompt: Prompt) -> int:
        """Tokens classify needs after the prompt: the longest label continuation, plus one."""
        return max(len(self._ids(label + prompt.label_suffix)) for label in labels) + 1

    def _cut(self, text: str, budget: int) -> tuple[str, bool]:
        ids = self._ids(text)
        if len(ids) <= budget:
            return text, False
        return str(self._tok.decode(ids[:budget])), True

    # -- requests ---------------------------------------------------------------------------------
    def _request(self, reply: Reply, timeout_s: float, work: Callable[[float], None]) -> Reply:
        """Run `work(deadline)` holding the model's lock; turn timeouts and runtime errors into outcomes."""
        t0, c0 = time.perf_counter(), time.thread_time()
        deadline = self.clock() + timeout_s
        if not self._loaded.lock.acquire(timeout=timeout_s):
            reply.outcome, reply.detail = "timeout", f"the model was busy for {timeout_s} s"
        else:
            try:
                work(deadline)
            except RunCancelledError:  # the pipeline is stopping: the runner drops the input
                raise
            except RequestTimeoutError:
                reply.outcome, reply.detail = "timeout", f"over timeout_s {timeout_s}"
            except Exception as exc:  # the runtime's failure ends this request, not the pipeline
                log.warning("%s: %s failed: %s", self.model_id, reply.task, exc)
                reply.outcome, reply.detail = "error", f"{type(exc).__name__}: {exc}"
            finally:
                self._loaded.lock.release()
        reply.ms = (time.perf_counter() - t0) * 1000.0
        reply.cpu_s = time.thread_time() - c0
        return reply

    def _prefill(self, gen: Any, ids: IDS, deadline: float) -> None:
        for start in range(0, len(ids), PREFILL_CHUNK):
            self._check(deadline)
            gen.append_tokens(ids[start : start + PREFILL_CHUNK])

    def _check(self, deadline: float) -> None:
        if self.cancelled is not None and self.cancelled():
            raise RunCancelledError("stopping: generation cancelled")
        if self.clock() > deadline:
            raise RequestTimeoutError

    def _generator(self, max_length: int, schema: dict[str, Any] | None = None) -> Any:
        og = self._loaded.og
        params = og.GeneratorParams(self._loaded.model)
        params.set_search_options(max_length=min(max_length, self.spec.max_length))
        if schema is not None:
            params.set_guidance("json_schema", json.dumps(guided(schema)))
        return og.Generator(self._loaded.model, params)

    def classify(
        self, text: str, labels: list[str], prompt: Prompt, *, max_input_tokens: int, timeout_s: float
    ) -> Reply:
        """The most probable label and the probability of each, from the labels' log-probabilities."""
        reply = Reply("classify")
        tails = [label + prompt.label_suffix for label in labels]

        def work(deadline: float) -> None:
            budget = self.input_budget(prompt, self.label_reserve(labels, prompt), max_input_tokens)
            cut, reply.truncated = self._cut(rewrite.apply(prompt.input_rewrite, text), budget)
            head = self.render(cut, prompt) + prompt.answer_prefix
            seqs = [self._ids(head + t) for t in tails]
            shared = 0  # BPE may merge across the prefix/label boundary: compare whole sequences
            while all(len(s) > shared for s in seqs) and len({int(s[shared]) for s in seqs}) == 1:
                shared += 1
            shared = min(shared, min(len(s) for s in seqs) - 1)  # every label keeps >= 1 token
            gen = self._generator(max(len(s) for s in seqs) + 1)
            self._prefill(gen, seqs[0][:shared], deadline)
            reply.tokens_in = shared
            base = np.array(gen.get_logits()[0, -1])
            logp: list[float] = []
            for seq in seqs:
                self._check(deadline)
                lp, logits = 0.0, base
                tail = seq[shared:]
                for i, tok in enumerate(tail):
                    lp += float(_log_softmax(logits)[int(tok)])
                    if i < len(tail) - 1:
                        gen.append_tokens(tail[i : i + 1])
                        reply.tokens_in += 1
                        logits = np.array(gen.get_logits()[0, -1])
                logp.append(lp)
                gen.rewind_to(shared)
            p = np.exp(np.array(logp) - max(logp))
            p /= p.sum()
            best = int(p.argmax())
            reply.label, reply.prob = labels[best], float(p[best])
            reply.probs = {label: float(v) for label, v in zip(labels, p, strict=True)}

        return self._request(reply, timeout_s, work)

    def _decode_loop(self, gen: Any, max_new: int, deadline: float, reply: Reply) -> list[int]:
        out: list[int] = []
        while not gen.is_done() and len(out) < max_new:
            self._check(deadline)
            gen.generate_next_token()
            tok = int(gen.get_next_tokens()[0])
            if tok in self._eos:
                break
            out.append(tok)
            reply.tokens_out = len(out)
        return out

    def _start(
        self,
        text: str,
        prompt: Prompt,
        reply: Reply,
        *,
        max_input: int,
        max_new: int,
        deadline: float,
        schema: dict[str, Any] | None = None,
    ) -> Any:
        budget = self.input_budget(prompt, max_new, max_input)
        cut, reply.truncated = self._cut(rewrite.apply(prompt.input_rewrite, text), budget)
        ids = self._ids(self.render(cut, prompt))
        gen = self._generator(len(ids) + max_new, schema)
        self._prefill(gen, ids, deadline)
        reply.tokens_in = len(ids)
        return gen

    def extract(
        self,
        text: str,
        schema: dict[str, Any],
        prompt: Prompt,
        *,
        max_input_tokens: int,
        max_new_tokens: int,
        timeout_s: float,
    ) -> Reply:
        """An object constrained to `schema` by guided decoding, published only once it validates."""
        reply = Reply("extract")

        def work(deadline: float) -> None:
            gen = self._start(
                text,
                prompt,
                reply,
                max_input=max_input_tokens,
                max_new=max_new_tokens,
                deadline=deadline,
                schema=schema,
            )
            out = self._decode_loop(gen, max_new_tokens, deadline, reply)
            raw = str(self._tok.decode(np.array(out, dtype=np.int32)))
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                cut = reply.tokens_out >= max_new_tokens
                reply.outcome = "invalid"
                reply.detail = "answer cut at max_new_tokens" if cut else "answer is not JSON"
                return
            errors = validate(obj, schema)
            if errors or not isinstance(obj, dict):
                reply.outcome = "invalid"
                reply.detail = "; ".join(errors[:3]) or "expected a JSON object"
                return
            reply.obj = obj

        return self._request(reply, timeout_s, work)

    def generate(
        self, text: str, prompt: Prompt, *, max_input_tokens: int, max_new_tokens: int, timeout_s: float
    ) -> Reply:
        """Greedy free text, at most `max_new_tokens` tokens."""
        reply = Reply("generate")

        def work(deadline: float) -> None:
            gen = self._start(
                text, prompt, reply, max_input=max_input_tokens, max_new=max_new_tokens, deadline=deadline
            )
            out = self._decode_loop(gen, max_new_tokens, deadline, reply)
            reply.text = str(self._tok.decode(np.array(out, dtype=np.int32)))

        return self._request(reply, timeout_s, work)
