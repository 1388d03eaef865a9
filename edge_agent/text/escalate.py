"""Escalation of low-confidence `classify` results to a larger model, privacy first (docs/slm.md).

Owns: choosing exactly the `send_fields` of an input (nothing else of it is put in a request), the
two escalators (an OpenAI-compatible HTTP endpoint, stdlib http.client only; a larger local bundle
through the `LocalClassifier` the text engine offers), checking their answers against the label
set, and the counters the stats message publishes (attempted, answered, failed by reason).

`EscalationPolicy.apply` runs in the pipeline's worker thread and never raises: a failed escalation
keeps the local answer, marked with the reason. It blocks that thread for at most the target's
`timeout_s` (a request is bounded by one deadline, headers and body together), so `timeout_s`
belongs in the pipeline's latency budget. The input's text is never logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from edge_agent.credentials import read_secret
from edge_agent.errors import EdgeAgentError
from edge_agent.text.escalate_answer import (
    REASONS,
    EscalationError,
    answer_schema,
    label_prob,
    parse_label,
    short,
)
from edge_agent.text.escalate_config import BundleTarget, EscalateConfig, HttpTarget

log = logging.getLogger(__name__)

TEXT_FIELD = "text"
MAX_RESPONSE_BYTES = 1 << 20  # a chat answer for one label is a few hundred bytes; more is not one


class Escalation(NamedTuple):
    """What the larger model said: its label, its probability when it reports one, and details
    (model, tokens, ms) for the result."""

    label: str
    prob: float | None
    detail: dict[str, Any]


class EscalationSetupError(EdgeAgentError):
    """An escalation target that cannot be used at all (a key variable named but empty, a CA file missing)."""


class Escalator(Protocol):
    """A larger model asked for a label. `fields` are already cut to `send_fields`."""

    kind: str

    def escalate(self, fields: Mapping[str, str]) -> Escalation: ...


class LocalClassifier(Protocol):
    """What the text engine offers for a local bundle: classify `text` with its own prompt, returning
    (label, probability). It raises TimeoutError past its timeout."""

    def classify(self, text: str) -> tuple[str, float]: ...


def select_fields(text: str, fields: Mapping[str, Any] | None, send_fields: Sequence[str]) -> dict[str, str]:
    """Exactly the `send_fields` of an input, as strings: `text` is the input's text, other names its
    JSON fields. A field the input lacks is left out; nothing that is not named is ever copied."""
    out: dict[str, str] = {}
    for name in send_fields:
        if name == TEXT_FIELD:
            out[name] = text
        elif fields is not None and name in fields and fields[name] is not None:
            v = fields[name]
            out[name] = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    return out


def render_input(selected: Mapping[str, str]) -> str:
    """The text a model is given: the text alone when only `text` is sent, else a JSON object of the
    sent fields (so the model sees which value is which)."""
    if list(selected) == [TEXT_FIELD]:
        return selected[TEXT_FIELD]
    return json.dumps(dict(selected), ensure_ascii=False)


class HttpEscalator:
    """An OpenAI-compatible chat endpoint: `POST {url}/chat/completions`, the answer constrained by a
    JSON Schema when the server supports it and always checked against the label set."""

    kind = "http"

    def __init__(
        self,
        target: HttpTarget,
        labels: Sequence[str],
        *,
        label_field: str | None = None,
        system: str | None = None,
        template: str = "{input}",
    ) -> None:
        if not labels:
            raise EscalationSetupError("escalate: the pipeline has no labels to escalate")
        self.target = target
        self.labels = list(labels)
        self.label_field = label_field or "label"
        self.template = template
        # `auto` starts with the OpenAI form and steps down, once for this target, when the server
        # refuses it (llama.cpp's server answers a json_schema response_format with an error).
        self.constrain: str = "json_schema" if target.constrain == "auto" else target.constrain
        self._lock = threading.Lock()
        choice = ", ".join(self.labels)
        rule = f'Answer with JSON only: {{"{self.label_field}": "<one of: {choice}>"}}.'
        self.system = f"{system.rstrip()} {rule}" if system else rule
        u = urllib.parse.urlsplit(target.url)
        self._https = u.scheme == "https"
        self._host = u.hostname or ""
        self._port = u.port
        self._path = (u.path or "") + "/chat/completions"
        self._key = self._api_key(target)
        self._ssl: ssl.SSLContext | None = None
        if self._https:
            if target.ca_file is not None and not Path(target.ca_file).is_file():
                raise EscalationSetupError(f"escalate.to.ca_file: file not found: {target.ca_file}")
            # Verified: the default context checks the certificate chain and the host name.
            self._ssl = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)

    @staticmethod
    def _api_key(target: HttpTarget) -> str | None:
        key = read_secret(target.api_key_credential, target.api_key_env)
        if key is None and target.api_key_env is not None:
            raise EscalationSetupError(
                f"escalate.to.api_key_env: ${target.api_key_env} is empty or unset, and "
                f"$CREDENTIALS_DIRECTORY/{target.api_key_credential} is absent"
            )
        return key

    def request_body(self, fields: Mapping[str, str], constrain: str | None = None) -> dict[str, Any]:
        """The JSON sent: the system rule, the user turn built from `fields` only, the constraint."""
        constrain = constrain or self.constrain
        body: dict[str, Any] = {
            "model": self.target.model,
            "messages": [
                {"role": "system", "content": self.system},
                {"role": "user", "content": self.template.replace("{input}", render_input(fields))},
            ],
            "max_tokens": self.target.max_tokens,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 10,  # the labels' alternatives where the label begins: label_prob
            "stream": False,
        }
        schema = answer_schema(self.label_field, self.labels)
        if constrain == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        elif constrain == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def escalate(self, fields: Mapping[str, str]) -> Escalation:
        t0 = time.monotonic()
        while True:
            constrain = self.constrain
            status, raw = self._post(json.dumps(self.request_body(fields, constrain)).encode())
            if status == 200 or not self._step_down(constrain, status, raw):
                break
        if status != 200:
            said = short(raw.decode(errors="replace"))
            raise EscalationError("http_error", f"HTTP {status} from {self.target.url}: {said}")
        try:
            reply = json.loads(raw)
            choice = reply["choices"][0]
            content = choice["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise EscalationError("bad_response", f"not an OpenAI chat completion ({exc})") from None
        label = parse_label(content, self.label_field, self.labels)
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        detail = {
            "model": reply.get("model") if isinstance(reply.get("model"), str) else self.target.model,
            "tokens_in": usage.get("prompt_tokens"),
            "tokens_out": usage.get("completion_tokens"),
            "ms": round((time.monotonic() - t0) * 1000, 1),
        }
        return Escalation(label, label_prob(content, label, self.labels, choice.get("logprobs")), detail)

    def _step_down(self, tried: str, status: int, raw: bytes) -> bool:
        """Under `auto`: whether the server refused `tried` (an error naming the response format);
        if so, the next weaker form is used from now on."""
        weaker = {"json_schema": "json_object", "json_object": "none"}.get(tried)
        if self.target.constrain != "auto" or weaker is None or status < 400:
            return False
        if b"response_format" not in raw and b"json_schema" not in raw and b"json_object" not in raw:
            return False
        with self._lock:
            if self.constrain == tried:
                self.constrain = weaker
                log.info("escalate: %s refuses response_format %s; using %s", self.target.url, tried, weaker)
        return True

    def _post(self, body: bytes) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.target.timeout_s
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.target.timeout_s, context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.target.timeout_s)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "edge-agent",
        }
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            conn.connect()
            # Kept: http.client drops conn.sock after a `Connection: close` answer; the response reads on.
            sock = conn.sock
            assert sock is not None
            sock.settimeout(_left(deadline))
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            chunks: list[bytes] = []
            size = 0
            while True:
                sock.settimeout(_left(deadline))  # one deadline for the whole answer, not per read
                chunk = resp.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise EscalationError("bad_response", f"answer over {MAX_RESPONSE_BYTES} bytes")
                chunks.append(chunk)
            return resp.status, b"".join(chunks)
        except TimeoutError:
            took = f"no answer from {self.target.url} in {self.target.timeout_s} s"
            raise EscalationError("timeout", took) from None
        except ssl.SSLError as exc:
            # A certificate that does not verify is not "unreachable": it may be someone else's server.
            raise EscalationError("error", f"TLS to {self.target.url} failed: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise EscalationError("unreachable", f"{self.target.url}: {exc}") from None
        finally:
            conn.close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


class BundleEscalator:
    """A larger SLM bundle on the device, through the text engine's LocalClassifier."""

    kind = "bundle"

    def __init__(self, classifier: LocalClassifier, labels: Sequence[str]) -> None:
        self.classifier = classifier
        self.labels = list(labels)

    def escalate(self, fields: Mapping[str, str]) -> Escalation:
        t0 = time.monotonic()
        try:
            label, prob = self.classifier.classify(render_input(fields))
        except TimeoutError:
            raise EscalationError("timeout", "the local bundle did not answer in time") from None
        if label not in self.labels:
            raise EscalationError("invalid_answer", f"expected one of {self.labels}, got {short(label)}")
        return Escalation(label, round(float(prob), 4), {"ms": round((time.monotonic() - t0) * 1000, 1)})


@dataclass(slots=True)
class Outcome:
    """A classify answer after the policy: the label and probability to publish, and the
    `escalation` record for the result (None when it did not escalate). `prob` is None only for an
    escalated answer from a server that reports no log-probabilities."""

    label: str
    prob: float | None
    escalation: dict[str, Any] | None = None


@dataclass
class EscalationCounters:
    """Every escalation, counted for the stats message. Thread-safe."""

    attempted: int = 0
    answered: int = 0
    changed: int = 0
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, answered: bool, changed: bool = False, reason: str | None = None) -> None:
        with self._lock:
            self.attempted += 1
            if answered:
                self.answered += 1
                self.changed += int(changed)
            elif reason is not None:
                self.failed[reason] = self.failed.get(reason, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "attempted": self.attempted,
                "answered": self.answered,
                "changed": self.changed,
                "failed": dict(self.failed),
            }


class EscalationPolicy:
    """The `escalate:` block at work: below the threshold, ask the escalator; count; keep the local
    answer when the escalation fails."""

    def __init__(self, cfg: EscalateConfig, escalator: Escalator) -> None:
        self.cfg = cfg
        self.escalator = escalator
        self.counters = EscalationCounters()

    def apply(self, label: str, prob: float, text: str, fields: Mapping[str, Any] | None = None) -> Outcome:
        """The answer to publish for one classify result. Never raises."""
        if prob >= self.cfg.below:
            return Outcome(label, prob)
        local = {"label": label, "prob": prob}
        record: dict[str, Any] = {"to": self.escalator.kind, "local": local}
        selected = select_fields(text, fields, self.cfg.send_fields)
        try:
            if not selected:
                raise EscalationError("no_fields", f"the input has none of {self.cfg.send_fields}")
            got = self.escalator.escalate(selected)
        except EscalationError as exc:
            return self._failed(label, prob, record, exc.reason, str(exc))
        except Exception as exc:  # the worker thread must go on; the reason is counted
            return self._failed(label, prob, record, "error", f"{type(exc).__name__}: {exc}")
        changed = got.label != label
        self.counters.count(answered=True, changed=changed)
        record.update(answered=True, sent=sorted(selected), **got.detail)
        # The escalated model's probability when it reports one. Else None: the local probability was
        # for the local label, and a number the larger model never gave would be made up.
        return Outcome(got.label, got.prob, record)

    def _failed(self, label: str, prob: float, record: dict[str, Any], reason: str, message: str) -> Outcome:
        self.counters.count(answered=False, reason=reason)
        log.warning("escalation to %s failed, keeping the local answer: %s", self.escalator.kind, message)
        record.update(answered=False, failed=reason, kept="local")
        return Outcome(label, prob, record)

    def stats(self) -> dict[str, Any]:
        """For the pipeline's snapshot (`escalations` in the stats message)."""
        return {"to": self.escalator.kind, "below": self.cfg.below, **self.counters.snapshot()}


def build_policy(
    cfg: EscalateConfig,
    labels: Sequence[str],
    *,
    label_field: str | None = None,
    system: str | None = None,
    template: str = "{input}",
    open_bundle: Callable[[BundleTarget], LocalClassifier] | None = None,
) -> EscalationPolicy:
    """The policy for a pipeline's `escalate:` block. `labels`, `label_field`, `system` and `template`
    come from the pipeline (its bundle's PromptSpec); `open_bundle` is the text engine's way to open a
    `{bundle: path}` target. Raises EscalationSetupError when the target cannot be used."""
    if isinstance(cfg.to, HttpTarget):
        esc: Escalator = HttpEscalator(
            cfg.to, labels, label_field=label_field, system=system, template=template
        )
    else:
        if open_bundle is None:
            raise EscalationSetupError("escalate.to.bundle: this pipeline cannot open a local bundle")
        esc = BundleEscalator(open_bundle(cfg.to), labels)
    return EscalationPolicy(cfg, esc)
