"""`edge-agent doctor` with a config: the Pi Zero 2 W is recognised, and each pipeline's thread layout
(what `edge-agent run` would choose on that board) is one line of the report."""

from __future__ import annotations

from pathlib import Path

from edge_agent.doctor import diagnose
from tests.doctor import fake_trees

CPU_ONLY = ["CPUExecutionProvider"]


def test_zero_2w_picks_its_profile_and_reports_the_layout(tmp_path: Path) -> None:
    root = fake_trees.pi_zero_2w(tmp_path / "root")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(
        "device: {id: zero, hardware_profile: rpi-zero-2w}\n"
        "mqtt: {host: 127.0.0.1, port: 1}\n"
        "pipelines:\n"
        "  door:\n"
        "    source: {kind: camera, path: '0'}\n"
        "    model: {path: m.onnx}\n"
        "    postprocess: {kind: classification}\n"
        "  yard:\n"
        "    source: {kind: camera, path: '0'}\n"
        "    model: {path: m.onnx, workers: 2, intra_op_threads: 1}\n"
        "    postprocess: {kind: classification}\n"
    )
    report = diagnose(root, config=cfg, providers=CPU_ONLY, timeout=0.1)
    assert report.profile == "rpi-zero-2w"
    threads = sorted(f.message for f in report.findings if f.topic == "threads")
    assert threads == [
        "pipelines.door: 1 worker(s) x 2 intra-op thread(s) of 2 core(s): low-memory profile: one run in "
        "flight (budget 3 core(s))",
        "pipelines.yard: 2 worker(s) x 1 intra-op thread(s) of 1 core(s): frames are independent; config "
        "sets workers, intra_op_threads (budget 3 core(s))",
    ]
