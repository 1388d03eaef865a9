"""`edge-agent doctor` against fake /proc, /sys, /dev and /etc trees of real boards, and real sockets."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent.cli.main import main
from edge_agent.doctor import diagnose
from edge_agent.hardware.cpu import int8_saturates
from tests.doctor import fake_trees

CPU_ONLY = ["CPUExecutionProvider"]


def test_pi5_picks_rpi5(tmp_path: Path) -> None:
    report = diagnose(fake_trees.pi5(tmp_path), providers=CPU_ONLY)
    assert report.profile == "rpi5"
    assert "device-tree names 'Raspberry Pi 5'" in report.profile_reasons
    assert report.facts.arch == "aarch64"
    assert "asimddp" in report.facts.cpu_flags
    assert [c.path for c in report.facts.cameras] == ["/dev/video0", "/dev/video1"]
    assert report.facts.i2c == ["/dev/i2c-1"]
    assert not report.blocked


def test_pi4_picks_rpi4_and_notes_missing_dotprod(tmp_path: Path) -> None:
    report = diagnose(fake_trees.pi4(tmp_path), providers=CPU_ONLY)
    assert report.profile == "rpi4"
    assert any("asimddp" in f.message for f in report.findings if f.topic == "cpu")


def test_jetson_orin_picks_its_profile_and_says_what_to_install(tmp_path: Path) -> None:
    root = fake_trees.jetson_orin_nano(tmp_path)
    report = diagnose(root, providers=CPU_ONLY)
    assert report.profile == "jetson-orin-nano"
    assert "/etc/nv_tegra_release exists" in report.profile_reasons
    assert report.facts.tegra_release is not None
    assert report.facts.tegra_release.startswith("# R36")
    missing = [f for f in report.findings if f.topic == "providers"]
    assert {f.level for f in missing} == {"warn"}, "absent GPU EPs warn; only require_accelerator blocks"
    assert any(f.fix and "JetPack" in f.fix for f in missing)
    assert not report.blocked
    with_gpu = diagnose(root, providers=["TensorrtExecutionProvider", "CUDAExecutionProvider", *CPU_ONLY])
    assert [f.level for f in with_gpu.findings if f.topic in ("providers", "accelerator")] == ["ok"] * 3


def test_intel_npu_laptop_picks_core_ultra(tmp_path: Path) -> None:
    report = diagnose(fake_trees.intel_npu_laptop(tmp_path), providers=CPU_ONLY)
    assert report.profile == "intel-core-ultra"
    assert report.facts.cpu_model == "Intel(R) Core(TM) Ultra 7 155H"
    assert [(a.path, a.driver) for a in report.facts.accelerators] == [("/dev/accel/accel0", "intel_vpu")]
    assert "avx_vnni" in report.facts.cpu_flags
    ov = [f for f in report.findings if f.topic == "providers"]
    assert len(ov) == 1
    assert ov[0].level == "warn"
    assert ov[0].fix is not None
    assert "onnxruntime-openvino" in ov[0].fix
    assert not [f for f in report.findings if f.topic == "thermal" and f.level == "warn"]


def test_intel_laptop_without_npu_driver(tmp_path: Path) -> None:
    report = diagnose(fake_trees.intel_npu_laptop(tmp_path, with_npu=False), providers=CPU_ONLY)
    acc = [f for f in report.findings if f.topic == "accelerator"]
    assert len(acc) == 1
    assert acc[0].level == "warn"
    assert acc[0].fix is not None
    assert "intel_vpu" in acc[0].fix


def test_x86_without_vnni_says_int8_sums_saturate(tmp_path: Path) -> None:
    """An older Intel laptop (no VNNI): int8 is slower and its u8s8 sums clip, so doctor says a bundle
    gated on a VNNI workstation may score lower here; with VNNI it says nothing of the kind."""
    root = fake_trees.intel_npu_laptop(tmp_path / "old", with_npu=False)
    cpuinfo = root / "proc/cpuinfo"
    cpuinfo.write_text(cpuinfo.read_text().replace(" avx_vnni", ""))
    old = [f.message for f in diagnose(root, providers=CPU_ONLY).findings if f.topic == "cpu"]
    assert any("no VNNI" in m and "saturate" in m and "uint8 weights" in m for m in old), old
    new = diagnose(fake_trees.intel_npu_laptop(tmp_path / "new", with_npu=False), providers=CPU_ONLY)
    assert not [f for f in new.findings if f.topic == "cpu" and "VNNI" in f.message]
    assert int8_saturates("x86_64", {"avx2"})
    assert not int8_saturates("x86_64", {"avx2", "avx512_vnni"})
    assert not int8_saturates("aarch64", {"asimd", "asimddp"})


def test_hot_and_undervolted_pi_warns(tmp_path: Path) -> None:
    report = diagnose(fake_trees.pi5(tmp_path, temp_mc=86500, undervoltage=True), providers=CPU_ONLY)
    thermal = [f for f in report.findings if f.topic == "thermal"]
    assert [f.level for f in thermal] == ["warn", "warn"]
    assert "86.5 C" in thermal[0].message
    assert "in0_lcrit_alarm" in thermal[1].message


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A real TCP listener on 127.0.0.1 standing in for a broker's port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _config(tmp_path: Path, port: int, tls: str = "", require: bool = False, camera: str = "0") -> Path:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not checked by doctor beyond existence")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"device: {{id: pi-1}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}{tls}}}\n"
        "pipelines:\n"
        "  door:\n"
        f"    source: {{kind: camera, path: '{camera}'}}\n"
        f"    model: {{path: {model}, require_accelerator: {str(require).lower()}}}\n",
        encoding="utf-8",
    )
    return cfg


def test_config_with_reachable_broker_passes(tmp_path: Path, listening_port: int) -> None:
    root = fake_trees.pi5(tmp_path / "root")
    report = diagnose(root, _config(tmp_path, listening_port), providers=CPU_ONLY)
    assert [f.level for f in report.findings if f.topic == "broker"] == ["ok"]
    assert not report.blocked


def test_unreachable_broker_blocks(tmp_path: Path) -> None:
    root = fake_trees.pi5(tmp_path / "root")
    report = diagnose(root, _config(tmp_path, _closed_port()), providers=CPU_ONLY, timeout=0.5)
    broker = [f for f in report.findings if f.topic == "broker"]
    assert broker[0].level == "error"
    assert "Connection refused" in broker[0].message
    assert report.blocked


def test_missing_camera_and_tls_files_block(tmp_path: Path, listening_port: int) -> None:
    root = fake_trees.pi5(tmp_path / "root")
    ca = root / "etc/edge-agent/ca.pem"
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    tls = ", tls: {ca_file: /etc/edge-agent/ca.pem, cert_file: /etc/edge-agent/dev.pem, key_file: dev.key}"
    report = diagnose(root, _config(tmp_path, listening_port, tls, camera="/dev/video7"), providers=CPU_ONLY)
    tls_msgs = [(f.level, f.message) for f in report.findings if f.topic == "tls"]
    assert tls_msgs == [
        ("ok", "mqtt.tls.ca_file (line 2) /etc/edge-agent/ca.pem is readable PEM"),
        ("error", "mqtt.tls.cert_file (line 2) /etc/edge-agent/dev.pem does not exist or is empty"),
        (
            "error",
            "mqtt.tls.key_file (line 2) dev.key (from /etc/edge-agent/credentials/dev.key) does not exist "
            "or is empty",
        ),
    ]
    cams = [f.message for f in report.findings if f.topic == "cameras" and f.level == "error"]
    assert cams == ["pipelines.door.source.path /dev/video7 is absent"]
    assert report.blocked


def test_tls_key_from_systemd_credentials(
    tmp_path: Path, listening_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare key_file name is looked up in $CREDENTIALS_DIRECTORY, as the agent does (LoadCredential=)."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "dev.key").write_text("-----BEGIN PRIVATE KEY-----\nMC4C\n-----END PRIVATE KEY-----\n")
    (creds / "mqtt-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    root = fake_trees.pi5(tmp_path / "root")
    (root / "etc/edge-agent").mkdir(parents=True)
    for name in ("ca.pem", "dev.pem"):
        (root / "etc/edge-agent" / name).write_text(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        )
    tls = (
        ", username: pi-1, tls: {ca_file: /etc/edge-agent/ca.pem, cert_file: /etc/edge-agent/dev.pem, "
        "key_file: dev.key}"
    )
    report = diagnose(root, _config(tmp_path, listening_port, tls), providers=CPU_ONLY)
    assert [f.level for f in report.findings if f.topic in ("tls", "credentials")] == ["ok", "ok", "ok"]
    assert not report.blocked
    # From a shell (no $CREDENTIALS_DIRECTORY) the LoadCredential= source file is what counts.
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    fake_trees.write(root, "/etc/edge-agent/credentials/client.key", (creds / "dev.key").read_text())
    unit_path = ", tls: {ca_file: /etc/edge-agent/ca.pem, cert_file: /etc/edge-agent/dev.pem, key_file: "
    unit_path += "/run/credentials/edge-agent.service/client.key}"
    report = diagnose(root, _config(tmp_path, listening_port, unit_path), providers=CPU_ONLY)
    key = [f for f in report.findings if f.topic == "tls"][-1]
    assert key.level == "ok"
    assert "from /etc/edge-agent/credentials/client.key" in key.message
    (creds / "mqtt-password").unlink()
    monkeypatch.delenv("EDGE_AGENT_MQTT_PASSWORD", raising=False)
    report = diagnose(root, _config(tmp_path, listening_port, tls), providers=CPU_ONLY)
    nopass = [f for f in report.findings if f.topic == "credentials"]
    assert [f.level for f in nopass] == ["warn"]
    assert nopass[0].fix is not None
    assert "LoadCredential" in nopass[0].fix


def test_required_accelerator_missing_blocks(tmp_path: Path, listening_port: int) -> None:
    root = fake_trees.intel_npu_laptop(tmp_path / "root")
    report = diagnose(root, _config(tmp_path, listening_port, require=True), providers=CPU_ONLY)
    assert [f.level for f in report.findings if f.topic == "providers"] == ["error"]
    assert report.blocked
    ok = diagnose(
        root,
        _config(tmp_path, listening_port, require=True),
        providers=["OpenVINOExecutionProvider", *CPU_ONLY],
    )
    assert not ok.blocked


def test_bad_config_blocks_with_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("mqtt:\n  port: seventy\npipelines: {}\n", encoding="utf-8")
    report = diagnose(fake_trees.pi5(tmp_path / "root"), cfg, providers=CPU_ONLY)
    err = [f for f in report.findings if f.topic == "config"]
    assert err[0].level == "error"
    assert "line 2" in err[0].message


def test_cli_json_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listening_port: int
) -> None:
    root = fake_trees.jetson_orin_nano(tmp_path / "root")
    assert main(["doctor", "--json", "--root", str(root)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["profile"] == "jetson-orin-nano"
    assert out["ok"] is True
    assert out["facts"]["board_model"] == "NVIDIA Jetson Orin Nano Developer Kit"
    cfg = _config(tmp_path, _closed_port())
    assert main(["doctor", "--root", str(root), "--config", str(cfg), "--timeout", "0.5"]) == 1
    text = capsys.readouterr().out
    assert "profile   jetson-orin-nano" in text
    assert "fix: start the broker" in text


def test_jit_profile_needs_the_drop_in(tmp_path: Path) -> None:
    """OpenVINO fails under MemoryDenyWriteExecute=yes; doctor asks for systemd/jit.conf where the unit is."""
    root = fake_trees.intel_npu_laptop(tmp_path)
    unit_src = Path(__file__).resolve().parents[2] / "systemd"
    fake_trees.write(
        root, "/lib/systemd/system/edge-agent.service", (unit_src / "edge-agent.service").read_text()
    )
    report = diagnose(root, providers=["OpenVINOExecutionProvider", *CPU_ONLY])
    svc = [f for f in report.findings if f.topic == "service"]
    assert [f.level for f in svc] == ["error"]
    assert svc[0].fix is not None
    assert "jit.conf" in svc[0].fix
    fake_trees.write(
        root, "/etc/systemd/system/edge-agent.service.d/jit.conf", (unit_src / "jit.conf").read_text()
    )
    report = diagnose(root, providers=["OpenVINOExecutionProvider", *CPU_ONLY])
    assert [f.level for f in report.findings if f.topic == "service"] == ["ok"]
    assert not report.blocked


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (fake_trees.snapdragon_x_laptop, "snapdragon-x"),
        (fake_trees.ryzen_ai_laptop, "amd-ryzen-ai"),
        (fake_trees.other_arm64_board, "generic-arm64"),
    ],
)
def test_other_targets(build: Callable[[Path], Path], expected: str, tmp_path: Path) -> None:
    report = diagnose(build(tmp_path), providers=CPU_ONLY)
    assert report.profile == expected
    assert not report.blocked
