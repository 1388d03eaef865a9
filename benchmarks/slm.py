"""Our SLM runtime (onnxruntime-genai, int4 and int8) vs llama.cpp (llama-cpp-python on the GGUF as
shipped), in one run, on the same prompts, 1 thread each.

Each runtime runs in its own fresh subprocess (so its peak RSS is its own): load time, time to first
token (prefill + the first token), prefill tokens/s, decode tokens/s (the same number of greedy new
tokens for both), peak RSS (VmHWM). Rounds are interleaved against drift on a shared CPU; the table
gives each figure's median over the rounds (peak RSS: the largest). Also measured: the real Agent
running one text pipeline on the int4 bundle (the device's RSS for one text pipeline), and, when
a tuned model is present (--tuned, default .cache/logtriage-tuned) and exporters.slm.tasks.logtriage is
importable, zero-shot vs tuned severity accuracy on the log-triage held-out split (label log-probs,
as `classify` scores them). Prints a markdown table and ratios ours / llama.cpp; saves
benchmarks/out/slm.png.

    nice -n 10 .venv/bin/python benchmarks/slm.py [--rounds 3] [--new-tokens 64] [--tuned DIR]

llama.cpp runs in .venv-slm (scripts/llama-server-venv.sh installs llama-cpp-python there).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "out"
SLM_PYTHON = ROOT / ".venv-slm" / "bin" / "python"
DEFAULT_TUNED = ROOT / ".cache" / "logtriage-tuned"  # where scripts/demo --log-triage and docs/slm.md put it

SYSTEM = "You triage device log lines. Answer in JSON with severity, component and action."
TEMPLATE = "Triage this device log line:\n{input}"
LINES = (
    "Dec  2 00:41:07 cam-7 kernel: [ 8812.113240] Under-voltage detected! (0x00050005)",
    "2026-12-02T00:41:09.551203+00:00 gw-2 systemd[1]: Started ssh.service - OpenBSD Secure Shell server.",
    "[ 1021.552913] EXT4-fs error (device mmcblk0p2): ext4_lookup:1785: inode #131090: comm python3",
    "Dec  2 00:42:11 cam-7 kernel: [ 9001.000120] cpu cpu0: thermal throttling: temperature 85.2 C",
    "Dec  2 00:42:30 gw-2 NetworkManager[611]: <info>  [1764636150.1] device (wlan0): link connected",
    "Dec  2 00:43:02 cam-7 chronyd[402]: Selected source 192.168.1.1 (ntp), offset -0.000412 s",
)


def chatml(system: str, user: str, prefix: str = "") -> str:
    """SmolLM2's chat template (ChatML), written out so both runtimes get the very same text."""
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
        f"<|im_start|>assistant\n{prefix}"
    )


def prompts() -> list[str]:
    return [chatml(SYSTEM, TEMPLATE.format(input=line)) for line in LINES]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Clock:
    """Wall time and this process's CPU time together. On a quiet machine they agree for a 1-thread
    runtime; on a shared one the CPU-time figures are what the runtime would do on a core of its own."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def mark(self) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))

    def span(self, a: int, b: int, cpu: bool) -> float:
        return self.marks[b][int(cpu)] - self.marks[a][int(cpu)]


def _summary(load_s: float, runs: list[tuple[int, Clock, int]]) -> dict[str, float]:
    """runs: (prompt tokens, clock marked before prefill / at the first token / at the end, tokens
    after the first)."""
    out = {"load_s": load_s, "prompt_tokens": statistics.median(r[0] for r in runs), "rss_mb": peak_rss_mb()}
    for cpu, tag in ((False, ""), (True, "_cpu")):
        out["ttft_ms" + tag] = statistics.median(c.span(0, 1, cpu) * 1000 for _, c, _ in runs)
        out["prefill_tps" + tag] = statistics.median(n / c.span(0, 1, cpu) for n, c, _ in runs)
        out["decode_tps" + tag] = statistics.median(k / c.span(1, 2, cpu) for _, c, k in runs if k > 0)
    return out


def genai_config(folder: Path, *, arena: bool = True) -> Any:
    import onnxruntime_genai as og

    cfg = og.Config(str(folder))
    one: dict[str, Any] = {"intra_op_num_threads": 1, "inter_op_num_threads": 1}
    if not arena:
        one["enable_cpu_mem_arena"] = False
    cfg.overlay(json.dumps({"model": {"decoder": {"session_options": one}}}))
    return cfg


def worker_genai(folder: Path, new_tokens: int) -> dict[str, float]:
    import onnxruntime_genai as og

    t = time.perf_counter()
    model = og.Model(genai_config(folder))
    tok = og.Tokenizer(model)
    load_s = time.perf_counter() - t
    runs = []
    for i, text in enumerate([prompts()[0], *prompts()]):  # the first is a warm-up, as llama.cpp's is
        ids = tok.encode(text)
        params = og.GeneratorParams(model)
        # min_length keeps EOS from ending it early: both runtimes decode exactly new_tokens tokens.
        n = len(ids) + new_tokens
        params.set_search_options(max_length=n, min_length=n, do_sample=False)
        gen = og.Generator(model, params)
        clock = Clock()
        clock.mark()
        gen.append_tokens(ids)
        gen.generate_next_token()
        clock.mark()
        done = 0
        while done < new_tokens - 1 and not gen.is_done():
            gen.generate_next_token()
            done += 1
        clock.mark()
        if i:
            runs.append((len(ids), clock, done))
        del gen
    return _summary(load_s, runs)


def worker_llama(gguf: Path, new_tokens: int) -> dict[str, float]:
    from llama_cpp import Llama

    t = time.perf_counter()
    llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=1, n_threads_batch=1, verbose=False)
    load_s = time.perf_counter() - t
    runs = []
    for i, text in enumerate([prompts()[0], *prompts()]):
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        llm.reset()  # no prefix reuse from the previous prompt: each one is prefilled whole, as ours is
        it = llm.generate(ids, temp=0.0, top_k=1, reset=True)
        clock = Clock()
        clock.mark()
        next(it)
        clock.mark()
        for _ in range(new_tokens - 1):
            next(it)
        clock.mark()
        if i:
            runs.append((len(ids), clock, new_tokens - 1))
    return _summary(load_s, runs)


def worker_agent(bundle: Path) -> dict[str, float]:
    """The device's footprint with one text pipeline: the real Agent (outbox, publisher, stats) running
    a `text` pipeline (text_file source, classify) on the int4 SLM bundle over the benchmark's log
    lines, to the end of the file; peak RSS of this process. No broker is needed: the results wait in
    the outbox, as they would during an outage."""
    import tempfile

    import yaml

    from edge_agent.agent import Agent
    from edge_agent.config.models import AgentConfig

    after_import = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "device.log"
        log.write_text("\n".join(LINES) + "\n", encoding="utf-8")
        cfg = AgentConfig.model_validate(
            yaml.safe_load(
                f"""
device: {{id: bench, state_dir: {tmp}/state}}
mqtt: {{host: 127.0.0.1, port: 9}}
pipelines:
  triage:
    source: {{kind: text_file, path: {log}}}
    model: {{path: {bundle}}}
    postprocess: {{kind: text, task: classify, labels: [ok, warning, fault]}}
"""
            )
        )
        agent = Agent(cfg)
        agent.start()
        try:
            if not agent.wait_finished(600):
                raise SystemExit("benchmarks/slm.py: the text pipeline did not finish")
            done = agent.status()["pipelines"]["triage"]["inferred"]
        finally:
            agent.stop()
    return {"import_rss_mb": after_import, "rss_mb": peak_rss_mb(), "lines": float(done)}


def label_logprob(model: Any, tok: Any, prompt: str, continuation: str, chunk: int = 0) -> float:
    """log P(continuation | prompt), summed over its tokens (how `classify` scores a label)."""
    import numpy as np
    import onnxruntime_genai as og

    ids = list(tok.encode(prompt))
    cont = list(tok.encode(prompt + continuation))[len(ids) :]
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + len(cont) + 1)
    gen = og.Generator(model, params)
    step = chunk or len(ids)
    for start in range(0, len(ids), step):
        gen.append_tokens(ids[start : start + step])
    total = 0.0
    for t in cont:
        logits = np.asarray(gen.get_logits(), dtype=np.float64).reshape(-1)
        m = logits.max()
        total += float(logits[t] - m - math.log(np.exp(logits - m).sum()))
        gen.append_tokens([t])
    return total


def worker_accuracy(folder: Path, spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, float]:
    import onnxruntime_genai as og

    model = og.Model(genai_config(folder))
    tok = og.Tokenizer(model)
    right = 0
    from edge_agent.bundle import rewrite

    for row in rows:
        text = rewrite.apply(spec.get("input_rewrite") or [], row["text"])  # as the agent rewrites it
        user = spec["template"].replace("{input}", text)
        prompt = chatml(spec.get("system") or "", user, spec["answer_prefix"])
        scores = {
            lab: label_logprob(model, tok, prompt, lab + spec["label_suffix"]) for lab in spec["labels"]
        }
        right += max(scores, key=lambda k: scores[k]) == row["severity"]
    return {"n": len(rows), "accuracy": right / len(rows)}


def run_worker(python: Path, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(python), __file__, "--worker", *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args[0]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def tuned_folder(path: Path) -> tuple[Path, dict[str, Any] | None]:
    """A tuned model given as an SLM bundle (manifest.json: its genai folder and PromptSpec), a genai
    folder, or a Hugging Face folder (what `finetune` hands to `build`: built here at int4, cached
    under benchmarks/out/)."""
    manifest = path / "manifest.json"
    if manifest.is_file():
        slm = json.loads(manifest.read_text())["slm"]
        return path / slm.get("folder", "model"), slm.get("prompt")
    if (path / "config.json").is_file() and not (path / "genai_config.json").is_file():
        from exporters.slm.builder import build_genai

        st = max(f.stat().st_mtime_ns for f in path.iterdir() if f.is_file())
        out = OUT / f"tuned-genai-int4-{st}"
        if not (out / "genai_config.json").is_file():
            print(f"building the tuned model {path} at int4 into {out}", flush=True)
            build_genai(path, out, "int4", 512, cache=OUT / "builder-cache")
        spec = path / "prompt_spec.json"  # finetune writes the PromptSpec it tuned for beside the model
        return out, json.loads(spec.read_text()) if spec.is_file() else None
    return path, None


def accuracy(args: argparse.Namespace, int4: Path) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """Zero-shot (the shipped model, int4) vs tuned severity accuracy, or why it was not measured."""
    if not args.tuned.exists():
        return f"no tuned model at {args.tuned} (give one with --tuned)"
    try:  # h-tune's task; optional in this checkout
        logtriage: Any = importlib.import_module("exporters.slm.tasks.logtriage")
    except ImportError:
        return "exporters.slm.tasks.logtriage is not in this checkout"
    folder, spec = tuned_folder(args.tuned)
    if not (folder / "genai_config.json").is_file():
        return f"{args.tuned} is not an SLM bundle, a genai folder or a Hugging Face folder (yet)"
    spec = spec or logtriage.prompt_spec()
    rows = logtriage.split(args.seed).heldout[: args.accuracy_n]
    job = json.dumps({"spec": spec, "rows": rows})
    res = []
    for f in (int4, folder):
        res.append(run_worker(Path(sys.executable), ["accuracy", str(f), job]))
    return res[0], res[1]


def main_worker(argv: list[str]) -> None:
    kind, arg = argv[0], Path(argv[1])
    if kind == "genai":
        out = worker_genai(arg, int(argv[2]))
    elif kind == "llama":
        out = worker_llama(arg, int(argv[2]))
    elif kind == "agent":
        out = worker_agent(arg)
    else:
        job = json.loads(argv[2])
        out = worker_accuracy(arg, job["spec"], job["rows"])
    print(json.dumps(out))


def models() -> tuple[Path, Path, Path]:
    sys.path.insert(0, str(ROOT))
    import pytest

    from tests.slm_models import genai_dir, shipped_gguf

    try:
        return genai_dir("int4"), genai_dir("int8"), shipped_gguf()
    except pytest.skip.Exception as exc:
        raise SystemExit(f"benchmarks/slm.py: {exc}") from None


def agent_bundle(genai: Path) -> Path:
    """The int4 genai folder as an SLM bundle, for the agent worker (written once per cache key)."""
    from exporters.slm.bundle import write_slm_bundle
    from tests.slm_models import hf_dir

    out = genai.parent / f"bundle-{genai.name}"
    if not (out / "manifest.json").is_file():
        write_slm_bundle(
            out, genai=genai, hf_dir=hf_dir(), precision="int4", source="SmolLM2-135M-Instruct.Q4_1.gguf",
            target="rpi5", name="smollm2-bench",
        )  # fmt: skip
    return out


def _pick(key: str) -> Any:
    return max if key == "rss_mb" else statistics.median


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        main_worker(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="runtime triples, interleaved against drift")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--tuned", type=Path, default=DEFAULT_TUNED, help="tuned SLM bundle or genai folder")
    ap.add_argument("--accuracy-n", type=int, default=90, help="held-out lines scored per model")
    ap.add_argument("--seed", type=int, default=0, help="log-triage split seed")
    ap.add_argument("--accuracy-only", action="store_true", help="only zero-shot vs tuned accuracy")
    args = ap.parse_args()
    int4, int8, gguf = models()
    if args.accuracy_only:
        acc = accuracy(args, int4)
        report_accuracy(acc, args)
        return
    if not SLM_PYTHON.is_file():
        raise SystemExit("benchmarks/slm.py: .venv-slm is missing (scripts/slm-venv.sh)")
    me = Path(sys.executable)
    runtimes = {
        "genai int4": (me, "genai", int4),
        "genai int8": (me, "genai", int8),
        "llama.cpp": (SLM_PYTHON, "llama", gguf),
    }
    rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in runtimes}
    for r in range(args.rounds):
        for name, (py, kind, path) in runtimes.items():
            rounds[name].append(run_worker(py, [kind, str(path), str(args.new_tokens)]))
            x = rounds[name][-1]
            print(
                f"round {r + 1} {name}: ttft {x['ttft_ms']:.0f} ms ({x['ttft_ms_cpu']:.0f} CPU), decode "
                f"{x['decode_tps']:.1f} tok/s ({x['decode_tps_cpu']:.1f} per CPU-s), "
                f"rss {x['rss_mb']:.0f} MB",
                flush=True,
            )
    fig = {n: {k: _pick(k)(x[k] for x in rs) for k in rs[0]} for n, rs in rounds.items()}
    agent = run_worker(me, ["agent", str(agent_bundle(int4))])
    acc = accuracy(args, int4)
    report(fig, agent, acc, args, gguf)
    plot(fig)


def report(
    fig: dict[str, dict[str, float]], agent: dict[str, Any], acc: Any, args: argparse.Namespace, gguf: Path
) -> None:
    ll, ours = fig["llama.cpp"], fig["genai int4"]
    names = list(fig)
    print(
        f"\nSmolLM2-135M-Instruct ({gguf.name}), {len(LINES)} prompts of ~{ll['prompt_tokens']:.0f} tokens, "
        f"{args.new_tokens} greedy new tokens, 1 thread, median of {args.rounds} rounds\n"
    )
    print("| measure | " + " | ".join(names) + " | int4 ÷ llama.cpp | target |")
    print("|---" * (len(names) + 3) + "|")
    rows = [
        ("load s", "load_s", "{:.2f}", ""),
        ("time to first token ms (wall)", "ttft_ms", "{:.0f}", "<= 0.5"),
        ("time to first token ms (CPU)", "ttft_ms_cpu", "{:.0f}", "<= 0.5"),
        ("prefill tokens/s (wall)", "prefill_tps", "{:.0f}", ""),
        ("prefill tokens/CPU-s", "prefill_tps_cpu", "{:.0f}", ""),
        ("decode tokens/s (wall)", "decode_tps", "{:.1f}", ">= 1.2"),
        ("decode tokens/CPU-s", "decode_tps_cpu", "{:.1f}", ">= 1.2"),
        ("peak RSS MB", "rss_mb", "{:.0f}", ""),
    ]
    for label, key, f, target in rows:
        cells = " | ".join(f.format(fig[n][key]) for n in names)
        print(f"| {label} | {cells} | {ours[key] / ll[key]:.2f} | {target} |")
    print(
        "\nthe agent running one text pipeline (int4 bundle, classify, every benchmark line): "
        f"peak RSS {agent['rss_mb']:.0f} MB (imports alone {agent['import_rss_mb']:.0f} MB; target <= 300)"
    )
    for name in ("genai int4", "genai int8"):
        x = fig[name]
        print(
            f"ratios {name} ÷ llama.cpp: decode {x['decode_tps'] / ll['decode_tps']:.2f}x wall, "
            f"{x['decode_tps_cpu'] / ll['decode_tps_cpu']:.2f}x CPU (target >= 1.2); time to first token "
            f"{x['ttft_ms'] / ll['ttft_ms']:.2f}x wall, {x['ttft_ms_cpu'] / ll['ttft_ms_cpu']:.2f}x CPU "
            "(target <= 0.5)"
        )
    report_accuracy(acc, args)


def report_accuracy(acc: Any, args: argparse.Namespace) -> None:
    if isinstance(acc, str):
        print(f"severity accuracy: not measured: {acc}")
    else:
        zs, tu = acc
        print(
            f"severity accuracy on {tu['n']} held-out lines (split seed {args.seed}): zero-shot "
            f"{zs['accuracy']:.1%}, tuned {tu['accuracy']:.1%} (target >= 95%)"
        )


def plot(fig: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(exist_ok=True)
    names = list(fig)
    colors = ["#2a7", "#5b9", "#888"]
    f, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    panels = (("decode_tps_cpu", "decode tokens/CPU-s"), ("ttft_ms_cpu", "time to first token, CPU ms"),
              ("rss_mb", "peak RSS MB"))  # fmt: skip
    for ax, (key, title) in zip(axes, panels, strict=True):
        ax.bar(names, [fig[n][key] for n in names], color=colors)
        ax.set_title(title)
        ax.tick_params(axis="x", labelsize=8)
    f.suptitle("SmolLM2-135M, 1 thread: onnxruntime-genai vs llama.cpp")
    f.tight_layout()
    f.savefig(OUT / "slm.png", dpi=100)
    print(f"\nplot: {OUT / 'slm.png'}")


if __name__ == "__main__":
    main()
