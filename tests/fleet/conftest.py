"""Fleet fixtures: a throwaway PostgreSQL cluster (Debian's server binaries) on 127.0.0.1 and a free port."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.demo.broker import free_port


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """initdb + pg_ctl in a temp dir, run as the `postgres` user when we are root (initdb refuses root)."""
    pytest.importorskip("psycopg", reason="psycopg is in the `fleet` extra")
    bindir = _pg_bin()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL server binaries missing (apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
    work = Path(tempfile.mkdtemp(prefix="edge-pg-"))
    data = work / "data"
    if as_user:
        shutil.chown(work, "postgres", "postgres")
    port = free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-U", "edge", "--auth=trust", "-E", "UTF8")
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {work}"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(work / "log"), "-w", "start")
    try:
        yield f"postgresql://edge@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
