"""The SLM bundle opened with onnxruntime-genai: verified, one `og.Model` per folder and thread count.

Every engine on a bundle (two pipelines, voting prompts, an escalation target) shares one loaded model
and its lock (edge_agent.text.engine: one generator at a time per model). A model is freed when the
last engine on it goes (a weak registry). onnxruntime-genai is imported when a text pipeline starts:
it is the `text` extra, not every device has it.
"""

from __future__ import annotations

import json
import threading
import weakref
from pathlib import Path
from typing import Any

from edge_agent.bundle import Bundle, is_bundle, load_public_key, verify_bundle
from edge_agent.bundle.manifest import SlmSpec
from edge_agent.errors import ModelError
from edge_agent.inference.config import ModelConfig


def _og() -> Any:
    """onnxruntime-genai, imported when a text pipeline starts (the `text` extra; not every device has it)."""
    try:
        import onnxruntime_genai
    except ImportError as exc:
        raise ModelError(
            f"text pipelines need onnxruntime-genai (pip install 'onnx-edge-agent[text]'): {exc}"
        ) from exc
    return onnxruntime_genai


class Loaded:
    """A genai model and tokenizer with the lock that lets one generator run on it at a time."""

    def __init__(self, folder: Path, threads: int) -> None:
        og = self.og = _og()
        config = og.Config(str(folder))
        # No CPU arena: it kept ~25 MiB of activations after each request (SmolLM2 int4 peak RSS 287 →
        # 262 MiB, same speed; measured with onnxruntime-genai 0.18) and the device budget is RSS.
        opts: dict[str, object] = {"enable_cpu_mem_arena": False}
        if threads > 0:  # 0: the runtime's own choice
            opts |= {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": opts}}}))
        self.model = og.Model(config)
        self.tokenizer = og.Tokenizer(self.model)
        self.lock = threading.Lock()


_LOADED: weakref.WeakValueDictionary[tuple[str, int], Loaded] = weakref.WeakValueDictionary()
_LOADING = threading.Lock()


def load(folder: Path, threads: int) -> Loaded:
    key = (str(folder.resolve()), threads)
    with _LOADING:
        loaded = _LOADED.get(key)
        if loaded is None:
            try:
                loaded = Loaded(folder, threads)
            except ModelError:
                raise
            except Exception as exc:  # the runtime's errors are plain RuntimeErrors: say which model
                raise ModelError(f"{folder}: onnxruntime-genai cannot open the model ({exc})") from exc
            _LOADED[key] = loaded
        return loaded


def open_bundle(cfg: ModelConfig) -> tuple[Bundle, SlmSpec]:
    """Verify the SLM bundle `cfg.path` (signature when keys are given) and return it with its spec."""
    if not is_bundle(cfg.path):
        raise ModelError(f"{cfg.path}: expected an SLM bundle directory (manifest.json with task slm)")
    bundle = verify_bundle(cfg.path, [load_public_key(k) for k in cfg.trusted_keys] or None)
    m = bundle.manifest
    if m.task != "slm" or m.slm is None:
        raise ModelError(f"{cfg.path}: a text pipeline needs an SLM bundle (task slm), got task {m.task}")
    return bundle, m.slm
