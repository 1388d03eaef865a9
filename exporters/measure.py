"""Latency, size, peak RSS and EP placement of each variant, each in its own process.

A fresh process per variant keeps one model's memory out of another's peak RSS. Within the run,
fp32 and every variant are timed on the same input, one after another, with the same thread count.
Node placement per execution provider comes from ORT's profiler (every node event names its EP).

Run as a module (`python -m exporters.measure MODEL FEED.npz RUNS THREADS [EP...]`) it prints one
JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.bundle.graph import as_written
from exporters.errors import ExportError
from exporters.sources import Feed

WARMUP = 5
ROOT = Path(__file__).resolve().parents[1]


def _placement(model: Path, feed: Feed, providers: list[str]) -> dict[str, int]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(model.with_suffix("")) + "_profile"
    so.log_severity_level = 3
    as_written(so)
    sess = ort.InferenceSession(str(model), so, providers=providers)
    sess.run(None, feed)
    prof = Path(sess.end_profiling())
    nodes: dict[str, str] = {}
    for ev in json.loads(prof.read_text()):
        args = ev.get("args", {})
        if ev.get("cat") == "Node" and "provider" in args:
            nodes[args.get("node_index", ev.get("name"))] = args["provider"]
    prof.unlink(missing_ok=True)
    return dict(Counter(nodes.values()))


def _peak_rss_kb() -> int:
    """VmHWM: unlike ru_maxrss, Linux resets it at exec, so the parent's memory does not leak in."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def time_runs(
    sess: Any, feed: Feed, runs: int, *, warmup: int = WARMUP, desc: str | None = None
) -> dict[str, float]:
    """p50/p95 milliseconds of `runs` calls of `sess` on `feed`, after `warmup` untimed ones."""
    from tqdm import tqdm

    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in tqdm(
        range(max(runs, 1)), desc=desc, file=sys.stderr, leave=False, disable=True if desc is None else None
    ):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
    }


def quick_latency(path: Path, feed: Feed, *, runs: int = 20, threads: int = 1) -> dict[str, float]:
    """A ladder rung's p50/p95 in this process, CPU EP: its speed beside its accuracy. The chosen
    variant is measured again, apart, by `measure` (own process, RSS, EP placement)."""
    from exporters.metrics import session

    sess = session(path, threads)
    wanted = {i.name for i in sess.get_inputs()}
    return time_runs(sess, {k: v for k, v in feed.items() if k in wanted}, runs, warmup=3)


def measure_here(
    model: Path, feed: Feed, runs: int, threads: int, wanted: list[str] | None = None
) -> dict[str, Any]:
    """Time `runs` calls after a warm-up; must run in a process of its own for RSS to mean anything."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    as_written(so)
    # The target's EPs that this machine has, in its order, then the CPU EP; options stay with the agent
    # (they name device paths and caches), so placement here is what ORT does by default.
    available = set(ort.get_available_providers())
    providers = [p for p in (wanted or []) if p in available and p != "CPUExecutionProvider"]
    providers.append("CPUExecutionProvider")
    sess = ort.InferenceSession(str(model), so, providers=providers)
    timed = time_runs(sess, feed, runs, desc=f"bench {model.stem}")
    rss_kb = _peak_rss_kb()
    return {
        **timed,
        "runs": runs,
        "threads": threads,
        "size_bytes": model.stat().st_size,
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "providers": sess.get_providers(),
        "nodes_by_provider": _placement(model, feed, providers),
    }


def measure(
    model: Path, feed: Feed, *, runs: int = 50, threads: int = 1, providers: list[str] | None = None
) -> dict[str, Any]:
    """Run measure_here in a child process and return its JSON."""
    feed_path = model.with_name(model.stem + ".bench.npz")
    np.savez(feed_path, **feed)  # type: ignore[arg-type]
    cmd = [sys.executable, "-m", "exporters.measure", str(model), str(feed_path), str(runs), str(threads)]
    cmd += providers or []
    # The child must import this package even when it is not installed (a checkout).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False, env=env)
    feed_path.unlink(missing_ok=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ExportError(f"benchmark of {model.name} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    model, feed_path, runs, threads = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3])
    wanted = argv[4:]
    with np.load(feed_path) as z:
        feed = {k: z[k] for k in z.files}
    print(json.dumps(measure_here(model, feed, runs, threads, wanted)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
