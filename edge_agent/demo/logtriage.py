"""The log-triage demo's parts: the sample device log, the agent config of its one text pipeline, and
the subscriber's view of the compact results (one line each as it arrives, then the "little sent"
summary: raw text bytes against bytes published).

`edge_agent.cli.demo_cmd` runs it (`edge-agent demo --log-triage --bundle DIR`); the broker, the
signals and the subscriber connection are the video demo's.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edge_agent.bundle.verify import verify_bundle
from edge_agent.errors import EdgeAgentError

PIPELINE = "triage"
# Room for the longest answer the triage schema allows (an 80-character action is ~40 tokens alone).
EXTRACT_NEW_TOKENS = 96


def sample_log() -> Path:
    """The shipped sample log (package data): boot, Raspberry Pi under-voltage, EXT4, thermal, ssh..."""
    return Path(str(resources.files("edge_agent.demo") / "device.log"))


def prompt_spec_file() -> Path:
    """The zero-shot log-triage PromptSpec (package data), for building a bundle without fine-tuning."""
    return Path(str(resources.files("edge_agent.demo") / "logtriage_prompt.json"))


def read_log(path: Path) -> dict[int, str]:
    """The log's non-blank lines by 1-based number (the text_file input's `name:line` ids): what the
    input hands the model, the blank lines being refused there as empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgeAgentError(f"--log {path}: expected a readable UTF-8 text file ({exc})") from exc
    return {i: ln for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()}


def bundle_labels(bundle: Path, task: str) -> list[str]:
    """The bundle's PromptSpec labels, checked before the agent starts so a wrong folder is one clear
    line rather than a failed pipeline."""
    try:
        manifest = verify_bundle(bundle).manifest
    except EdgeAgentError as exc:
        raise EdgeAgentError(f"--bundle {bundle}: {exc}") from exc
    prompt = manifest.slm.prompt if manifest.slm is not None else None
    if manifest.task != "slm" or prompt is None:
        raise EdgeAgentError(
            f"--bundle {bundle}: expected an SLM bundle with a PromptSpec (task slm), got task "
            f"{manifest.task!r}{'' if prompt else ' without a prompt'}: build it with "
            "`edge-export build SOURCE --prompt-spec FILE` (scripts/demo --log-triage does)"
        )
    if task == "classify" and not prompt.labels:
        raise EdgeAgentError(f"--bundle {bundle}: its PromptSpec has no labels to classify with")
    if task == "extract" and prompt.schema_ is None:
        raise EdgeAgentError(f"--bundle {bundle}: its PromptSpec has no schema for --extract")
    return list(prompt.labels or [])


@dataclass(frozen=True, slots=True)
class TriageRun:
    """What the log-triage pipeline runs: the log, the bundle, the task and the pace."""

    log: Path
    bundle: Path
    task: str  # classify | extract
    rate: float | None  # lines per second; None: as fast as the model takes them
    loop: bool
    threads: int


def triage_pipeline(run: TriageRun) -> dict[str, Any]:
    """The one text pipeline's config (the agent's `pipelines.triage`)."""
    post: dict[str, Any] = {"kind": "text", "task": run.task, "max_input_tokens": 128}
    if run.task == "extract":
        post["max_new_tokens"] = EXTRACT_NEW_TOKENS
    return {
        "source": {"kind": "text_file", "path": str(run.log), "rate": run.rate, "loop": run.loop},
        "model": {"path": str(run.bundle), "id": "logtriage", "intra_op_threads": run.threads},
        "postprocess": post,
    }


def _line_no(output: dict[str, Any]) -> int | None:
    """The 1-based line number from the text_file input id (`device.log:7`)."""
    _, _, n = str(output.get("input_id", "")).rpartition(":")
    return int(n) if n.isdigit() else None


class TriagePrinter:
    """The separate subscriber's view: each line going in beside its compact result, then a summary."""

    def __init__(self, lines: dict[int, str], as_json: bool, loop: bool) -> None:
        self.by_number = lines
        self.as_json = as_json
        self.loop = loop
        self.results: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.got_all = threading.Event()
        self._lock = threading.Lock()  # paho's loop thread appends while the main thread summarises

    def on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        try:
            body = json.loads(msg.payload)
            out = body["output"]
        except (ValueError, KeyError, TypeError):
            print(f"(not a result on {msg.topic}: {msg.payload[:80]!r})", flush=True)
            return
        with self._lock:
            self.results.append(body)
            self.sizes.append(len(msg.payload))
            done = len(self.results) >= len(self.by_number)
        if self.as_json:
            print(msg.payload.decode(), flush=True)
        else:
            print(self.describe(out, len(msg.payload)), flush=True)
        if not self.loop and done:
            self.got_all.set()

    def describe(self, out: dict[str, Any], size: int) -> str:
        n = _line_no(out)
        text = self.by_number.get(n, "?") if n is not None else "?"
        shown = text if len(text) <= 100 else text[:97] + "..."
        head = f"in  {out.get('input_id', '?')}: {shown}\n  out "
        figures = (
            f"{out.get('tokens_in', 0)} tokens in, {out.get('tokens_out', 0)} out, "
            f"{out.get('ms', 0):.0f} ms, {size} B published"
        )
        if out.get("outcome") != "ok":
            return f"{head}{out.get('outcome')}: {out.get('detail', '')}  ({figures})"
        if "label" in out:
            return f"{head}{out['label']:<8} p={out['prob']:.2f}  ({figures})"
        return f"{head}{json.dumps(out.get('object'), separators=(',', ':'))}  ({figures})"

    def summary(self, elapsed: float) -> str:
        with self._lock:
            results, sizes = list(self.results), list(self.sizes)
        outs = [r["output"] for r in results]
        raw = sum(len(self.by_number.get(_line_no(o) or 0, "").encode()) for o in outs)
        sent = sum(sizes)
        ms = [float(o["ms"]) for o in outs if "ms" in o]
        labels: dict[str, int] = {}
        for o in outs:
            key = str(o.get("label") or (o.get("object") or {}).get("severity") or o.get("outcome"))
            labels[key] = labels.get(key, 0) + 1
        counts = ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
        return (
            f"\n{len(results)}/{len(self.by_number)} lines triaged over MQTT in {elapsed:.1f}s ({counts})\n"
            f"raw text: {raw} bytes (never published); published: {sent} bytes of results "
            f"({sent / max(len(results), 1):.0f} bytes per result, envelope included)\n"
            f"mean {sum(ms) / max(len(ms), 1):.0f} ms per line on the device"
        )


__all__ = [
    "PIPELINE",
    "TriagePrinter",
    "TriageRun",
    "bundle_labels",
    "prompt_spec_file",
    "read_log",
    "sample_log",
    "triage_pipeline",
]
