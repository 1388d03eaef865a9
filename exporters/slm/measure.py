"""The SLM report's speed and memory figures, measured in a fresh process so the peak RSS is the
model's own (load time, time to first token, prefill and decode tokens/s at a fixed thread count).

onnxruntime-genai is the device's runtime and needs no torch: `measure_genai` runs this module with
the current interpreter (`python -m exporters.slm.measure GENAI_DIR`), which prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from exporters.errors import ExportError

PROMPT = (
    "kernel: [ 1234.567890] Under-voltage detected! (0x00050005). Explain what this device log line "
    "means and what an operator should check first."
)


def _peak_rss_kib() -> int:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries the parent's high-water
        mark over a fork + exec into it, so a measure started from a large process (pytest, the exporter
        with torch loaded) read the parent's size. VmHWM belongs to this process's own address space. (The
    same reading as exporters.measure's; not imported from there, whose imports would count in the
    figure this process exists to take.)"""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # not Linux: the best there is


def measure(folder: Path, *, threads: int, new_tokens: int, prompt: str) -> dict[str, Any]:
    """Load `folder`, prefill `prompt` in the chat template, decode `new_tokens` greedy tokens."""
    import numpy as np
    import onnxruntime_genai as og

    t0 = time.perf_counter()
    cfg = og.Config(str(folder))
    cfg.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))
    model = og.Model(cfg)
    tok = og.Tokenizer(model)
    load_s = time.perf_counter() - t0
    messages = json.dumps([{"role": "user", "content": prompt}])
    ids = np.asarray(
        tok.encode(tok.apply_chat_template(messages, add_generation_prompt=True)), dtype=np.int32
    )
    params = og.GeneratorParams(model)
    # min_length keeps an early end-of-turn from shortening the decode run that is timed.
    total = len(ids) + new_tokens
    params.set_search_options(max_length=total, min_length=total)
    gen = og.Generator(model, params)
    t1 = time.perf_counter()
    gen.append_tokens(ids)
    t_prefill = time.perf_counter()
    gen.generate_next_token()
    t2 = time.perf_counter()
    produced = 1
    while not gen.is_done():
        gen.generate_next_token()
        produced += 1
    t3 = time.perf_counter()
    decode = produced - 1
    return {
        "threads": threads,
        "load_s": round(load_s, 3),
        "prompt_tokens": len(ids),
        "ttft_ms": round((t2 - t1) * 1000, 1),
        "prefill_tokens_per_s": round(len(ids) / max(t_prefill - t1, 1e-9), 1),
        "new_tokens": produced,
        "decode_tokens_per_s": round(decode / max(t3 - t2, 1e-9), 1) if decode else None,
        "peak_rss_mib": round(_peak_rss_kib() / 1024, 1),
    }


def measure_genai(
    folder: Path, *, threads: int = 1, new_tokens: int = 32, prompt: str = PROMPT
) -> dict[str, Any]:
    """`measure` in a fresh process of this interpreter; ExportError with its output on failure."""
    cmd = [
        sys.executable,
        "-m",
        "exporters.slm.measure",
        str(folder),
        "--threads",
        str(threads),
        "--new-tokens",
        str(new_tokens),
        "--prompt",
        prompt,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ExportError(
            f"measuring {folder} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exporters.slm.measure")
    p.add_argument("folder", type=Path, help="onnxruntime-genai model folder")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--prompt", default=PROMPT)
    args = p.parse_args(argv)
    print(
        json.dumps(measure(args.folder, threads=args.threads, new_tokens=args.new_tokens, prompt=args.prompt))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
