"""One distribution name everywhere a newcomer or a package manager meets it.

`edge-agent` on the public package index is an unrelated project that also ships a top-level `edge_agent`
module, so this project's distribution (and its .deb) has a name of its own, read here from
pyproject.toml; the import packages, the commands, the units, the user and the paths keep `edge-agent`
(docs/deploy.md, "Names"). The .deb built for real is checked in test_deb.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DIST: str = PYPROJECT["project"]["name"]
TAKEN = "edge-agent"  # the index's name for someone else's project


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read(rel: str) -> str:
    return (REPO / rel).read_text(encoding="utf-8")


def test_the_distribution_is_not_the_taken_name() -> None:
    assert _normal(DIST) != TAKEN
    assert _normal(DIST) == DIST, "write the name in its normal form, as pip prints it"


def test_imports_and_commands_keep_their_names() -> None:
    assert PYPROJECT["project"]["scripts"] == {
        "edge-agent": "edge_agent.cli.main:main",
        "edge-export": "exporters.cli:main",
    }
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["edge_agent", "exporters"]


def test_the_deb_takes_its_name_from_pyproject() -> None:
    build = _read("deploy/build-deb.sh")
    assert 'name="$(sed -n \'s/^name = "\\(.*\\)"$/\\1/p\' "$root/pyproject.toml" | head -n1)"' in build
    assert 'deb="$out/${name}_${version}_${arch}.deb"' in build
    assert 'doc="$pkg/usr/share/doc/$name"' in build
    for rel in ("deploy/debian/control", "deploy/debian/changelog"):
        assert re.match(r"^(Package: )?@PACKAGE@\s", _read(rel)), rel
    tags = [ln for ln in _read("deploy/debian/lintian-overrides").splitlines() if ln and ln[0] != "#"]
    assert tags
    assert all(ln.startswith("@PACKAGE@: ") for ln in tags)
    # make-venv.sh installs the one wheel it built, whatever the distribution is called.
    assert "edge_agent-*.whl" not in _read("deploy/make-venv.sh")


def test_docs_install_lines_name_the_distribution() -> None:
    readme = _read("README.md")
    # From a clone (not published yet) and, once published, by its own name.
    assert re.search(r"^pip install \. ", readme, re.M), "the quickstart installs from the clone"
    assert "pip install '.[export]'" in readme
    assert f"pip install {DIST}" in readme
    assert f"{DIST}_<version>_<arch>.deb" in readme
    deploy = _read("docs/deploy.md")
    assert f"sudo apt-get install ./build/{DIST}_" in deploy
    assert f"build/{DIST}_<version>_<arch>.deb" in deploy
    assert f"/boot/firmware/{DIST}.deb" in _read("deploy/cloud-init/user-data.yaml")


def test_nothing_tells_anyone_to_install_the_taken_name() -> None:
    """`pip install edge-agent`, `edge-agent[extra]`, `edge-agent_<v>.deb`: each gets someone else's code;
    `importlib.metadata.version("edge-agent")` would read someone else's (or a stale) distribution."""
    bad = re.compile(
        rf"pip install +['\"]?{TAKEN}(?![-\w])|['\"]{TAKEN}\[|(?<![-\w]){TAKEN}_[<\d]|/doc/{TAKEN}\b"
        rf"|(?:version|distribution|metadata|files|requires)\(\s*['\"]{TAKEN}['\"]"
    )
    roots = ["README.md", "docs", "deploy", "edge_agent", "exporters", "scripts", "systemd", "hardware"]
    found = []
    for root in roots:
        path = REPO / root
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            if f.suffix in {".onnx", ".pyc", ".gz", ".tgz", ".whl", ".deb"}:
                continue
            try:
                text = f.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            found += [f"{f.relative_to(REPO)}: {m.group(0)}" for m in bad.finditer(text)]
    assert not found, found
