"""The two choices inside the text engine's classify, measured: rewinding to the shared prefix vs
re-running the prompt for each label, and feeding a long prompt at once vs in 32-token chunks.

SmolLM2-135M int4 (tests/text/slm_bundle.py), 1 thread, three labels, the log-triage prompt. Times are
medians over the lines; peak RSS is each prefill variant in its own fresh process.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/text_scoring.py [--lines 8]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_agent.bundle.verify import verify_bundle  # noqa: E402
from edge_agent.text.engine import Prompt, TextEngine  # noqa: E402
from tests.text.slm_bundle import slm_bundle  # noqa: E402

LABELS = ["ok", "warning", "fault"]
LINES = [
    "kernel: Under-voltage detected! (0x00050005)",
    "systemd[1]: Started Daily apt upgrade and clean activities.",
    "EXT4-fs error (device mmcblk0p2): ext4_find_entry:1455: inode #2: comm ls: reading directory",
    "eth0: Link is Up - 1Gbps/Full - flow control rx/tx",
    "thermal thermal_zone0: critical temperature reached (90 C), shutting down",
    "wlan0: deauthenticating from 3c:84:6a:12:34:56 by local choice (Reason: 3=DEAUTH_LEAVING)",
    "mmc0: timeout waiting for hardware interrupt",
    "sshd[812]: Accepted publickey for pi from 192.168.1.20 port 51234",
]


def _engine() -> tuple[TextEngine, Prompt]:
    bundle = verify_bundle(slm_bundle())
    assert bundle.manifest.slm is not None
    engine = TextEngine(bundle, bundle.manifest.slm, threads=1)
    return engine, Prompt.of(engine.prompt_spec)


def _rerun(engine: TextEngine, prompt: Prompt, text: str) -> list[float]:
    """The alternative: a fresh generator and the whole prompt for every label."""
    og: Any = engine._loaded.og
    head = engine.render(text, prompt) + prompt.answer_prefix
    out = []
    for label in LABELS:
        ids = np.asarray(engine._tok.encode(head + label + prompt.label_suffix), dtype=np.int32)
        params = og.GeneratorParams(engine._loaded.model)
        params.set_search_options(max_length=len(ids) + 1)
        gen = og.Generator(engine._loaded.model, params)
        tail = 2  # the label and the closing quote
        for s in range(0, len(ids) - tail, 32):
            gen.append_tokens(ids[s : min(s + 32, len(ids) - tail)])
        lp = 0.0
        for tok in ids[len(ids) - tail :]:
            x = np.asarray(gen.get_logits()[0, -1], dtype=np.float64)
            lp += float(x[tok] - x.max() - np.log(np.exp(x - x.max()).sum()))
            gen.append_tokens(np.array([tok], dtype=np.int32))
        out.append(lp)
    return out


def scoring(n: int) -> None:
    engine, prompt = _engine()
    rewind, rerun = [], []
    for text in LINES[:n]:
        engine.classify(text, LABELS, prompt, max_input_tokens=128, timeout_s=60)  # warm
        t0 = time.perf_counter()
        engine.classify(text, LABELS, prompt, max_input_tokens=128, timeout_s=60)
        rewind.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        _rerun(engine, prompt, text)
        rerun.append((time.perf_counter() - t0) * 1000)
    print("| classify, 3 labels | median ms |")
    print("|---|---|")
    print(f"| rewind to the shared prefix (engine) | {statistics.median(rewind):.0f} |")
    print(f"| re-run the prompt per label | {statistics.median(rerun):.0f} |")


def prefill(chunk: int) -> None:
    """One 380-token prompt fed in `chunk`-token appends; prints the process's peak RSS (MiB)."""
    engine, _ = _engine()
    og: Any = engine._loaded.og
    ids = np.asarray(engine._tok.encode(" ".join(LINES) * 2), dtype=np.int32)[:380]
    params = og.GeneratorParams(engine._loaded.model)
    params.set_search_options(max_length=len(ids) + 1)
    gen = og.Generator(engine._loaded.model, params)
    for s in range(0, len(ids), chunk):
        gen.append_tokens(ids[s : s + chunk])
    print(
        json.dumps({"chunk": chunk, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024})
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=len(LINES))
    ap.add_argument("--prefill", type=int, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.prefill:
        prefill(args.prefill)
        return
    scoring(args.lines)
    print("\n| prefill of 380 tokens | peak RSS MiB |")
    print("|---|---|")
    for chunk in (380, 32):
        out = subprocess.run(
            [sys.executable, __file__, "--prefill", str(chunk)], capture_output=True, text=True, check=True
        ).stdout
        got = json.loads(out.strip().splitlines()[-1])
        print(f"| {'one append' if chunk == 380 else f'{chunk}-token chunks'} | {got['peak_mib']} |")


if __name__ == "__main__":
    main()
