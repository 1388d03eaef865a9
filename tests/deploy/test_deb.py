"""The .deb: built for real by deploy/build-deb.sh (a venv with the device dependencies from pip's local
cache), unpacked into a throwaway root with `dpkg -x`, and run from there; lintian must pass.

Choice for speed: the full package is built (about 25 s, gzip level 1 instead of the default level 6);
running the unpacked entry point with the unpacked venv's interpreter avoids installing anything on the
machine while still executing the files the package ships.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from email.parser import Parser
from pathlib import Path

import pytest

from edge_agent import __version__
from tests.deploy.test_names import DIST
from tests.doctor import fake_trees

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed (Debian/Ubuntu only)"
    ),
    pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs the system /usr/bin/python3"),
]


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    env = {**os.environ, "EDGE_AGENT_DEB_LEVEL": "1"}
    run = subprocess.run(
        [str(REPO / "deploy/build-deb.sh"), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    path = Path(run.stdout.strip().splitlines()[-1])
    assert path.is_file()
    assert path.name.startswith(f"{DIST}_{__version__}_"), path.name
    return path


@pytest.fixture(scope="module")
def installed(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_control_fields(deb: Path) -> None:
    assert _field(deb, "Package") == DIST  # the distribution's name, read from pyproject.toml
    assert _field(deb, "Version") == __version__
    # Earlier builds were called edge-agent and ship the same files: installing this one replaces them.
    assert _field(deb, "Conflicts") == "edge-agent"
    assert _field(deb, "Replaces") == "edge-agent"
    depends = _field(deb, "Depends")
    assert "python3 (>= 3." in depends
    assert "adduser" in depends


def test_conffile_and_scripts(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "ctl")], check=True)
    ctl = tmp_path / "ctl"
    assert (ctl / "conffiles").read_text().split() == ["/etc/edge-agent/config.example.yaml"]
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(ctl / script, os.X_OK)
        subprocess.run(["sh", "-n", str(ctl / script)], check=True)
    postinst = (ctl / "postinst").read_text()
    assert "adduser --system" in postinst
    assert "deb-systemd-helper enable 'edge-agent.service'" in postinst
    postrm = (ctl / "postrm").read_text()
    assert 'if [ "$1" = purge ]' in postrm
    assert "rm -rf /var/lib/edge-agent" in postrm.split('if [ "$1" = purge ]')[1], "only purge deletes data"


def test_layout(installed: Path) -> None:
    for rel in (
        "lib/systemd/system/edge-agent.service",
        "lib/systemd/system/edge-agent@.service",
        "etc/edge-agent/config.example.yaml",
        "opt/edge-agent/share/systemd/jit.conf",
        f"usr/share/doc/{DIST}/copyright",
        f"usr/share/doc/{DIST}/changelog.gz",
        f"usr/share/lintian/overrides/{DIST}",
    ):
        assert (installed / rel).is_file(), rel
    overrides = (installed / f"usr/share/lintian/overrides/{DIST}").read_text()
    tags = [line for line in overrides.splitlines() if line and not line.startswith("#")]
    assert tags
    assert all(line.startswith(f"{DIST}: ") for line in tags), "overrides name the package"
    # The agent inside the venv is this project's distribution, not the index's `edge-agent`.
    site = next((installed / "opt/edge-agent/lib").glob("python3*/site-packages"))
    metadata = site.glob("*.dist-info/METADATA")
    names = {Parser().parsestr(m.read_text(), headersonly=True)["Name"] for m in metadata}
    assert DIST in names
    assert "edge-agent" not in names
    unit = (installed / "lib/systemd/system/edge-agent.service").read_text()
    assert unit == (REPO / "systemd/edge-agent.service").read_text()
    # The venv was built in a staging directory; nothing may still point there.
    bin_dir = installed / "opt/edge-agent/bin"
    assert (bin_dir / "edge-agent").read_text().splitlines()[0] == "#!/opt/edge-agent/bin/python"
    cfg = (installed / "opt/edge-agent/pyvenv.cfg").read_text()
    assert "/tmp" not in cfg
    assert os.readlink(bin_dir / "python").startswith(("/usr/bin/python3", "python3"))
    assert not list((installed / "opt/edge-agent").rglob("__pycache__")), (
        "postinst compiles, the package does not"
    )


def _agent(installed: Path, *args: str) -> subprocess.CompletedProcess[str]:
    venv = installed / "opt/edge-agent"
    return subprocess.run(
        [str(venv / "bin/python"), str(venv / "bin/edge-agent"), *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_installed_entry_point_runs(installed: Path) -> None:
    run = _agent(installed, "--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"edge-agent {__version__}"


def test_installed_doctor_reads_packaged_profiles(installed: Path, tmp_path: Path) -> None:
    """The hardware profiles travel inside the wheel; doctor in the unpacked venv finds them."""
    run = _agent(installed, "doctor", "--json", "--root", str(fake_trees.pi5(tmp_path)))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["profile"] == "rpi5"


@pytest.mark.skipif(shutil.which("lintian") is None, reason="lintian not installed (apt-get install lintian)")
def test_lintian_clean(deb: Path) -> None:
    """No error or warning; what the venv's upstream wheels trip is overridden with reasons."""
    run = subprocess.run(
        ["lintian", "--fail-on", "error,warning", str(deb)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
