"""What the SLM export tests share: the triage prompt, a labelled eval set, the CLI run in-process."""

from __future__ import annotations

import contextlib
import io

from edge_agent.bundle.manifest import PromptSpec

# The log-triage prompt of the shared contract (docs/slm.md), and a few labelled lines to score.
TRIAGE = PromptSpec(
    system="You triage device log lines. Answer with JSON: severity, component, action.",
    template="Triage this device log line:\n{input}",
    answer_prefix='{"severity": "',
    label_suffix='"',
    labels=["ok", "warning", "fault"],
    label_field="severity",
)
EVAL_SET = [
    {"text": "systemd[1]: Started Session 3 of user pi.", "severity": "ok"},
    {"text": "kernel: Under-voltage detected! (0x00050005)", "severity": "warning"},
    {
        "text": "EXT4-fs error (device mmcblk0p2): ext4_find_entry:1455: inode #2: comm ls: reading "
        "directory lblock 0",
        "severity": "fault",
    },
    {"text": "dhcpcd[402]: wlan0: leased 192.168.1.31 for 86400 seconds", "severity": "ok"},
    {"text": "CPU0: Core temperature above threshold, cpu clock throttled", "severity": "warning"},
    {"text": "mmc0: card never left busy state; I/O error, dev mmcblk0, sector 4096", "severity": "fault"},
]


def run_cli(args: list[str]) -> tuple[int, str]:
    """`edge-export ARGS` in this process: exit code and stdout."""
    from exporters.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()
