"""benchmarks/slm_vote.py on heldout_scores.jsonl files as `edge-export finetune` writes them: the
members' votes come from the agent's own voting function, and runs that scored other lines are
refused rather than combined. (The finetune slice in test_finetune.py checks that the file a real
run writes agrees with its report.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "slm_vote.py"
LABELS = ("ok", "warning", "fault")
LINES = [("kernel: Under-voltage detected!", "fault"), ("sshd: Accepted publickey", "ok"),
         ("upsmon: UPS on battery", "warning"), ("kernel: EXT4-fs error", "fault")]  # fmt: skip


def _run(
    folder: Path, probs: list[tuple[float, float, float]], cpu_s: float, lines: list[tuple[str, str]] = LINES
) -> Path:
    folder.mkdir(parents=True)
    rows = [
        {"input": text, "label": label, "family": f"fam{i}", "probs": dict(zip(LABELS, p, strict=True))}
        for i, ((text, label), p) in enumerate(zip(lines, probs, strict=True))
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (folder / "heldout_scores.jsonl").write_text(text, encoding="utf-8")
    (folder / "finetune_report.json").write_text(json.dumps({"train_cpu_s": cpu_s}), encoding="utf-8")
    return folder


def _vote(tmp_path: Path, *groups: list[str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(SCRIPT), "--out", str(tmp_path / "plot")]
    for g in groups:
        args += ["--group", *g]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)


def test_mean_probability_vote_of_two_members(tmp_path: Path) -> None:
    # a is sure and wrong on line 2 (calls the warning ok), b is unsure and wrong on line 0: the
    # mean probability gets all four right, each member three.
    a = _run(tmp_path / "a", [(0.1, 0.2, 0.7), (0.8, 0.1, 0.1), (0.9, 0.05, 0.05), (0.0, 0.1, 0.9)], 300)
    b = _run(tmp_path / "b", [(0.1, 0.5, 0.4), (0.7, 0.2, 0.1), (0.0, 1.0, 0.0), (0.1, 0.1, 0.8)], 290)
    done = _vote(tmp_path, ["split 0", str(a), str(b)])
    assert done.returncode == 0, done.stderr
    table = {line.split(" | ")[1]: line for line in done.stdout.splitlines() if line.startswith("| split 0")}
    assert "75.0 % (3/4)" in table["a"]
    assert "75.0 % (3/4)" in table["b"]
    assert "| 590 | 100.0 % (4/4)" in table["vote mean_prob"]
    assert (tmp_path / "plot" / "slm_vote.png").is_file()


def test_runs_of_other_lines_are_refused(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", [(1.0, 0.0, 0.0)] * 4, 300)
    other = [(t + " (other)", label) for t, label in LINES]
    b = _run(tmp_path / "b", [(1.0, 0.0, 0.0)] * 4, 300, lines=other)
    done = _vote(tmp_path, ["split 0", str(a), str(b)])
    assert done.returncode != 0
    assert "scored other held-out lines or labels" in done.stderr
    missing = _vote(tmp_path, ["split 0", str(a), str(tmp_path / "nowhere")])
    assert "heldout_scores.jsonl: no such file" in missing.stderr
