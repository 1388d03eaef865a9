"""Do tuned small LMs voting triage unseen log families better than one? (docs/slm.md, "Voting
tuned models"). Reads the `heldout_scores.jsonl` that `edge-export finetune` writes (each held-out
line with the tuned model's probability of every label), checks that every member of a group scored
the same lines, and combines the members' probabilities with the agent's own voting function
(edge_agent.ensemble.voting.vote, what a text pipeline's `ensemble:` runs). Prints, per group, each
member's held-out accuracy and training CPU seconds, then each vote's, and saves a plot.

    .venv/bin/python benchmarks/slm_vote.py --group "split 0" RUN_A RUN_B [--group "split 1" RUN_C RUN_D]

Every figure comes from the runs named (one run each, no timing here): the accuracies are exact
counts of held-out lines, and a group's training CPU seconds are its members' sum, the figure the
issue's 10-minute budget is about.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.ensemble.voting import vote
from exporters.slm.finetune import REPORT, SCORES
from exporters.slm.finetune_data import Example
from exporters.slm.label_scoring import figures

OUT = Path(__file__).parent / "out"
METHODS = ("mean_prob", "majority")


def load(run: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(held-out rows, the finetune report) of one run folder."""
    path = run / SCORES
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (a run of edge-export finetune writes it)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    report_path = run / REPORT
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    return rows, report


def row(
    exs: list[Example], labels: list[str], p: Any, *, group: str, what: str, cpu_s: float
) -> dict[str, Any]:
    """A table row: the figures finetune reports (label_scoring.figures) of the argmax of `p` (N, C)."""
    with np.errstate(divide="ignore"):  # a vote share of 0 is a log-score of -inf
        acc = figures(exs, labels, np.log(p).tolist())
    right = round(acc.accuracy * acc.n)
    return {"group": group, "what": what, "train_cpu_s": cpu_s, "accuracy": acc.accuracy, "right": right,
            "n": acc.n, "per_label": acc.per_label, "per_family": acc.per_family}  # fmt: skip


def group(name: str, runs: list[Path]) -> list[dict[str, Any]]:
    """One row per member and one per voting method, for the runs of one held-out split."""
    loaded = [load(r) for r in runs]
    first = loaded[0][0]
    labels = list(first[0]["probs"])
    lines = [(r["input"], r["label"]) for r in first]
    for run, (rows, _) in zip(runs, loaded, strict=True):
        if [(r["input"], r["label"]) for r in rows] != lines or list(rows[0]["probs"]) != labels:
            raise SystemExit(f"{run}: scored other held-out lines or labels than {runs[0]}: not one split")
    exs = [Example(text=r["input"], answer="", label=r["label"], family=r["family"]) for r in first]
    probs = [np.array([[r["probs"][k] for k in labels] for r in rows]) for rows, _ in loaded]
    cpu = [float(report.get("train_cpu_s") or 0.0) for _, report in loaded]
    members = zip(runs, cpu, probs, strict=True)
    out = [row(exs, labels, p, group=name, what=run.name, cpu_s=c) for run, c, p in members]
    if len(runs) > 1:
        for method in METHODS:
            p = vote(probs, [1.0] * len(probs), method)
            out.append(row(exs, labels, p, group=name, what=f"vote {method}", cpu_s=sum(cpu)))
    return out


def plot(rows: list[dict[str, Any]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    names = [f"{r['group']}\n{r['what']}" for r in rows]
    colors = ["#2a7" if r["what"].startswith("vote") else "#888" for r in rows]
    f, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows)), 4))
    ax.bar(names, [100 * r["accuracy"] for r in rows], color=colors)
    ax.axhline(95, color="#c33", lw=1, ls="--", label="target 95 %")
    ax.set_ylabel("held-out severity accuracy, %")
    ax.set_ylim(0, 100)
    ax.set_title("Tuned SmolLM2-135M on unseen log families: members and their votes")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(loc="lower right")
    f.tight_layout()
    path = out / "slm_vote.png"
    f.savefig(path, dpi=100)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--group", nargs="+", action="append", required=True, metavar="NAME_THEN_RUNS",
        help="a name, then the finetune output folders that scored the same held-out split",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=OUT, help=f"folder for the plot (default {OUT})")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for g in args.group:
        if len(g) < 2:
            raise SystemExit(f"--group {g[0]!r}: expected a name and at least one run folder")
        rows += group(g[0], [Path(r) for r in g[1:]])
    print("| split | member or vote | training CPU-s | held-out severity | " + " / ".join(
        rows[0]["per_label"]) + " |")  # fmt: skip
    print("|---|---|---|---|---|")
    for r in rows:
        per = " / ".join(f"{100 * v:.0f}" for v in r["per_label"].values())
        print(
            f"| {r['group']} | {r['what']} | {r['train_cpu_s']:.0f} | "
            f"{100 * r['accuracy']:.1f} % ({r['right']}/{r['n']}) | {per} |"
        )
    print("\nfamilies below 80 % in each vote:")
    for r in rows:
        if r["what"].startswith("vote"):
            low = ", ".join(f"{k} {100 * v:.0f}" for k, v in r["per_family"].items() if v < 0.8)
            print(f"  {r['group']}, {r['what']}: {low or 'none'}")
    print(f"\nplot: {plot(rows, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
