"""`edge-agent demo --log-triage` (what `scripts/demo --log-triage` runs) as a newcomer runs it: a real
subprocess, a real broker (Mosquitto when installed, else the embedded one), the real SmolLM2 bundle
(tests/text/slm_bundle.py). Every sample line must come back as a result over MQTT, the summary's
byte figures must be the sums of what went in and what arrived, and the temporary folder must be gone.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from edge_agent.bundle.manifest import PromptSpec
from edge_agent.demo.logtriage import prompt_spec_file, read_log, sample_log
from tests.e2e.test_demo import _env, _left, _wait_for_line
from tests.text.slm_bundle import TRIAGE, TRIAGE_SCHEMA, slm_bundle

pytestmark = pytest.mark.slow
# What the subscriber prints under each line: label, probability, then the compact result's figures.
RESULT = r"  out (ok|warning|fault) +p=(\d\.\d\d)  \((\d+) tokens in, 0 out, (\d+) ms, (\d+) B published\)"


@pytest.fixture(scope="module")
def bundle() -> Path:
    return slm_bundle()  # skips with the reason without .venv-slm


def _cmd(bundle: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "edge_agent.cli.main", "demo", "--log-triage", "--bundle", str(bundle),
            "--rate", "0", "--threads", "1", *args]  # fmt: skip


def test_every_sample_line_gets_its_result_and_the_bytes_add_up(bundle: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    run = subprocess.run(
        _cmd(bundle), env=_env(tmp), capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = read_log(sample_log())
    assert len(lines) >= 20  # the shipped sample is a realistic slice, not a token
    out = run.stdout.splitlines()
    published = 0
    for n, text in lines.items():
        i = out.index(next(ln for ln in out if ln.startswith(f"in  device.log:{n}: ")))
        assert text[:90] in out[i]  # the line going in, as the file holds it
        got = re.fullmatch(RESULT, out[i + 1])
        assert got, out[i + 1]
        assert 0.0 < float(got[2]) <= 1.0
        assert int(got[3]) > 0
        published += int(got[5])
    assert f"{len(lines)}/{len(lines)} lines triaged over MQTT" in run.stdout
    raw = sum(len(t.encode()) for t in lines.values())
    assert f"raw text: {raw} bytes (never published); published: {published} bytes of results" in run.stdout
    assert re.search(r"^mean \d+ ms per line on the device$", run.stdout, re.M), run.stdout
    assert _left(tmp) == set()


def test_extract_publishes_schema_valid_objects(bundle: Path, tmp_path: Path) -> None:
    log = tmp_path / "short.log"
    log.write_text(
        "kernel: Under-voltage detected! (0x00050005)\n\n"  # the blank line is not an input
        "EXT4-fs error (device mmcblk0p2): ext4_lookup:1785: deleted inode referenced: 131211\n"
    )
    tmp = tmp_path / "tmp"
    run = subprocess.run(
        _cmd(bundle, "--extract", "--json", "--log", str(log)),
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    payloads = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
    results = [json.loads(p) for p in payloads]
    assert sorted(r["output"]["input_id"] for r in results) == ["short.log:1", "short.log:3"]
    for r in results:
        out = r["output"]
        assert out["task"] == "extract"
        assert "input" not in out  # the raw line stays on the device
        if out["outcome"] == "ok":
            jsonschema.validate(out["object"], TRIAGE_SCHEMA)
        else:
            assert out["outcome"] == "invalid"
            assert "object" not in out
    assert any(r["output"]["outcome"] == "ok" for r in results)
    raw = len(log.read_text().replace("\n", "").encode())
    sent = sum(len(p.encode()) for p in payloads)  # --json prints each payload as it arrived
    assert f"raw text: {raw} bytes (never published); published: {sent} bytes of results" in run.stdout


def test_ctrl_c_while_running_prints_the_summary_and_cleans_up(bundle: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    proc = subprocess.Popen(
        _cmd(bundle, "--loop"), env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_line(proc, r"^  out ")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert re.search(r"^\d+/\d+ lines triaged over MQTT", out, re.M), out
    assert _left(tmp) == set()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--log-triage"], 2, "--log-triage needs --bundle DIR"),
        (["--extract"], 2, "--bundle, --extract and --log go with --log-triage"),
        (["--log-triage", "--bundle", "BUNDLE", "--rate", "-1"], 2, "--rate: expected lines per second >= 0"),
        (["--log-triage", "--bundle", "MISSING"], 1, "--bundle MISSING"),
    ],
)
def test_bad_usage_is_one_line(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "nothing-here")
    argv = [a.replace("MISSING", missing).replace("BUNDLE", str(tmp_path)) for a in args]
    tmp = tmp_path / "tmp"
    run = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli.main", "demo", *argv],
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == code, run.stdout + run.stderr
    assert message.replace("MISSING", missing) in run.stderr
    assert "Traceback" not in run.stderr
    assert _left(tmp) == set()


def test_a_bundle_without_a_prompt_is_refused_before_the_agent_starts(tmp_path: Path) -> None:
    plain = slm_bundle(None, name="smollm2-plain")
    tmp = tmp_path / "tmp"
    run = subprocess.run(_cmd(plain), env=_env(tmp), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "expected an SLM bundle with a PromptSpec" in run.stderr
    assert "--prompt-spec" in run.stderr
    assert _left(tmp) == set()


def test_the_zero_shot_prompt_is_the_log_triage_contract() -> None:
    """scripts/demo builds the zero-shot bundle with this file: it must be the shared PromptSpec."""
    shipped = PromptSpec.model_validate_json(prompt_spec_file().read_text(encoding="utf-8"))
    assert shipped == TRIAGE
    assert shipped.labels == ["ok", "warning", "fault"]
