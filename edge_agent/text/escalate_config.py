"""The `escalate:` block of a text pipeline's postprocess (docs/slm.md, "Escalation and privacy").

Escalation is off unless the block is present. Privacy first: `send_fields` must name, explicitly,
every field of an input that may leave the device; an endpoint's API key comes from the environment
or $CREDENTIALS_DIRECTORY, and a key written into the YAML is refused; plain http is accepted only
to a loopback address (text in clear over a network is a leak, not a setting).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from edge_agent.strict import Strict

# Fields a person might write a secret into; each gets its own refusal rather than "extra field".
_SECRET_KEYS = ("api_key", "key", "token", "password", "authorization")
DEFAULT_CREDENTIAL = "llm-api-key"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpTarget(Strict):
    """An OpenAI-compatible endpoint: `POST {url}/chat/completions` (llama.cpp's server, vLLM, Ollama,
    or a hosted small model)."""

    url: str = Field(
        description="Base URL up to /v1, e.g. https://llm.example/v1 or http://127.0.0.1:8080/v1."
    )
    model: str = Field(min_length=1, description="The `model` field of the request.")
    api_key_env: str | None = Field(
        default=None,
        description="Environment variable holding the API key (sent as `Authorization: Bearer`). The "
        "file $CREDENTIALS_DIRECTORY/<api_key_credential> wins when present. Never put the key here.",
    )
    api_key_credential: str = Field(
        default=DEFAULT_CREDENTIAL,
        min_length=1,
        description="Name of the systemd credential (LoadCredential=) holding the API key.",
    )
    ca_file: Path | None = Field(
        default=None, description="CA bundle (PEM) for https; default: the system's trust store."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Connect + answer timeout per request.")
    max_tokens: int = Field(default=24, ge=4, le=512, description="`max_tokens` of the request.")
    constrain: Literal["auto", "json_schema", "json_object", "none"] = Field(
        default="auto",
        description="How the answer is constrained: an OpenAI `response_format` with the label's JSON "
        "Schema (json_schema), llama.cpp's `json_object` + schema, or none; auto starts with "
        "json_schema and steps down once when the server refuses it. Whatever the server does, an "
        "answer outside the label set is refused.",
    )
    allow_plain_http_remote: bool = Field(
        default=False,
        description="Accept http:// to a host that is not loopback (the text travels unencrypted).",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_yaml(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for k in _SECRET_KEYS:
                if k in data:
                    raise ValueError(
                        f"`{k}`: a secret never goes in the config file; set api_key_env to the name "
                        f"of an environment variable, or hand the key over as the systemd credential "
                        f"$CREDENTIALS_DIRECTORY/{data.get('api_key_credential', DEFAULT_CREDENTIAL)}"
                    )
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        u = urllib.parse.urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"expected an http:// or https:// URL with a host, got {v!r}")
        if u.username or u.password:
            raise ValueError("a URL with user:password@ puts a secret in the config file; use api_key_env")
        if u.query or u.fragment:
            raise ValueError(f"expected a base URL without ?query or #fragment, got {v!r}")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _plain_http(self) -> HttpTarget:
        u = urllib.parse.urlsplit(self.url)
        if u.scheme == "http" and not _is_loopback(u.hostname or "") and not self.allow_plain_http_remote:
            raise ValueError(
                f"url: http:// to {u.hostname} would send the text unencrypted; use https:// "
                "(or set allow_plain_http_remote: true on a network you trust)"
            )
        if self.ca_file is not None and u.scheme != "https":
            raise ValueError("ca_file: only used with an https:// url")
        return self


class BundleTarget(Strict):
    """A larger SLM bundle on the same device: nothing leaves it."""

    bundle: Path = Field(
        description="An SLM bundle directory (task slm); relative to the config file's folder."
    )
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="Per-request timeout of its engine.")


def _target_kind(v: Any) -> str:
    # By its keys, so a bad endpoint's error names the endpoint's fields, not both targets' fields.
    if isinstance(v, dict):
        return "bundle" if "bundle" in v and "url" not in v else "http"
    return "bundle" if isinstance(v, BundleTarget) else "http"


Target = Annotated[
    Annotated[HttpTarget, Tag("http")] | Annotated[BundleTarget, Tag("bundle")],
    Discriminator(_target_kind),
]


class EscalateConfig(Strict):
    """When a `classify` result's probability is below `below`, ask a larger model (`to`)."""

    below: float = Field(gt=0, le=1, description="Escalate when the local label's probability is below this.")
    to: Target = Field(
        description="`{url, model, ...}`: an OpenAI-compatible endpoint; `{bundle: path}`: a local bundle."
    )
    send_fields: list[str] = Field(
        min_length=1,
        description="Exactly the input fields that may leave the device: `text` is the input's text, "
        "other names are the input's JSON fields (jsonl lines, MQTT JSON payloads). Nothing else of the "
        "input is put in the request.",
    )

    @field_validator("send_fields")
    @classmethod
    def _fields(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if not f.strip()]
        if bad:
            raise ValueError("expected field names, got an empty one")
        if len(set(v)) != len(v):
            raise ValueError(f"expected each field once, got {v}")
        return v

    @property
    def kind(self) -> Literal["http", "bundle"]:
        return "http" if isinstance(self.to, HttpTarget) else "bundle"
