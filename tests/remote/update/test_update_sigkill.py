"""SIGKILL during the swap: a child process installs and activates bundles in a loop; we kill it at
random instants. After each kill (and recover()), `current` is a complete bundle that verifies -- old or
new, never neither -- and nothing half-copied is left behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bundle_factory import make_bundle
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.bundle.verify import verify_bundle
from edge_agent.remote.update import Slots

CHILD = """
import shutil, sys
from pathlib import Path
from edge_agent.remote.update.slots import Slots
state, a, b = map(Path, sys.argv[1:4])
slots = Slots(state, "cam")
i = 0
while True:
    src = (a, b)[i % 2]
    # a fresh copy each round, so staging (copy + fsync + rename) is also exercised under the kill
    tmp = state / f"src{i % 3}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    slots.activate(slots.stage(tmp, f"tiny@{i}"))
    slots.prune(keep=3)
    print(i, flush=True)
    i += 1
"""


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_old_or_new(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    a = make_bundle(tmp_path / "a", key, version="1.0", bias=1.0)
    b = make_bundle(tmp_path / "b", key, version="2.0", bias=2.0)
    state = tmp_path / "state"
    state.mkdir()
    slots = Slots(state, "cam")
    slots.activate(slots.stage(a, "tiny@seed"))
    rng = random.Random(6)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    kills = 0
    seen_versions = set()
    for _ in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(state), str(a), str(b)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the loop is running
        time.sleep(rng.random() * 0.1)  # then a random instant inside it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in err, err
        kills += bool(first.strip())
        current = Slots(state, "cam").recover()
        assert current is not None, "current names nothing after a kill"
        bundle = verify_bundle(current, [key.public_key()])  # complete and untampered
        seen_versions.add(bundle.manifest.version)
        assert not list((state / "bundles/cam").glob(".staging-*"))
    assert kills >= 20  # the child was killed mid-loop, not before it started
    assert seen_versions == {"1.0", "2.0"}
