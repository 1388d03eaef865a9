"""`config validate`, `run` and `doctor -c` on configs that parse but cannot run here: every missing file
named with its key and line, relative paths taken from the config file's folder, providers warned about."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_agent.cli.main import main
from edge_agent.config.checks import check_runnable
from edge_agent.config.loader import read_config
from edge_agent.doctor import diagnose
from edge_agent.errors import ConfigError, FleetError
from edge_agent.fleet.fusion import load_zones
from edge_agent.hardware.profile import load_profile
from tests.doctor import fake_trees


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "agent.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def _errors(cfg_file: Path) -> list[tuple[str, int | None, str]]:
    return [(i.path, i.line, i.message) for i in check_runnable(read_config(cfg_file)).errors]


PIPE = (
    "pipelines:\n"  # 1
    "  door:\n"  # 2
    "    source: {kind: video, path: clips/door.mp4}\n"  # 3
    "    model: {path: models/m.onnx}\n"  # 4
    "    postprocess: {kind: classification, labels_file: labels.txt}\n"  # 5
)


def test_every_missing_file_is_named_with_key_and_line(tmp_path: Path) -> None:
    text = PIPE + (
        "    ensemble:\n"  # 6
        "      members:\n"  # 7
        "        - model: {path: other.onnx, trusted_keys: [keys/op.pub]}\n"  # 8
        "  shelf:\n"  # 9
        "    source: {kind: folder, path: shots}\n"  # 10
        "    model: {path: bundle-dir}\n"  # 11
        "  off:\n"  # 12
        "    enabled: false\n"  # 13
        "    source: {kind: video, path: nowhere.mp4}\n"  # 14
        "    model: {path: nowhere.onnx}\n"  # 15
        "mqtt:\n"  # 16
        "  tls: {ca_file: certs/ca.pem, cert_file: /nonexistent/a.pem, key_file: /nonexistent/a.key}\n"  # 17
        "fleet:\n"  # 18
        "  commands: {trusted_keys: [operator.pub]}\n"  # 19
    )
    cfg_file = _write(tmp_path / "etc", text)
    (tmp_path / "etc" / "shots").write_text("a file, not a folder")
    errs = _errors(cfg_file)
    where = {(p, line) for p, line, _ in errs}
    assert where == {
        ("pipelines.door.model.path", 4),
        ("pipelines.door.source.path", 3),
        ("pipelines.door.postprocess.labels_file", 5),
        ("pipelines.door.ensemble.members[0].model.path", 8),
        ("pipelines.door.ensemble.members[0].model.trusted_keys[0]", 8),
        ("pipelines.shelf.source.path", 10),
        ("pipelines.shelf.model.path", 11),
        ("mqtt.tls.ca_file", 17),
        ("mqtt.tls.cert_file", 17),
        ("mqtt.tls.key_file", 17),
        ("fleet.commands.trusted_keys[0]", 19),
    }, errs
    msgs = {p: m for p, _, m in errs}
    etc = tmp_path / "etc"
    # relative paths are from the config file's folder, labels_file included (not the model's folder)
    assert msgs["pipelines.door.postprocess.labels_file"].startswith(f"{etc / 'labels.txt'} does not exist")
    assert msgs["pipelines.door.model.path"].startswith(f"{etc / 'models' / 'm.onnx'} does not exist")
    assert msgs["mqtt.tls.ca_file"].startswith(f"{etc / 'certs' / 'ca.pem'} does not exist")
    assert (
        msgs["pipelines.shelf.source.path"] == f"{etc / 'shots'} is not a folder; expected a folder of images"
    )


def test_existing_files_pass_and_a_packed_bundle_file_is_a_model(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    cfg_file = _write(etc, PIPE.replace("models/m.onnx", "models/m.bundle.tgz"))
    for rel in ("clips/door.mp4", "models/m.bundle.tgz", "labels.txt"):
        (etc / rel).parent.mkdir(parents=True, exist_ok=True)
        (etc / rel).write_text("x\n")
    assert _errors(cfg_file) == []
    assert main(["config", "validate", str(cfg_file)]) == 0


def test_missing_hardware_profile_is_named(tmp_path: Path) -> None:
    cfg_file = _write(tmp_path, "device:\n  hardware_profile: no-such-board\n" + PIPE)
    errs = [e for e in _errors(cfg_file) if e[0] == "device.hardware_profile"]
    assert [(p, line) for p, line, _ in errs] == [("device.hardware_profile", 2)]
    assert "no such hardware profile" in errs[0][2]


def test_uninstalled_provider_is_a_warning_that_validate_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = tmp_path / "etc"
    text = PIPE.replace(
        "{path: models/m.onnx}",
        "{path: models/m.onnx, providers: [CUDAExecutionProvider, CPUExecutionProvider]}",
    )
    cfg_file = _write(etc, text)
    for rel in ("clips/door.mp4", "models/m.onnx", "labels.txt"):
        (etc / rel).parent.mkdir(parents=True, exist_ok=True)
        (etc / rel).write_text("x\n")
    found = check_runnable(read_config(cfg_file), available=["CPUExecutionProvider"])
    assert found.errors == []
    assert [(w.path, w.line) for w in found.warnings] == [("pipelines.door.model.providers[0]", 4)]
    assert "CUDAExecutionProvider is not installed here" in found.warnings[0].message
    assert "CPUExecutionProvider" in found.warnings[0].message
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is installed here: nothing to warn about")
    assert main(["config", "validate", str(cfg_file)]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err
    assert "pipelines.door.model.providers[0] (line 4): execution provider CUDAExecutionProvider" in err
    assert main(["config", "validate", "--json", str(cfg_file)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert [(w["path"], w["line"]) for w in out["warnings"]] == [("pipelines.door.model.providers[0]", 4)]


def test_run_refuses_before_starting_with_key_and_line(tmp_path: Path) -> None:
    cfg_file = _write(tmp_path, "device: {state_dir: state}\n" + PIPE)
    code = "import sys; from edge_agent.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "-c", str(cfg_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "pipelines.door.model.path (line 5):" in proc.stderr
    assert not (tmp_path / "state").exists(), "nothing started: no outbox was created"


def test_relative_labels_file_is_read_from_the_config_folder(tmp_path: Path, orinet_path: Path) -> None:
    """Issue 13: labels.txt beside the config, the model in another folder; a real session decodes with it."""
    from edge_agent.pipeline.runner import Pipeline

    etc, models = tmp_path / "etc", tmp_path / "models"
    models.mkdir()
    shutil.copy(orinet_path, models / "orinet.onnx")
    labels = ["up", "right", "down", "left"]
    cfg_file = _write(
        etc,
        "pipelines:\n  door:\n    source: {kind: video, path: clip.mp4}\n"
        f"    model: {{path: {models / 'orinet.onnx'}}}\n"
        "    preprocess: {resize: letterbox, pad_value: 255}\n"
        "    postprocess: {kind: classification, labels_file: labels.txt, top_k: 4}\n",
    )
    (etc / "labels.txt").write_text("\n".join(labels) + "\n")
    (etc / "clip.mp4").write_bytes(b"x")
    loaded = read_config(cfg_file)
    assert check_runnable(loaded).errors == []
    runner = Pipeline("door", loaded.config.pipelines["door"], lambda *_a, **_k: None)
    runner.load()
    assert runner.post is not None
    out = runner.post([np.array([[0.1, 0.2, 0.6, 0.1]], dtype=np.float32)], None)
    assert [t["label"] for t in out["top"]][:1] == ["down"]
    assert sorted(t["label"] for t in out["top"]) == sorted(labels)


def test_doctor_names_a_missing_labels_file_with_key_and_line(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    model = etc / "m.onnx"
    cfg_file = _write(
        etc,
        "device: {id: pi-1}\nmqtt: {host: 127.0.0.1, port: 1}\npipelines:\n  door:\n"
        "    source: {kind: camera, path: '0'}\n"
        "    model: {path: m.onnx}\n"
        "    postprocess: {kind: classification, labels_file: labels.txt}\n",
    )
    model.write_bytes(b"x")
    report = diagnose(
        fake_trees.pi5(tmp_path / "root"), cfg_file, providers=["CPUExecutionProvider"], timeout=0.2
    )
    files = [f for f in report.findings if f.topic == "files"]
    assert [f.level for f in files] == ["error"]
    assert files[0].message.startswith(
        f"pipelines.door.postprocess.labels_file (line 7): {etc / 'labels.txt'}"
    )
    assert report.blocked
    (etc / "labels.txt").write_text("a\n")
    report = diagnose(
        fake_trees.pi5(tmp_path / "root"), cfg_file, providers=["CPUExecutionProvider"], timeout=0.2
    )
    assert not [f for f in report.findings if f.topic in ("files", "model")]


def test_tls_bare_name_from_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare TLS file name given by LoadCredential= is the credential; otherwise the config's folder's."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "dev.key").write_text("k")
    cfg_file = _write(tmp_path / "etc", PIPE + "mqtt:\n  tls: {cert_file: dev.pem, key_file: dev.key}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    tls = read_config(cfg_file).config.mqtt.tls
    assert tls is not None
    assert (tls.key_file, tls.cert_file) == (creds / "dev.key", tmp_path / "etc" / "dev.pem")


# Hardware profiles and zones files go through the same reader.
PROFILE = "name: p\ndescription: x\narch: any\nproviders: [{name: CPUExecutionProvider}]\n"
SHARED_READER = [
    (
        "laughs",
        PROFILE
        + "notes: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"n{i}: &n{i} [" + ", ".join([f"*{'a' if i == 0 else f'n{i - 1}'}"] * 10) + "]\n"
            for i in range(6)
        ),
        "more than",
    ),
    ("python-tag", PROFILE + "notes: !!python/object/apply:os.system [id]\n", "!!python/object/apply"),
    ("deep", PROFILE + "notes: " + "[" * 10_000 + "\n", "deeper than"),
    ("nul", PROFILE.replace("description: x", "description: \x00"), "U+0000"),
    ("unhashable", PROFILE + "? [a]\n: b\n", "plain name"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in SHARED_READER], ids=[c[0] for c in SHARED_READER])
def test_profiles_and_zones_share_the_reader(tmp_path: Path, text: str, words: str) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(f)
    (issue,) = info.value.issues
    assert words in issue.message, str(issue)
    assert issue.line is not None, str(issue)
    zones = tmp_path / "zones.yaml"
    zones.write_text(text.replace("name: p\n", "zones: {}\n", 1), encoding="utf-8")
    with pytest.raises(FleetError) as z:
        load_zones(zones)
    msg = str(z.value)
    assert words in msg, msg
    assert "line " in msg, msg
    assert "\n" not in msg, msg
